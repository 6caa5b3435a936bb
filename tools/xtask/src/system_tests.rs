//! System tests: whole boots under QEMU, judged by the guest's verdict (isa-debug-exit)
//! and by markers in the serial log. Every expected marker lives in this file.
//!
//! A test boots either the kernel alone (`deployment: None`, no modules) or a
//! deployment (`boot/deployments/NAME.toml`): its boot plan and component
//! images as Multiboot modules.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::cargo_build::{self, Profile};
use crate::components;
use crate::deployment::{self, Deployment};
use crate::guests::{self, GuestCrate};
use crate::host_tools::{self, Needs};
use crate::image;
use crate::qemu;
use crate::qemu::accel::{self, Choice};
use crate::qemu::command::{Boot, QemuConfig};
use crate::qemu::process::{self, Echo, TIME_LIMIT};
use crate::qemu::status::{Outcome, Verdict};
use crate::serial_log;
use crate::tally::Tally;
use crate::workspace::Workspace;

/// How a system test boots the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootMethod {
    /// QEMU's Multiboot1 loader (`-kernel`).
    Kernel,
    /// GRUB from the deployment's ISO (Multiboot2).
    Grub,
}

/// One system test, as data.
#[derive(Debug)]
pub struct SystemTest {
    pub name: &'static str,
    /// The deployment to boot (`boot/deployments/NAME.toml`); `None` boots
    /// the kernel alone, with no modules.
    pub deployment: Option<&'static str>,
    pub boot: BootMethod,
    /// A TCG CPU model; `None` uses the host's accelerator choice.
    pub cpu: Option<&'static str>,
    pub smp: u32,
    /// Words appended to the deployment's kernel command line (`-kernel` boots only).
    pub extra_cmdline: &'static str,
    pub expect: Verdict,
    /// Substrings the serial log must contain.
    pub markers: &'static [&'static str],
}

const VERDICT_PASS: &str = "tessera: verdict pass";
const VERDICT_FAIL: &str = "tessera: verdict fail";
const SVM_REVISION: &str = "svm: revision ";
const NESTED_PAGING: &str = "nested paging yes";
const MEMORY_MAP: &str = "memory map:";
const USABLE_REGION: &str = "usable";

/// Every system test, run in this order by `cargo xtask test`.
pub const SYSTEM_TESTS: &[SystemTest] = &[
    SystemTest {
        name: "boot-multiboot1",
        deployment: None,
        boot: BootMethod::Kernel,
        cpu: None,
        smp: 4,
        extra_cmdline: "",
        expect: Verdict::Pass,
        markers: &[
            "booting via multiboot1",
            MEMORY_MAP,
            USABLE_REGION,
            SVM_REVISION,
            NESTED_PAGING,
            "smp: 4 of 4 cpus online",
            "svm: enabled on 4 of 4 cpus",
            VERDICT_PASS,
        ],
    },
    SystemTest {
        name: "boot-grub-multiboot2",
        deployment: None,
        boot: BootMethod::Grub,
        cpu: None,
        smp: 2,
        extra_cmdline: "",
        expect: Verdict::Pass,
        markers: &[
            "booting via multiboot2",
            MEMORY_MAP,
            USABLE_REGION,
            SVM_REVISION,
            NESTED_PAGING,
            "smp: 2 of 2 cpus online",
            "svm: enabled on 2 of 2 cpus",
            VERDICT_PASS,
        ],
    },
    SystemTest {
        name: "no-svm",
        deployment: None,
        boot: BootMethod::Kernel,
        cpu: Some("qemu64,-svm"),
        smp: 1,
        extra_cmdline: "",
        expect: Verdict::Fail,
        markers: &["fatal: cpu 0: SVM (AMD-V) is not available"],
    },
    SystemTest {
        name: "no-nested-paging",
        deployment: None,
        boot: BootMethod::Kernel,
        cpu: Some("qemu64,+svm,-npt"),
        smp: 1,
        extra_cmdline: "",
        expect: Verdict::Fail,
        markers: &["fatal: cpu 0: nested paging is not available"],
    },
    // Kernel faults are reported with the registers and end the run with the
    // failure status, never a hang or a silent reset.
    SystemTest {
        name: "fault-invalid-opcode",
        deployment: None,
        boot: BootMethod::Kernel,
        cpu: None,
        smp: 2,
        extra_cmdline: "inject-fault=invalid-opcode",
        expect: Verdict::Fail,
        markers: &[
            "kernel exception: invalid opcode (#UD), vector 6",
            "  rip 0xffffffff8",
            "  rax 0x",
            "  r13 0x",
            "fatal: cpu 0: unhandled invalid opcode (#UD) in the kernel",
            VERDICT_FAIL,
        ],
    },
    SystemTest {
        name: "fault-stack-overflow",
        deployment: None,
        boot: BootMethod::Kernel,
        cpu: None,
        smp: 1,
        extra_cmdline: "inject-fault=stack-overflow",
        expect: Verdict::Fail,
        markers: &[
            "kernel exception: double fault (#DF), vector 8",
            "fatal: cpu 0: unhandled double fault (#DF) in the kernel",
            VERDICT_FAIL,
        ],
    },
    SystemTest {
        name: "fault-panic",
        deployment: None,
        boot: BootMethod::Kernel,
        cpu: None,
        smp: 1,
        extra_cmdline: "inject-fault=panic",
        expect: Verdict::Fail,
        markers: &[
            "[kernel cpu0 ERROR] panic at kernel/src/fault_injection.rs:",
            "panic injected from the command line",
            VERDICT_FAIL,
        ],
    },
    // Components (boot/deployments/echo.toml): 100 echo round trips, then
    // echo-server, which has no console, logs through the one echo-client
    // passed it with a call.
    SystemTest {
        name: "components-echo",
        deployment: Some("echo"),
        boot: BootMethod::Kernel,
        cpu: None,
        smp: 2,
        extra_cmdline: "",
        expect: Verdict::Pass,
        markers: ECHO_MARKERS,
    },
    SystemTest {
        name: "components-echo-grub",
        deployment: Some("echo"),
        boot: BootMethod::Grub,
        cpu: None,
        smp: 2,
        extra_cmdline: "",
        expect: Verdict::Pass,
        markers: ECHO_MARKERS,
    },
    // Misuse of capabilities and system calls fails with the right status
    // (components/cap-probe logs one `ok N - ...` line per check).
    SystemTest {
        name: "cap-errors",
        deployment: Some("cap-errors"),
        boot: BootMethod::Kernel,
        cpu: None,
        smp: 2,
        extra_cmdline: "",
        expect: Verdict::Pass,
        markers: &[
            "boot plan \"cap-errors\": 2 components",
            "[cap-probe cpu",
            "] INFO ok 1 - a call through the granted echo capability succeeds",
            "] INFO ok 2 - a call on an empty slot fails with EmptySlot",
            "] INFO ok 3 - a call on selector 64 fails with InvalidSelector",
            "] INFO ok 4 - a call on the console capability fails with WrongType",
            "] INFO ok 5 - deriving the echo capability without CALL succeeds",
            "] INFO ok 6 - a call through the capability without CALL fails with InsufficientRights",
            "] INFO ok 7 - deleting the derived capability succeeds",
            "] INFO ok 8 - a call on the deleted capability's slot fails with EmptySlot",
            "] INFO ok 9 - deriving the echo capability with RECEIVE, which it lacks, fails with InsufficientRights",
            "] INFO ok 10 - system call 999 fails with InvalidSyscall",
            "] INFO ok 11 - a 41-byte console write fails with InvalidArgument",
            "] INFO ok 12 - a call sending 513 message-buffer words fails with InvalidArgument",
            "] INFO ok 13 - signalling its own notification, then waiting, returns the bits",
            "] INFO ok 14 - a signal through the echo (endpoint) capability fails with WrongType",
            "] INFO ok 15 - deriving a child and a grandchild of the echo capability succeeds",
            "] INFO ok 16 - revoking the child succeeds",
            "] INFO ok 17 - a call through the revoked grandchild fails with EmptySlot",
            "] INFO ok 18 - a call through the child, which revoke keeps, succeeds",
            "] INFO ok 19 - starting its own, running thread again fails with InvalidArgument",
            "] INFO ok 20 - a region it created maps read-only into its own domain",
            "] INFO ok 21 - writing the read-only region through DomainWrite fails with InvalidArgument",
            "] INFO ok 22 - three domain creations into an occupied slot all fail with SlotOccupied",
            "] INFO ok 23 - a domain whose quota cannot hold its capability space fails with QuotaExhausted",
            "] INFO ok 24 - a thread entering the kernel's half fails with InvalidArgument",
            "] INFO ok 25 - a region larger than its quota fails with QuotaExhausted",
            "] INFO cap-probe: all 25 checks ok",
            "deployment verdict from cap-probe",
            VERDICT_PASS,
        ],
    },
    // Misuse of the partition and VP system calls fails with the right
    // status (components/vm-probe, same line format as cap-probe).
    SystemTest {
        name: "vm-errors",
        deployment: Some("vm-errors"),
        boot: BootMethod::Kernel,
        cpu: None,
        smp: 2,
        extra_cmdline: "",
        expect: Verdict::Pass,
        markers: &[
            "boot plan \"vm-errors\": 1 components",
            "[vm-probe cpu",
            "] INFO ok 1 - PartitionCreate into an empty slot succeeds",
            "] INFO ok 2 - PartitionCreate into an occupied slot fails with SlotOccupied",
            "] INFO ok 3 - PartitionMapGpa from an empty slot fails with EmptySlot",
            "] INFO ok 4 - PartitionMapGpa of the console (not memory) fails with WrongType",
            "] INFO ok 5 - four 2-page regions and a READ-only copy of one capability are made",
            "] INFO ok 6 - PartitionMapGpa WRITABLE through the READ-only copy fails with InsufficientRights",
            "] INFO ok 7 - PartitionMapGpa of region A at GPA 0 succeeds",
            "] INFO ok 8 - PartitionMapGpa of region A again at GPA 0x1000 (overlapping) fails with Overlap",
            "] INFO ok 9 - PartitionMapGpa of region B at GPA 0x1000 (overlapping region A) fails with Overlap",
            "] INFO ok 10 - PartitionMapGpa of region B at GPA 0x100000 (not overlapping) succeeds",
            "] INFO ok 11 - PartitionMapGpa at a misaligned GPA (0x300800) fails with InvalidArgument",
            "] INFO ok 12 - PartitionMapGpa at GPA_LIMIT (1 << 40) fails with InvalidArgument",
            "] INFO ok 13 - PartitionMapGpa of 2 pages at GPA_LIMIT - 0x1000 (ending past it) fails with InvalidArgument",
            "] INFO ok 14 - PartitionMapGpa with flags lacking READABLE fails with InvalidArgument",
            "] INFO ok 15 - PartitionUnmapGpa of GPA 0x1000 (inside a mapping, not its start) fails with InvalidArgument",
            "] INFO ok 16 - region C maps at GPA 0x200000, then its capability is deleted",
            "] INFO ok 17 - PartitionMapGpa of region D where region C was succeeds (the delete unmapped C)",
            "] INFO ok 18 - an endpoint for the routes is made",
            "] INFO ok 19 - PartitionInstallIntercept of an unknown kind (0x1234) fails with InvalidArgument",
            "] INFO ok 20 - PartitionInstallIntercept of ports 0x510-0x51f succeeds",
            "] INFO ok 21 - PartitionInstallIntercept of ports 0x51f-0x520 (overlapping) fails with Overlap",
            "] INFO ok 22 - PartitionInstallIntercept to the console (not an endpoint) fails with WrongType",
            "] INFO ok 23 - VpCreate on CPU 64, which does not exist, fails with InvalidArgument",
            "] INFO ok 24 - VpCreate of VP 0 on CPU 1 succeeds",
            "] INFO ok 25 - VpCreate of VP 0 again fails with InvalidArgument",
            "] INFO ok 26 - VpCreate above the caller's priority fails with InvalidArgument",
            "] INFO ok 27 - VpGetRegisters of a fresh VP reads the reset state: RIP 0xfff0, CS base 0xffff0000",
            "] INFO ok 28 - VpSetRegisters with an unknown register name fails with InvalidArgument at index 1",
            "] INFO ok 29 - VpStart without a lifecycle route fails with NoLifecycleRoute",
            "] INFO ok 30 - PartitionInstallIntercept of the lifecycle route succeeds",
            "] INFO ok 31 - VP 1 is made and given CR0 with PG set, PE clear",
            "] INFO ok 32 - VpStart of VP 1 (CR0.PG without CR0.PE) fails with InvalidArgument",
            "] INFO ok 33 - VpAssertInterrupt of external vector 8 (an exception vector) fails with InvalidArgument",
            "] INFO ok 34 - VpAssertInterrupt of an NMI (vector 2) succeeds",
            "] INFO ok 35 - VpStart through the partition capability fails with WrongType",
            "] INFO ok 36 - 40 partitions, each with memory mapped and a VP, are made and destroyed in turn",
            // Issue 9, finding 7: one Hv#1 configuration per partition.
            "] INFO ok 37 - PartitionSetHv1 with the minimal configuration succeeds",
            "] INFO ok 38 - PartitionSetHv1 with the same configuration again succeeds",
            "] INFO ok 39 - PartitionSetHv1 with another configuration before any VP ran fails with AlreadyConfigured",
            // Finding 1: overlays by identity, stacked per GPA.
            "] INFO ok 40 - a guest with a marked RAM page at 0x8000 starts (hypercall page and VP assist page go there)",
            "] INFO ok 41 - with the hypercall page disabled, 0x8000 shows the VP assist page (zeros), not the RAM under it",
            "] INFO ok 42 - after vm-probe unmaps and frees that RAM, 0x8000 still shows the assist page, and the guest's writes miss the new region",
            "] INFO ok 43 - with the assist page gone too, reading 0x8000 ends the VP with an unmapped-GPA exit",
            // Finding 3: replies captured when the kernel accepts them.
            "] INFO ok 44 - two VPs on two CPUs start, each exiting 3000 times to vm-probe",
            "] INFO ok 45 - each of the two VPs found its own RBX after every exit answered with ReplyWait",
            // Finding 5: states checked against the guest's CPUID; no host
            // state comes back.
            "] INFO ok 46 - a guest for the state checks is made",
            "] INFO ok 47 - VpStart of a VP given CR3 with bit ",
            "] INFO ok 48 - VpStart of a VP given CR4.",
            "] INFO ok 49 - VpStart of a VP given CR4.PCIDE outside long mode fails with InvalidArgument",
            "] INFO ok 50 - VpStart of a VP given RFLAGS.VM in long mode fails with InvalidArgument",
            "] INFO ok 51 - a VP stopped at its first exit reads back its own RIP, CR3, GDTR and IDTR",
            // Finding 7: instructions measured, intercepted, reflected.
            "] INFO ok 52 - a guest of prefixed and intercepted instructions starts",
            "] INFO ok 53 - prefixed CPUID, WRMSR and INVD complete, and RDTSCP returns the guest's own TSC_AUX",
            "] INFO ok 54 - a single step raises #DB in the guest's own handler, and RDPMC raises #GP there",
            "] INFO ok 55 - MOV to CR4 keeps OSFXSR, which the guest's CPUID offers, and raises #GP for OSXSAVE, which it hides",
            "] INFO vm-probe: all 55 checks ok",
            "deployment verdict from vm-probe",
            VERDICT_PASS,
        ],
    },
    // Host NMIs land in a component, in guests and in the kernel: the
    // kernel counts them and goes on (issue 9, finding 7).
    SystemTest {
        name: "vm-nmis",
        deployment: Some("vm-nmis"),
        boot: BootMethod::Kernel,
        cpu: None,
        smp: 2,
        extra_cmdline: "",
        expect: Verdict::Pass,
        markers: &[
            "boot plan \"vm-nmis\": 1 components",
            "inject-nmis: every timer tick sends an NMI to the other CPUs",
            "host NMIs handled so far; the kernel goes on",
            "] INFO ok 45 - each of the two VPs found its own RBX after every exit answered with ReplyWait",
            "] INFO vm-probe: all 55 checks ok",
            "deployment verdict from vm-probe",
            VERDICT_PASS,
        ],
    },
    // A component that faults is stopped; its caller gets ServerDied, now
    // and on every later call, and its neighbours go on serving.
    // Memory regions shared across CPUs and taken back by revoke.
    SystemTest {
        name: "shared-memory",
        deployment: Some("shared-memory"),
        boot: BootMethod::Kernel,
        cpu: None,
        smp: 2,
        extra_cmdline: "",
        expect: Verdict::Pass,
        markers: &[
            "boot plan \"shared-memory\": 2 components",
            "component region-reader: started (domain 1, priority 10, cpu 1)",
            "] INFO ok 1 - a region created from the quota is mapped and written",
            "] INFO ok 2 - a writable mapping through the read-only copy is refused",
            "] INFO ok 3 - the reader mapped the shared region and read what was written",
            "component region-reader faulted: page fault (#PF) at 0x200000000000 (",
            "] INFO ok 4 - after revoke the reader's mapping is gone: its read faulted",
            "] INFO ok 5 - the owner's own mapping, made through the revoked capability itself, stays",
            "deployment verdict from region-owner",
            VERDICT_PASS,
        ],
    },
    SystemTest {
        name: "fault-containment",
        deployment: Some("fault-containment"),
        boot: BootMethod::Kernel,
        cpu: None,
        smp: 2,
        extra_cmdline: "",
        expect: Verdict::Pass,
        markers: &[
            "boot plan \"fault-containment\": 6 components",
            "] INFO crasher: called (badge 0); faulting with None (None: a write to 0x10)",
            "component crasher faulted: page fault (#PF) at 0x10 (",
            "KiB of memory returned to the frame pool",
            "[fault-driver cpu",
            "] INFO fault-driver: first call to crasher failed with ServerDied, as expected",
            "] INFO fault-driver: echo-server still answers after the crash",
            "] INFO fault-driver: second call to crasher failed with ServerDied, as expected",
            "component crasher-ud faulted: invalid opcode (#UD) at 0x",
            "component crasher-de faulted: divide error (#DE) at 0x",
            "component crasher-gp faulted: general protection (#GP) at 0x",
            "] INFO fault-driver: call to crasher-gp (general protection) failed with ServerDied, as expected",
            "] INFO fault-driver: echo-server still answers after four faults",
            "] INFO fault-driver: the fault stayed inside crasher",
            "deployment verdict from fault-driver",
            VERDICT_PASS,
        ],
    },
    // The partition demo that `cargo xtask run` boots
    // (boot/deployments/default.toml): the guest `hello` greets through the
    // devices component, which tags its lines with the partition's name,
    // and passes.
    SystemTest {
        name: "demo",
        deployment: Some("default"),
        boot: BootMethod::Kernel,
        cpu: None,
        smp: 2,
        extra_cmdline: "",
        expect: Verdict::Pass,
        markers: DEMO_MARKERS,
    },
    // Partitions (boot/deployments/vm-*.toml). partition-manager gives the
    // verdict: pass only if every partition ended as its manifest's
    // `expect` says. The markers are in VM_*_MARKERS below.
    SystemTest {
        name: "vm-exits",
        deployment: Some("vm-exits"),
        boot: BootMethod::Kernel,
        cpu: None,
        smp: 2,
        extra_cmdline: "",
        expect: Verdict::Pass,
        markers: VM_EXITS_MARKERS,
    },
    SystemTest {
        name: "vm-faults",
        deployment: Some("vm-faults"),
        boot: BootMethod::Kernel,
        cpu: None,
        smp: 4,
        extra_cmdline: "",
        expect: Verdict::Pass,
        markers: VM_FAULTS_MARKERS,
    },
    SystemTest {
        name: "vm-isolation",
        deployment: Some("vm-isolation"),
        boot: BootMethod::Kernel,
        cpu: None,
        smp: 2,
        extra_cmdline: "",
        expect: Verdict::Pass,
        markers: VM_ISOLATION_MARKERS,
    },
    SystemTest {
        name: "vm-multiboot",
        deployment: Some("vm-multiboot"),
        boot: BootMethod::Kernel,
        cpu: None,
        smp: 2,
        extra_cmdline: "",
        expect: Verdict::Pass,
        markers: VM_MULTIBOOT_MARKERS,
    },
    // The Hv#1 interface (boot/deployments/vm-hv-*.toml): the manifest's
    // `hv` list reaches the kernel through the boot plan, the manager data
    // and PartitionSetHv1. hv-conformance checks, under three
    // configurations, that what CPUID advertises works and the rest is
    // absent; crash-guest reports a crash through the crash MSRs. Markers
    // in VM_HV_*_MARKERS below.
    SystemTest {
        name: "vm-hv-full",
        deployment: Some("vm-hv-full"),
        boot: BootMethod::Kernel,
        cpu: None,
        smp: 2,
        extra_cmdline: "",
        expect: Verdict::Pass,
        markers: VM_HV_FULL_MARKERS,
    },
    SystemTest {
        name: "vm-hv-minimum",
        deployment: Some("vm-hv-minimum"),
        boot: BootMethod::Kernel,
        cpu: None,
        smp: 2,
        extra_cmdline: "",
        expect: Verdict::Pass,
        markers: VM_HV_MINIMUM_MARKERS,
    },
    SystemTest {
        name: "vm-hv-none",
        deployment: Some("vm-hv-none"),
        boot: BootMethod::Kernel,
        cpu: None,
        smp: 2,
        extra_cmdline: "",
        expect: Verdict::Pass,
        markers: VM_HV_NONE_MARKERS,
    },
    SystemTest {
        name: "vm-hv-crash",
        deployment: Some("vm-hv-crash"),
        boot: BootMethod::Kernel,
        cpu: None,
        smp: 2,
        extra_cmdline: "",
        expect: Verdict::Pass,
        markers: VM_HV_CRASH_MARKERS,
    },
    SystemTest {
        name: "vm-hv-reset",
        deployment: Some("vm-hv-reset"),
        boot: BootMethod::Kernel,
        cpu: None,
        smp: 2,
        extra_cmdline: "",
        expect: Verdict::Pass,
        markers: VM_HV_RESET_MARKERS,
    },
    // A hypercall route: code 0x0008 goes to probe-device instead of the
    // kernel's own handler, whatever the input value; other codes stay
    // the kernel's.
    SystemTest {
        name: "vm-hv-routes",
        deployment: Some("vm-hv-routes"),
        boot: BootMethod::Kernel,
        cpu: None,
        smp: 2,
        extra_cmdline: "",
        expect: Verdict::Pass,
        markers: VM_HV_ROUTES_MARKERS,
    },
    // The bench deployment of guest exits, without -icount: the figures are
    // printed (cargo xtask bench reads them), and the guest passes.
    SystemTest {
        name: "vm-bench",
        deployment: Some("vm-bench"),
        boot: BootMethod::Kernel,
        cpu: None,
        smp: 1,
        extra_cmdline: "",
        expect: Verdict::Pass,
        markers: VM_BENCH_MARKERS,
    },
];

// What the partition tests look for besides the verdict pass. The lines of
// init (`init: NAME: manager data for N partitions`) are this repository's
// own; the kernel's and partition-manager's wording (`partition NAME: ...`,
// `triple fault`, `unmapped`) is theirs: adjust these substrings if it
// changes. A component's lines read `[NAME cpuN] LEVEL TEXT`.

/// Init handed the manager its data; the manager gave the verdict.
const VM_MANAGER: &str = "deployment verdict from partition-manager";
/// partition-manager's line when a partition ended as its manifest expects
/// (`partition NAME: OUTCOME (expected EXPECT): ok`).
const VM_ENDED_AS_EXPECTED: &str = "): ok";

/// The demo: the guest's lines, tagged by devices with the partition's
/// name, and the manager's judgement.
const DEMO_MARKERS: &[&str] = &[
    "boot plan \"default\": 2 components",
    "] INFO init: partition-manager: manager data for 1 partitions",
    "[devices cpu",
    "] INFO demo: Hello from a Tessera partition!",
    "] INFO demo: Goodbye.",
    "partition demo: ",
    "partition demo: passed (expected pass): ok",
    VM_MANAGER,
    VERDICT_PASS,
];

/// Besides the manager's pass (which needs the guest's own pass, so every
/// check), the MMIO checks and the HLT check after them by name, so a
/// renumbering or a dropped check shows.
const VM_EXITS_MARKERS: &[&str] = &[
    "boot plan \"vm-exits\": 3 components",
    "] INFO init: partition-manager: manager data for 1 partitions",
    "partition exits: ",
    "] INFO exits: ok 28 - map the probe's MMIO page 0xFED00000 (uncached) in the guest's own page tables",
    "] INFO exits: ok 29 - a 32-bit MMIO write to the probe's scratch register reads back, zero-extended into RAX",
    "] INFO exits: ok 30 - an 8-bit MMIO read merges into AL and keeps RAX bits 63:8",
    "] INFO exits: ok 31 - a 64-bit MMIO read of the probe's ID register is the partition number of port 0x514",
    "] INFO exits: ok 32 - without Hv#1 the hypervisor leaves 0x40000000-1 read zero",
    "] INFO exits: ok 33 - without Hv#1 the synthetic MSRs raise #GP",
    "] INFO exits: ok 34 - without Hv#1 VMMCALL raises #UD",
    "] INFO exits: ok 35 - HLT returns and the probe's HALTS counter goes up by one",
    "] INFO exits: # tessera-guest: 35 passed, 0 failed",
    VM_ENDED_AS_EXPECTED,
    VM_MANAGER,
    VERDICT_PASS,
];

/// The faults: the log must name both faults (the kernel or the manager
/// reports each) and each partition, besides the manager's pass, which
/// says each fault stayed in its partition and msr-writer passed.
const VM_FAULTS_MARKERS: &[&str] = &[
    "boot plan \"vm-faults\": 2 components",
    "] INFO init: partition-manager: manager data for 3 partitions",
    "triple fault",
    "unmapped",
    "partition memory-probe: ",
    "partition triple-fault: ",
    "partition msr-writer: ",
    VM_ENDED_AS_EXPECTED,
    VM_MANAGER,
    VERDICT_PASS,
];

const VM_ISOLATION_MARKERS: &[&str] = &[
    "boot plan \"vm-isolation\": 3 components",
    "] INFO init: partition-manager: manager data for 2 partitions",
    "partition isolation-a: ",
    "partition isolation-b: ",
    VM_ENDED_AS_EXPECTED,
    VM_MANAGER,
    VERDICT_PASS,
];

/// The Multiboot guest with its boot module (test-guests/multiboot): the
/// manager passes the module, and the guest's module checks pass.
const VM_MULTIBOOT_MARKERS: &[&str] = &[
    "boot plan \"vm-multiboot\": 2 components",
    "] INFO init: partition-manager: manager data for 1 partitions",
    "partition multiboot: ",
    "] INFO partition multiboot: 1 modules",
    "] INFO partition multiboot: module 0 at 0x",
    "] INFO multiboot: ok 6 - the command line is \"multiboot-guest check=cmdline\"",
    "] INFO multiboot: ok 7 - the MBI flags give boot modules (bit 3)",
    "] INFO multiboot: ok 8 - mods_count is 1",
    "] INFO multiboot: ok 9 - module 0 starts on a page boundary",
    "] INFO multiboot: ok 10 - module 0 holds the bytes of module.txt",
    "] INFO multiboot: ok 11 - module 0's string is \"module-one arg\"",
    "] INFO multiboot: # tessera-guest: 11 passed, 0 failed",
    VM_ENDED_AS_EXPECTED,
    VM_MANAGER,
    VERDICT_PASS,
];

const VM_BENCH_MARKERS: &[&str] = &[
    "boot plan \"vm-bench\": 3 components",
    "] INFO init: partition-manager: manager data for 1 partitions",
    "partition bench: Hv#1 interface (3 features)",
    "bench: cpuid-kernel ",
    "bench: cpuid-forwarded ",
    "bench: exit-bare ",
    "bench: hypercall-fast ",
    "bench: hypercall-memory ",
    VM_MANAGER,
    VERDICT_PASS,
];

/// A guest report's summary without failures (`# tessera-guest: P passed,
/// 0 failed`; the count of checks differs between configurations). The
/// line `PARTITION: # tessera-guest: ` is a marker of its own.
const NO_FAILED_CHECK: &str = " passed, 0 failed";

/// hv-conformance with every feature: the manager gave the partition the
/// Hv#1 interface (11 CPUID feature bits: 5 privileges, 3 feature bits, 3
/// recommendations), the kernel took it, the guest saw each feature
/// advertised and passed every check.
const VM_HV_FULL_MARKERS: &[&str] = &[
    "boot plan \"vm-hv-full\": 2 components",
    "partition hv-full: ",
    "] INFO init: partition-manager: manager data for 1 partitions",
    "partition hv-full: Hv#1 interface (11 features)",
    "partition hv-full: Hv#1 interface on",
    "] INFO hv-full: # config: advertised: VpRuntime RefCounter ResetMsr CrashMsrs XmmInput FlushCalls ExMasks RelaxedTiming",
    "] INFO hv-full: # tessera-guest: ",
    NO_FAILED_CHECK,
    "partition hv-full: passed (expected pass): ok",
    VM_MANAGER,
    VERDICT_PASS,
];

/// `hv = []`: the two required privileges, nothing advertised beyond.
const VM_HV_MINIMUM_MARKERS: &[&str] = &[
    "boot plan \"vm-hv-minimum\": 2 components",
    "] INFO init: partition-manager: manager data for 1 partitions",
    "partition hv-minimum: ",
    "partition hv-minimum: Hv#1 interface (2 features)",
    "partition hv-minimum: Hv#1 interface on",
    "] INFO hv-minimum: # config: advertised: (none)",
    "spin retries 0xffffffff",
    "] INFO hv-minimum: # tessera-guest: ",
    NO_FAILED_CHECK,
    "partition hv-minimum: passed (expected pass): ok",
    VM_MANAGER,
    VERDICT_PASS,
];

/// No optional feature, but relaxed timing and a spinlock count.
const VM_HV_NONE_MARKERS: &[&str] = &[
    "boot plan \"vm-hv-none\": 2 components",
    "] INFO init: partition-manager: manager data for 1 partitions",
    "partition hv-none: ",
    "partition hv-none: Hv#1 interface (3 features)",
    "partition hv-none: Hv#1 interface on",
    "] INFO hv-none: # config: advertised: RelaxedTiming",
    "spin retries 0xfff,",
    "] INFO hv-none: # tessera-guest: ",
    NO_FAILED_CHECK,
    "partition hv-none: passed (expected pass): ok",
    VM_MANAGER,
    VERDICT_PASS,
];

/// The kernel logs the crash parameters and the guest's message; the
/// manager logs the crash and judges it what the manifest expects.
const VM_HV_CRASH_MARKERS: &[&str] = &[
    "boot plan \"vm-hv-crash\": 2 components",
    "] INFO init: partition-manager: manager data for 1 partitions",
    "partition crash: ",
    "partition crash: Hv#1 interface (3 features)",
    "] INFO crash: ok 2 - HV_X64_MSR_CRASH_P0-P4 take the parameters",
    "guest crash: P0 0xc0ffee00deadbeef P1 0x1 P2 0x2 P3 0x",
    "guest crash message: crash-guest: the crash MSRs work",
    "partition crash: guest crash (P0 0xc0ffee00deadbeef P1 0x1 P2 0x2 P3 0x",
    "partition crash: guest crash (expected crash): ok",
    VM_MANAGER,
    VERDICT_PASS,
];

/// vm-hv-reset: the guest's reset request reaches the manager, the kernel
/// resets the Hv#1 state, and the second run finds it cleared.
const VM_HV_RESET_MARKERS: &[&str] = &[
    "boot plan \"vm-hv-reset\": 2 components",
    "] INFO init: partition-manager: manager data for 1 partitions",
    "partition reset: ",
    "] INFO reset: # reset-guest: asking for a reset",
    "the guest asked for a reset (HV_X64_MSR_RESET)",
    "partition reset: Hv#1 state reset",
    "] INFO reset: # reset-guest: second run, after the reset",
    "] INFO reset: ok 1 - after the reset the guest OS ID reads 0",
    "] INFO reset: ok 2 - after the reset the hypercall page is disabled and unlocked",
    "partition reset: passed (expected pass): ok",
    VM_MANAGER,
    VERDICT_PASS,
];

/// vm-hv-routes: the manager installs the hypercall route, the probe
/// learns the partition's name, and routed-hypercall passes each check by
/// name: the probe answers code 0x0008 (with a rep count too), the kernel
/// the unrouted unknown code.
const VM_HV_ROUTES_MARKERS: &[&str] = &[
    "boot plan \"vm-hv-routes\": 3 components",
    "] INFO init: partition-manager: manager data for 1 partitions",
    "partition routes: ",
    "partition routes: Hv#1 interface (3 features)",
    "partition routes: Hv#1 interface on",
    "partition routes: route hypercall 0x8..=0x8 -> slot ",
    "[probe-device cpu",
    "] INFO badge 1 is partition routes",
    "] INFO routes: ok 1 - CPUID 0x40000001 EAX: the Hv#1 interface",
    "] INFO routes: ok 2 - the guest OS ID is set and the hypercall page enabled",
    "] INFO routes: ok 3 - a fast HvCallNotifyLongSpinWait (0x0008) is answered by the probe: result value 0, RDX = its signature",
    "] INFO routes: ok 4 - an unrouted unknown code (0x7FFF) gets HV_STATUS_INVALID_HYPERCALL_CODE from the kernel",
    "] INFO routes: ok 5 - a routed code with a rep count (0x0008, 3 reps) still reaches the probe: the kernel decodes nothing",
    "] INFO routes: # tessera-guest: 5 passed, 0 failed",
    "partition routes: passed (expected pass): ok",
    VM_MANAGER,
    VERDICT_PASS,
];

/// The echo demo, through either boot path. Component lines are
/// `[NAME cpuN] LEVEL TEXT`, so a marker names the component and the text
/// separately.
const ECHO_MARKERS: &[&str] = &[
    "boot plan \"echo\": 2 components",
    "[init cpu0] INFO init: building \"echo\": 2 components, 1 endpoints",
    "] INFO init: 2 components started; init holds nothing over them and exits",
    "component init exited with code 0",
    "component echo-server: started (domain ",
    "component echo-client: started (domain ",
    "[echo-client cpu",
    "] INFO echo-client: 100 round trips ok",
    "] INFO echo-client: a 512-word message through the message buffer ok",
    "[echo-server cpu",
    "] INFO echo-server: logging through the console capability the client passed",
    "] INFO echo-client: echo-server logged through the console capability it was passed",
    "deployment verdict from echo-client",
    VERDICT_PASS,
];

/// How many serial log lines a failure shows.
const TAIL_LINES: usize = 40;

/// Judges a finished boot: the expected verdict and every marker, both required.
pub fn check(test: &SystemTest, outcome: &Outcome, log: &str) -> Result<(), String> {
    let mut problems = Vec::new();
    match outcome {
        Outcome::Verdict(verdict) if *verdict == test.expect => {}
        Outcome::Verdict(verdict) => {
            problems.push(format!(
                "expected verdict {}, got verdict {verdict}",
                test.expect
            ));
        }
        other => problems.push(other.to_string()),
    }
    let missing = serial_log::missing_markers(log, test.markers);
    if !missing.is_empty() {
        let quoted: Vec<String> = missing.iter().map(|m| format!("{m:?}")).collect();
        problems.push(format!("missing markers: {}", quoted.join(", ")));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// A deployment of the system tests, ready to boot: `None` is the kernel
/// alone.
type Key = Option<&'static str>;

/// What the system tests boot, built once: the release kernel, and for each
/// deployment the tests name its modules (and its ISO, if a test boots it
/// through GRUB), or why it could not be prepared.
#[derive(Debug)]
struct Prepared {
    kernel: PathBuf,
    deployments: Vec<(Key, Result<Deployment, String>)>,
    isos: Vec<(Key, Result<PathBuf, String>)>,
}

impl Prepared {
    fn deployment(&self, key: Key) -> Result<&Deployment, String> {
        lookup(&self.deployments, key)?
            .as_ref()
            .map_err(Clone::clone)
    }

    fn iso(&self, key: Key) -> Result<PathBuf, String> {
        lookup(&self.isos, key)?.clone()
    }
}

fn lookup<T>(entries: &[(Key, T)], key: Key) -> Result<&T, String> {
    entries
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, value)| value)
        .ok_or_else(|| format!("deployment {key:?} was not prepared"))
}

/// The deployments the tests boot, each once, in the order of the tests.
fn deployments_of(tests: &[SystemTest]) -> Vec<Key> {
    let mut keys: Vec<Key> = Vec::new();
    for test in tests {
        if !keys.contains(&test.deployment) {
            keys.push(test.deployment);
        }
    }
    keys
}

/// Why a system test failed, and what to show.
#[derive(Debug)]
struct Failure {
    reason: String,
    serial_log: Option<PathBuf>,
    stderr: String,
}

impl Failure {
    fn without_log(reason: String) -> Self {
        Self {
            reason,
            serial_log: None,
            stderr: String::new(),
        }
    }
}

/// Builds the release kernel, the components, the boot plans and the ISOs,
/// then runs every system test in turn.
pub fn run_all(workspace: &Workspace) -> Tally {
    let prepared = prepare(workspace);
    let host_choice = accel::choose();
    if prepared.is_ok() {
        println!("{}", host_choice.describe());
    }
    let mut tally = Tally::default();
    for test in SYSTEM_TESTS {
        print!("system test {} ... ", test.name);
        let _ = io::stdout().flush();
        let result = match &prepared {
            Ok(prepared) => run_one(workspace, prepared, &host_choice, test),
            Err(e) => Err(Failure::without_log(e.clone())),
        };
        match result {
            Ok(()) => {
                println!("ok");
                tally += Tally::PASSED;
            }
            Err(failure) => {
                println!("FAILED: {}", failure.reason);
                show_failure(&failure);
                tally += Tally::FAILED;
            }
        }
    }
    tally
}

/// A valid manifest and the guest crates it needs.
type Checked = (tessera_manifest::Deployment, Vec<GuestCrate>);

/// One cargo invocation builds the kernel and every image of every
/// deployment without partitions whose manifest is valid; then one more per
/// deployment with partitions builds its components and guests (which are
/// younger crates: one that does not build fails only its own tests). A
/// deployment that is not valid only fails its own tests.
fn prepare(workspace: &Workspace) -> Result<Prepared, String> {
    host_tools::ensure(Needs {
        qemu: true,
        grub: true,
    })?;
    let known = components::all(&workspace.root)?;
    let known_guests = guests::all(&workspace.root)?;
    let keys = deployments_of(SYSTEM_TESTS);
    let manifests: Vec<(Key, Result<Option<Checked>, String>)> = keys
        .iter()
        .map(|&key| {
            let manifest = key
                .map(|name| {
                    let manifest = deployment::load_manifest(&workspace.root, name)?;
                    components::check_images(name, &manifest.images, &known)?;
                    let guests = guests::resolve(name, &manifest.guest_images, &known_guests)?;
                    Ok((manifest, guests))
                })
                .transpose();
            (key, manifest)
        })
        .collect();
    let mut images: Vec<String> = Vec::new();
    for (key, manifest) in &manifests {
        match manifest {
            Ok(Some((manifest, _))) if manifest.partitions.is_empty() => {
                images.extend(deployment::images_to_build(manifest));
            }
            Ok(_) => {}
            Err(e) => eprintln!("xtask: deployment {}: {e}", key.unwrap_or("")),
        }
    }
    let artifacts = cargo_build::build(workspace, Profile::Release, &images, &[])
        .map_err(|e| format!("the kernel and components did not build: {e}"))?;

    let deployments: Vec<(Key, Result<Deployment, String>)> = manifests
        .into_iter()
        .map(|(key, manifest)| {
            let deployment = manifest.and_then(|manifest| match manifest {
                None => Ok(Deployment::kernel_only()),
                Some((manifest, guests)) if manifest.partitions.is_empty() => {
                    deployment::assemble(&workspace.out_dir(), &manifest, &artifacts, &guests)
                }
                Some((manifest, guests)) => {
                    let images = deployment::images_to_build(&manifest);
                    cargo_build::build(workspace, Profile::Release, &images, &guests)
                        .map_err(|e| format!("its components and guests did not build: {e}"))
                        .and_then(|built| {
                            deployment::assemble(&workspace.out_dir(), &manifest, &built, &guests)
                        })
                }
            });
            if let (Some(name), Err(e)) = (key, &deployment) {
                eprintln!("xtask: deployment {name}: {e}");
            }
            (key, deployment)
        })
        .collect();
    let grub_keys = deployments_of(SYSTEM_TESTS).into_iter().filter(|&key| {
        SYSTEM_TESTS
            .iter()
            .any(|t| t.deployment == key && t.boot == BootMethod::Grub)
    });
    let isos = grub_keys
        .map(|key| {
            let iso = lookup(&deployments, key)
                .and_then(|d| d.clone())
                .and_then(|d| image::make_iso(workspace, &d, &artifacts.kernel))
                .map_err(|e| format!("the ISO was not made: {e}"));
            if let Err(e) = &iso {
                eprintln!("xtask: {e}");
            }
            (key, iso)
        })
        .collect();
    Ok(Prepared {
        kernel: artifacts.kernel,
        deployments,
        isos,
    })
}

fn run_one(
    workspace: &Workspace,
    prepared: &Prepared,
    host_choice: &Choice,
    test: &SystemTest,
) -> Result<(), Failure> {
    let deployment = prepared
        .deployment(test.deployment)
        .map_err(Failure::without_log)?;
    let boot = match test.boot {
        BootMethod::Kernel => Boot::Kernel {
            kernel: prepared.kernel.clone(),
            cmdline: format!("{} {}", deployment.cmdline, test.extra_cmdline)
                .trim_end()
                .to_string(),
            initrd: qemu::command::initrd(&deployment.modules).map_err(Failure::without_log)?,
        },
        BootMethod::Grub => Boot::Cdrom {
            iso: prepared
                .iso(test.deployment)
                .map_err(Failure::without_log)?,
        },
    };
    let choice = match test.cpu {
        Some(cpu) => Choice::tcg_with(cpu),
        None => host_choice.clone(),
    };
    let serial_log = workspace
        .logs_dir()
        .join(format!("{}.serial.log", test.name));
    let config = QemuConfig {
        accel: choice.accel,
        boot,
        smp: test.smp,
        memory_mib: deployment.memory_mib,
        serial_log: serial_log.clone(),
        gdb: false,
        extra: Vec::new(),
    };
    let finished =
        process::run(&config, Some(TIME_LIMIT), Echo::Quiet).map_err(Failure::without_log)?;
    let log = serial_log::read_clean(&serial_log);
    check(test, &finished.outcome, &log).map_err(|reason| Failure {
        reason,
        serial_log: Some(serial_log),
        stderr: finished.stderr,
    })
}

fn show_failure(failure: &Failure) {
    if !failure.stderr.trim().is_empty() {
        println!("--- QEMU stderr ---");
        println!("{}", failure.stderr.trim_end());
    }
    if let Some(path) = &failure.serial_log {
        show_tail(path);
    }
}

fn show_tail(path: &Path) {
    let log = serial_log::read_clean(path);
    println!("--- last {TAIL_LINES} lines of {} ---", path.display());
    for line in serial_log::tail(&log, TAIL_LINES) {
        println!("{line}");
    }
    println!("--- end of serial log ---");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_named(name: &str) -> &'static SystemTest {
        SYSTEM_TESTS.iter().find(|t| t.name == name).unwrap()
    }

    const MB1_PASS_LOG: &str = "\
Tessera 0.1.0 booting via multiboot1
memory map:
  [0x0000000000000000, 0x000000000009fc00) usable
svm: revision 1, 16 asids, nested paging yes, nrip-save no, decode-assists no, flush-by-asid no, vmcb-clean-bits no, avic no
smp: 4 of 4 cpus online
svm: enabled on 4 of 4 cpus
tessera: verdict pass
";

    #[test]
    fn names_are_unique() {
        for (i, a) in SYSTEM_TESTS.iter().enumerate() {
            assert!(SYSTEM_TESTS[i + 1..].iter().all(|b| a.name != b.name));
        }
    }

    #[test]
    fn passing_boot_passes() {
        let test = test_named("boot-multiboot1");
        assert_eq!(
            check(test, &Outcome::Verdict(Verdict::Pass), MB1_PASS_LOG),
            Ok(())
        );
    }

    #[test]
    fn pass_verdict_without_markers_fails() {
        let test = test_named("boot-multiboot1");
        let log = MB1_PASS_LOG.replace("smp: 4 of 4", "smp: 3 of 4");
        let reason = check(test, &Outcome::Verdict(Verdict::Pass), &log).unwrap_err();
        assert_eq!(reason, "missing markers: \"smp: 4 of 4 cpus online\"");
    }

    #[test]
    fn markers_without_the_verdict_fail() {
        let test = test_named("boot-multiboot1");
        let reason = check(test, &Outcome::NoVerdict, MB1_PASS_LOG).unwrap_err();
        assert!(
            reason.starts_with("QEMU ended without a verdict"),
            "{reason}"
        );
        let reason = check(test, &Outcome::Verdict(Verdict::Fail), MB1_PASS_LOG).unwrap_err();
        assert_eq!(reason, "expected verdict pass, got verdict fail");
    }

    #[test]
    fn no_svm_needs_both_fail_verdict_and_message() {
        let test = test_named("no-svm");
        let log = "Tessera 0.1.0 booting via multiboot1\nfatal: cpu 0: SVM (AMD-V) is not available: \
                   CPUID 0x80000001 ECX bit 2 is clear\n";
        assert_eq!(check(test, &Outcome::Verdict(Verdict::Fail), log), Ok(()));
        assert!(check(test, &Outcome::Verdict(Verdict::Pass), log).is_err());
        assert!(
            check(
                test,
                &Outcome::Verdict(Verdict::Fail),
                "fatal: something else\n"
            )
            .is_err()
        );
    }

    #[test]
    fn timeout_and_missing_markers_are_both_reported() {
        let test = test_named("no-nested-paging");
        let reason = check(test, &Outcome::TimedOut(TIME_LIMIT), "").unwrap_err();
        assert_eq!(
            reason,
            "no verdict within 60 s; missing markers: \"fatal: cpu 0: nested paging is not available\""
        );
    }

    #[test]
    fn capability_tests_run_under_tcg_with_their_cpu_model() {
        assert_eq!(test_named("no-svm").cpu, Some("qemu64,-svm"));
        assert_eq!(test_named("no-nested-paging").cpu, Some("qemu64,+svm,-npt"));
        assert_eq!(test_named("boot-grub-multiboot2").boot, BootMethod::Grub);
    }

    /// The kernel-fault tests: the kernel alone, with an injected fault.
    fn is_injection(test: &SystemTest) -> bool {
        test.deployment.is_none() && test.name.starts_with("fault-")
    }

    #[test]
    fn fault_tests_inject_through_the_kernel_command_line() {
        for test in SYSTEM_TESTS.iter().filter(|t| is_injection(t)) {
            assert_eq!(test.boot, BootMethod::Kernel, "{}", test.name);
            assert!(
                test.extra_cmdline.starts_with("inject-fault="),
                "{}",
                test.name
            );
            assert_eq!(test.expect, Verdict::Fail, "{}", test.name);
            assert!(test.markers.contains(&VERDICT_FAIL), "{}", test.name);
        }
        for test in SYSTEM_TESTS.iter().filter(|t| !is_injection(t)) {
            assert_eq!(test.extra_cmdline, "", "{}", test.name);
        }
    }

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    #[test]
    fn the_kernel_alone_boots_without_a_deployment() {
        for name in [
            "boot-multiboot1",
            "boot-grub-multiboot2",
            "no-svm",
            "no-nested-paging",
            "fault-panic",
        ] {
            assert_eq!(test_named(name).deployment, None, "{name}");
        }
    }

    #[test]
    fn every_deployment_of_a_test_is_valid_and_fits_its_machine() {
        let known = components::all(&root()).unwrap();
        let known_guests = guests::all(&root()).unwrap();
        for test in SYSTEM_TESTS {
            let Some(name) = test.deployment else {
                continue;
            };
            let manifest = deployment::load_manifest(&root(), name).unwrap();
            components::check_images(name, &manifest.images, &known).unwrap();
            assert!(
                u32::from(manifest.cpus) <= test.smp,
                "{}: the deployment expects {} cpus, the test boots {}",
                test.name,
                manifest.cpus,
                test.smp
            );
            // The component that holds the verdict is the one that gives it.
            let holder = manifest
                .components
                .iter()
                .find(|c| c.verdict)
                .unwrap_or_else(|| panic!("{name} has no verdict holder"));
            let from = format!("deployment verdict from {}", holder.name);
            assert!(
                test.markers.contains(&from.as_str()),
                "{}: {from}",
                test.name
            );
            assert!(test.markers.contains(&VERDICT_PASS), "{}", test.name);
            let plan = format!(
                "boot plan {name:?}: {} components",
                manifest.components.len()
            );
            assert!(
                test.markers.contains(&plan.as_str()),
                "{}: {plan}",
                test.name
            );
            if manifest.partitions.is_empty() {
                continue;
            }
            // Partition tests: their guests exist, init's line counts them,
            // and the log names each.
            guests::resolve(name, &manifest.guest_images, &known_guests).unwrap();
            let data = format!(
                "] INFO init: partition-manager: manager data for {} partitions",
                manifest.partitions.len()
            );
            assert!(
                test.markers.contains(&data.as_str()),
                "{}: {data}",
                test.name
            );
            for partition in &manifest.partitions {
                if test.name == "vm-bench" {
                    continue;
                }
                let named = format!("partition {}: ", partition.name);
                assert!(
                    test.markers.contains(&named.as_str()),
                    "{}: {named}",
                    test.name
                );
            }
        }
    }

    /// vm-faults as the manager and the kernel are expected to log it.
    const VM_FAULTS_LOG: &str = "\
[kernel cpu0 INFO] boot plan \"vm-faults\": 2 components, built by init
[init cpu0] INFO init: partition-manager: manager data for 3 partitions (2700000 bytes) in slot 63, 6 route capabilities
[partition-manager cpu0] INFO partition memory-probe: VP 0 started at rip 0x100000
[kernel cpu1 INFO] partition memory-probe: unmapped GPA 0xc0000000 (read) at rip 0x100123
[partition-manager cpu0] INFO partition memory-probe: memory fault (expected memory-fault): ok
[kernel cpu2 INFO] partition triple-fault: triple fault at rip 0x100456
[partition-manager cpu0] INFO partition triple-fault: triple fault (expected triple-fault): ok
[partition-manager cpu0] INFO partition msr-writer: passed (expected pass): ok
[partition-manager cpu0] INFO partition-manager: 3 of 3 partitions ended as expected: pass
[kernel cpu0 INFO] deployment verdict from partition-manager
[kernel cpu0 INFO] tessera: verdict pass
";

    #[test]
    fn vm_faults_needs_both_faults_in_the_log() {
        let test = test_named("vm-faults");
        let pass = Outcome::Verdict(Verdict::Pass);
        assert_eq!(check(test, &pass, VM_FAULTS_LOG), Ok(()));
        let without: String = VM_FAULTS_LOG
            .lines()
            .filter(|l| !l.contains("triple fault"))
            .map(|l| format!("{l}\n"))
            .collect();
        let reason = check(test, &pass, &without).unwrap_err();
        assert!(reason.contains("\"triple fault\""), "{reason}");
        assert!(check(test, &Outcome::Verdict(Verdict::Fail), VM_FAULTS_LOG).is_err());
    }

    #[test]
    fn the_deployments_are_prepared_once_each() {
        let keys = deployments_of(SYSTEM_TESTS);
        assert_eq!(keys[0], None);
        for key in [
            Some("echo"),
            Some("vm-exits"),
            Some("vm-faults"),
            Some("cap-errors"),
            Some("fault-containment"),
            Some("shared-memory"),
            Some("vm-errors"),
            Some("default"),
        ] {
            assert_eq!(keys.iter().filter(|k| **k == key).count(), 1, "{key:?}");
        }
        assert_eq!(test_named("components-echo-grub").boot, BootMethod::Grub);
    }

    /// The demo as the kernel logs it (components' lines are tagged by the
    /// kernel with their name and CPU).
    const ECHO_LOG: &str = "\
[kernel cpu0 INFO] boot plan \"echo\": 2 components, built by init
[init cpu0] INFO init: building \"echo\": 2 components, 1 endpoints
[kernel cpu0 INFO] component echo-server: started (domain 1, priority 10, cpu 0)
[kernel cpu0 INFO] component echo-client: started (domain 2, priority 5, cpu 0)
[init cpu0] INFO init: 2 components started; init holds nothing over them and exits
[kernel cpu0 INFO] component init exited with code 0
[echo-client cpu0] INFO echo-client: 100 round trips ok
[echo-client cpu0] INFO echo-client: a 512-word message through the message buffer ok
[echo-server cpu0] INFO echo-server: logging through the console capability the client passed
[echo-client cpu0] INFO echo-client: echo-server logged through the console capability it was passed
[kernel cpu0 INFO] deployment verdict from echo-client
[kernel cpu0 INFO] tessera: verdict pass
";

    #[test]
    fn the_echo_demo_passes_on_its_log() {
        let test = test_named("components-echo");
        assert_eq!(
            check(test, &Outcome::Verdict(Verdict::Pass), ECHO_LOG),
            Ok(())
        );
        // Without the line echo-server logged through the passed console.
        let log: String = ECHO_LOG
            .lines()
            .filter(|l| !l.starts_with("[echo-server"))
            .map(|l| format!("{l}\n"))
            .collect();
        let reason = check(test, &Outcome::Verdict(Verdict::Pass), &log).unwrap_err();
        assert!(reason.contains("[echo-server cpu"), "{reason}");
    }

    #[test]
    fn a_failed_check_in_cap_probe_is_missed() {
        let test = test_named("cap-errors");
        let log = "[cap-probe cpu1] INFO not ok 3 - a call on selector 64 fails with InvalidSelector: got EmptySlot\n";
        let reason = check(test, &Outcome::Verdict(Verdict::Fail), log).unwrap_err();
        assert!(
            reason.contains("\"] INFO ok 3 - a call on selector 64 fails with InvalidSelector\""),
            "{reason}"
        );
    }
}
