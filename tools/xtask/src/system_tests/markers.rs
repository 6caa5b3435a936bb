//! What the system tests look for in the serial log besides the verdict.

pub const VERDICT_PASS: &str = "tessera: verdict pass";
pub const VERDICT_FAIL: &str = "tessera: verdict fail";
pub const SVM_REVISION: &str = "svm: revision ";
pub const NESTED_PAGING: &str = "nested paging yes";
pub const MEMORY_MAP: &str = "memory map:";
pub const USABLE_REGION: &str = "usable";

// What the partition tests look for besides the verdict pass. The lines of
// init (`init: NAME: manager data for N partitions`) are this repository's
// own; the kernel's and partition-manager's wording (`partition NAME: ...`,
// `triple fault`, `unmapped`) is theirs: adjust these substrings if it
// changes. A component's lines read `[NAME cpuN] LEVEL TEXT`.

/// Init handed the manager its data; the manager gave the verdict.
pub const VM_MANAGER: &str = "deployment verdict from partition-manager";
/// partition-manager's line when a partition ended as its manifest expects
/// (`partition NAME: OUTCOME (expected EXPECT): ok`).
pub const VM_ENDED_AS_EXPECTED: &str = "): ok";

/// The demo: the guest's lines, tagged by devices with the partition's
/// name, and the manager's judgement.
pub const DEMO_MARKERS: &[&str] = &[
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
pub const VM_EXITS_MARKERS: &[&str] = &[
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
    "] INFO exits: ok 35 - NB_CFG (0xC001001F) reads 0 and takes a write of EnableCf8ExtCfg, as Linux on AMD expects",
    "] INFO exits: ok 36 - HLT returns and the probe's HALTS counter goes up by one",
    "] INFO exits: # tessera-guest: 36 passed, 0 failed",
    VM_ENDED_AS_EXPECTED,
    VM_MANAGER,
    VERDICT_PASS,
];

/// The local APIC: every check of the `apic` guest, by name.
pub const VM_APIC_MARKERS: &[&str] = &[
    "boot plan \"vm-apic\": 2 components",
    "] INFO init: partition-manager: manager data for 1 partitions",
    "partition apic: ",
    "] INFO partition apic: created (slot ",
    ", local APIC X2apic)",
    "] INFO apic: ok 1 - CPUID 1 shows the APIC, x2APIC and TSC-deadline; leaf 6 ARAT; APIC ID 0",
    "] INFO apic: ok 2 - IA32_APIC_BASE reads 0xFEE00000, enabled, BSP, xAPIC mode",
    "] INFO apic: ok 3 - x2APIC MSRs are #GP in xAPIC mode",
    "] INFO apic: ok 4 - map the xAPIC page 0xFEE00000 (uncached)",
    "] INFO apic: ok 5 - the xAPIC page: ID 0, version 0x14 with 6 LVT entries, registers read back",
    "] INFO apic: ok 6 - a reserved xAPIC offset reads 0 and sets ESR bit 7 (illegal register address)",
    "] INFO apic: ok 7 - xAPIC: an ICR write with the self shorthand is taken before the next instruction",
    "] INFO apic: ok 8 - IA32_APIC_BASE: xAPIC to x2APIC",
    "] INFO apic: ok 9 - the x2APIC MSRs show what the xAPIC page held (TPR, SVR, LVTs, divider)",
    "] INFO apic: ok 10 - x2APIC ID 0, LDR cluster 0 bit 0, version as through the page",
    "] INFO apic: ok 11 - IA32_APIC_BASE: x2APIC straight back to xAPIC is #GP, EXTD without EN is #GP",
    "] INFO apic: ok 12 - x2APIC misuse is #GP: write ID/version/PPR, read EOI/SELF IPI, reserved MSR, reserved TPR bits, non-zero EOI and ESR writes, bits 63:32",
    "] INFO apic: ok 13 - an illegal vector through SELF IPI sets ESR bit 6 and delivers nothing",
    "] INFO apic: ok 14 - x2APIC: a SELF IPI is taken before the next instruction",
    "] INFO apic: ok 15 - x2APIC: ICR with the self shorthand, and with its own ID, before the next instruction",
    "] INFO apic: ok 16 - with IF clear a SELF IPI waits in the IRR and is taken right after STI",
    "] INFO apic: ok 17 - TPR 0x50 holds back classes 4 and 5, not 6; lowering it delivers them highest first",
    "] INFO apic: ok 18 - CR8 masks as the TPR does, and lowering CR8 delivers at once",
    "] INFO apic: ok 19 - ISR nesting: a higher class interrupts an in-service vector, the same class waits; EOI ends the highest in service",
    "] INFO apic: ok 20 - a self NMI sent from the NMI handler waits for its IRET, then is taken",
    "] INFO apic: ok 21 - the timer counts down at a steady rate against the TSC",
    "] INFO apic: ok 22 - one-shot: HLT wakes on its interrupt, never early, then it stops",
    "] INFO apic: ok 23 - periodic: 1000 periods waited in HLT, none early, as many as the TSC says, no drift",
    "] INFO apic: ok 24 - TSC-deadline: never before the deadline, 20 times; a past deadline fires at once; 0 disarms",
    "] INFO apic: ok 25 - the timer in one-shot mode ignores IA32_TSC_DEADLINE",
    "] INFO apic: # tessera-guest: 25 passed, 0 failed",
    VM_ENDED_AS_EXPECTED,
    VM_MANAGER,
    VERDICT_PASS,
];

/// `vm-synic-ipc`: the manager makes the ports and connections, and the
/// three partitions' parts all pass.
pub const VM_SYNIC_IPC_MARKERS: &[&str] = &[
    "boot plan \"vm-synic-ipc\": 3 components",
    "] INFO init: partition-manager: manager data for 3 partitions",
    "partition ping: ",
    "partition pong: ",
    "partition denied: ",
    "] INFO partition ping: SynIC port 0x22 (message) to VP 0 SINT 4",
    "] INFO partition pong: SynIC port 0x11 (event) to VP 0 SINT 3",
    "] INFO partition ping: SynIC connection 0x100 to port 0x10 of pong",
    "] INFO partition denied: SynIC connection 0x300 to port 0x10 of pong",
    "] INFO ping: # role: ping",
    "] INFO pong: # role: pong",
    "] INFO denied: # role: denied (no PostMessages or SignalEvents)",
    "] INFO denied: ok 2 - without PostMessages and SignalEvents both calls answer HV_STATUS_ACCESS_DENIED on a connection that exists",
    "] INFO ping: ok 5 - 17 messages to pong are taken (its slot, then its port's 16 buffers); the 18th is INSUFFICIENT_BUFFERS, nothing dropped",
    "] INFO pong: ok 4 - 17 messages in order, each but the last with MessagePending, the next one delivered by EOM; then the slot is empty",
    "] INFO pong: ok 5 - the 0 -> 1 rule: flag 8 set again raises no interrupt, flag 9 raises one",
    "] INFO ping: ok 7 - pong's answer: a message of type 0x42 in SINT 2's slot",
    VM_MANAGER,
    VERDICT_PASS,
];

/// `vm-synic-testdev`: a component owns SynIC ports (the manifest's and
/// QEMU's `hyperv-testdev`'s); every check of the guest's device role.
pub const VM_SYNIC_TESTDEV_MARKERS: &[&str] = &[
    "boot plan \"vm-synic-testdev\": 4 components",
    "] INFO init: partition-manager: manager data for 1 partitions",
    "partition device: ",
    "] INFO partition device: SynIC port 0x40 for the handler behind slot ",
    "] INFO partition device: SynIC connection 0x141 to port 0x41 of device",
    "] INFO hyperv-testdev on I/O port 0x3000, and echo ports",
    "] INFO partition device: test device ready",
    "] INFO device: # role: device",
    "] INFO device: ok 2 - SIMP, SIEFP, SCONTROL on; SINTs 5, 6, 8, 9 unmasked",
    "] INFO device: ok 3 - a message to the component's port comes back with what it received: connection 0x140, type 0x77, the payload",
    "] INFO device: ok 4 - flags 3 and 5 signalled on the component's port come back as flags 3 and 5 of SINT 6; a flag past its 8 is INVALID_PARAMETER",
    "] INFO device: ok 5 - hyperv-testdev SINT route: raising it interrupts once; masked, nothing; destroyed, nothing",
    "] INFO device: ok 6 - send message to self: its type, size and payload in SINT 8, one interrupt",
    "] INFO device: ok 7 - send message to busy slot: accepted, MessagePending set, the slot unchanged, no interrupt",
    "] INFO device: ok 8 - receive pending message: after EOM the second message, one more interrupt",
    "] INFO device: ok 9 - signal event on self: flag 0x20 of SINT 9, one interrupt",
    "] INFO device: ok 10 - signal event already set: accepted, the flag set, no interrupt",
    "] INFO device: ok 11 - writes the device cannot honour (a duplicate connection, destroys of nothing, op 0 and 8, SINT 16, VP 7) change nothing",
    "] INFO device: ok 12 - destroyed connections answer INVALID_CONNECTION_ID",
    "] INFO device: # tessera-guest: 12 passed, 0 failed",
    VM_MANAGER,
    VERDICT_PASS,
];

/// The SynIC and the synthetic timers (issue 14): every check of the
/// `hv-synic` guest, by name, with the `synic` component serving the
/// partition's SynIC registers.
pub const VM_SYNIC_MARKERS: &[&str] = &[
    "boot plan \"vm-synic\": 3 components",
    "] INFO init: partition-manager: manager data for 1 partitions",
    "partition stimers: ",
    "] INFO serving the SynIC registers (MSRs 0x40000080-0x4000009f)",
    "] INFO partition stimers: SynIC registers served (capability in slot ",
    "] INFO stimers: # tessera-guest: hv-synic starting",
    "] INFO stimers: ok 1 - x2APIC on, software enabled; free RAM for the SynIC pages",
    "] INFO stimers: ok 2 - CPUID 0x40000003: AccessSynicRegs, AccessSyntheticTimerRegs, DirectSyntheticTimers, PostMessages, SignalEvents",
    "] INFO stimers: ok 3 - reset values: SCONTROL, SIEFP, SIMP 0, SVERSION 1, EOM reads 0, SINT0-15 0x10000 (masked), STIMER0-3 0",
    "] INFO stimers: ok 4 - #GP: SVERSION written, EOM non-zero, reserved bits of SCONTROL, SIMP, SIEFP and SINTs, an unmasked SINT vector below 16, Polling not offered",
    "] INFO stimers: ok 5 - SINTs take vector, mask and AutoEOI; a masked vector below 16 is kept; EOM takes 0",
    "] INFO stimers: ok 6 - #GP: STIMER reserved bits, direct mode with a vector below 16",
    "] INFO stimers: ok 7 - SIMP: the page hides the RAM under it while enabled, the RAM comes back when disabled, the page keeps its contents",
    "] INFO stimers: ok 8 - SIEFP: the page hides the RAM under it while enabled, the RAM comes back when disabled, the page keeps its contents",
    "] INFO stimers: ok 9 - SCONTROL, SIMP and SINT2 enabled for the timers",
    "] INFO stimers: ok 10 - one-shot, message mode: HvMessageTimerExpired in the SINT's slot, never early, then the timer is disabled",
    "] INFO stimers: ok 11 - one-shot, direct mode: the vector without a message, never early",
    "] INFO stimers: ok 12 - a one-shot set in the past expires at once; auto-enable: a non-zero count sets Enable",
    "] INFO stimers: ok 13 - a timer firing while SIMP is disabled is delivered when SIMP is enabled",
    "] INFO stimers: ok 14 - MessagePending: a second expiration waits for a busy slot, is flagged, and comes after EOM",
    "] INFO stimers: ok 15 - AutoEOI: the SINT's vector is not left in service",
    "] INFO stimers: ok 16 - periodic: 1000 periods of 20000 units, every expiration on its grid, none early",
    "] INFO stimers: ok 17 - periodic, lazy: 1000 periods of 20000 units, every expiration on its grid, none early",
    "] INFO stimers: ok 18 - the timers stop",
    "] INFO stimers: # tessera-guest: 18 passed, 0 failed",
    VM_ENDED_AS_EXPECTED,
    VM_MANAGER,
    VERDICT_PASS,
];

/// `vm-apic` under `-icount`: its checks pass, and the periodic timer's
/// 1000 interrupts were counted against the TSC (no host delayed them).
pub const VM_APIC_ICOUNT_MARKERS: &[&str] = &[
    "boot plan \"vm-apic\": 2 components",
    "] INFO init: partition-manager: manager data for 1 partitions",
    "partition apic: ",
    "] INFO apic: ok 23 - periodic: 1000 periods waited in HLT, none early, as many as the TSC says, no drift",
    "] INFO apic: # timer: counted: 1000 interrupts in ",
    "] INFO apic: # tessera-guest: 25 passed, 0 failed",
    VM_ENDED_AS_EXPECTED,
    VM_MANAGER,
    VERDICT_PASS,
];

/// vm-bench-smp under -icount: VP 1's port read, served by `devices` on
/// VP 0's busy CPU, is over long before that CPU's next time slice.
pub const VM_BENCH_SMP_ICOUNT_MARKERS: &[&str] = &[
    "boot plan \"vm-bench-smp\": 2 components",
    "] INFO init: partition-manager: manager data for 1 partitions",
    "partition smp-bench: ",
    "] INFO smp-bench: ok 1 - VP 1 started by INIT/SIPI, both VPs in x2APIC mode",
    "] INFO smp-bench: ok 2 - a port read whose handler shares a busy CPU is served before that CPU's next time slice",
    "] INFO smp-bench: bench: port-read-remote-handler ",
    "] INFO smp-bench: # tessera-guest: 2 passed, 0 failed",
    VM_ENDED_AS_EXPECTED,
    VM_MANAGER,
    VERDICT_PASS,
];

/// vm-bench-smp-pinned under -icount: the same read with `devices` kept on
/// VP 0's busy CPU by its affinity, so only that CPU's interrupt for the
/// woken handler serves it in time.
pub const VM_BENCH_SMP_PINNED_ICOUNT_MARKERS: &[&str] = &[
    "boot plan \"vm-bench-smp-pinned\": 2 components",
    "] INFO init: partition-manager: manager data for 1 partitions",
    "partition smp-bench: ",
    "] INFO smp-bench: ok 1 - VP 1 started by INIT/SIPI, both VPs in x2APIC mode",
    "] INFO smp-bench: ok 2 - a port read whose handler shares a busy CPU is served before that CPU's next time slice",
    "] INFO smp-bench: bench: port-read-remote-handler ",
    "] INFO smp-bench: # tessera-guest: 2 passed, 0 failed",
    VM_ENDED_AS_EXPECTED,
    VM_MANAGER,
    VERDICT_PASS,
];

/// The `pc-platform` guest's lines in a deployment whose boot plan line
/// is `$plan`: every check by name, the line it sent interrupt-driven,
/// and the platform's attach with the partition's interrupt capability.
macro_rules! pc_platform_markers {
    ($plan:literal) => {
        &[
            $plan,
            "] INFO init: partition-manager: manager data for 1 partitions",
            "partition pc: ",
            "[platform cpu0] INFO badge 1 is partition pc: I/O APIC, 8259 pair, RTC, fw_cfg (1 CPUs, 16384 KiB)",
            ", local APIC Xapic)",
            "] INFO pc: ok 1 - fw_cfg: signature QEMU, the traditional interface, and the manifest's CPUs and RAM",
            "] INFO pc: ok 2 - 8259 pair: ICW1-4 as Linux sends them, OCW1 masks read back, OCW3 reads IRR and ISR",
            "] INFO pc: ok 3 - ELCR: the writable bits hold, IRQs 0-2, 8 and 13 stay edge",
            "] INFO pc: ok 4 - I/O APIC: version 0x20 with 24 entries, every entry masked at reset",
            "] INFO pc: COM1 output driven by IRQ 4",
            "] INFO pc: ok 5 - COM1 output driven by its transmit-empty interrupt on pin 4 (edge)",
            "] INFO pc: ok 6 - COM1 received data (loopback) raises pin 4; reading RBR ends it",
            "] INFO pc: ok 7 - a masked pin delivers nothing, and the edge it missed stays lost",
            "] INFO pc: ok 8 - a level-triggered pin: remote IRR set until the EOI, delivered again while asserted",
            "] INFO pc: ok 9 - a byte sent in loopback reaches the receiver when the VP halts, with no other access",
            "] INFO pc: ok 10 - a byte sent in loopback reaches the receiver while the VP spins, with no other access",
            "] INFO pc: ok 11 - 8259 through LINT0 (ExtINT): IRQ 4 arrives as ICW2 base + 4, in service until a non-specific EOI",
            "] INFO pc: ok 12 - 8259 IMR: a masked IRQ 4 waits in IRR, arrives once unmasked; a specific EOI ends it",
            "] INFO pc: ok 13 - LVT LINT0 masked: the 8259's request reaches nothing until LINT0 is unmasked",
            "] INFO pc: ok 14 - 8259 automatic EOI (ICW4 AEOI): nothing stays in service after the acknowledge",
            "] INFO pc: ok 15 - APIC globally disabled: the 8259 drives INTR directly",
            "] INFO pc: # tessera-guest: 15 passed, 0 failed",
            VM_ENDED_AS_EXPECTED,
            VM_MANAGER,
            VERDICT_PASS,
        ]
    };
}

/// The platform component: the `pc-platform` guest's checks.
pub const VM_PLATFORM_MARKERS: &[&str] =
    pc_platform_markers!("boot plan \"vm-platform\": 3 components");

/// The same guest with COM1's THR writes posted: the same checks pass,
/// and the route is installed posting.
pub const VM_PLATFORM_POSTED_MARKERS: &[&str] =
    pc_platform_markers!("boot plan \"vm-platform-posted\": 3 components");

/// The faults: the log must name both faults (the kernel or the manager
/// reports each) and each partition, besides the manager's pass, which
/// says each fault stayed in its partition and msr-writer passed.
pub const VM_FAULTS_MARKERS: &[&str] = &[
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

pub const VM_ISOLATION_MARKERS: &[&str] = &[
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
pub const VM_MULTIBOOT_MARKERS: &[&str] = &[
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

pub const VM_BENCH_MARKERS: &[&str] = &[
    "boot plan \"vm-bench\": 4 components",
    "] INFO init: partition-manager: manager data for 1 partitions",
    "partition bench: Hv#1 interface (10 features)",
    "bench: post-message ",
    "bench: signal-event-fast ",
    "bench: cpuid-kernel ",
    "bench: cpuid-forwarded ",
    "bench: port-write-forwarded ",
    "bench: exit-bare ",
    "bench: hypercall-fast ",
    "bench: eoi-x2apic ",
    "bench: self-ipi ",
    "bench: timer-interrupt ",
    "bench: stimer-direct ",
    "bench: hypercall-memory ",
    VM_MANAGER,
    VERDICT_PASS,
];

/// A guest report's summary without failures (`# tessera-guest: P passed,
/// 0 failed`; the count of checks differs between configurations). The
/// line `PARTITION: # tessera-guest: ` is a marker of its own.
pub const NO_FAILED_CHECK: &str = " passed, 0 failed";

/// hv-conformance with every feature: the manager gave the partition the
/// Hv#1 interface (11 CPUID feature bits: 5 privileges, 3 feature bits, 3
/// recommendations), the kernel took it, the guest saw each feature
/// advertised and passed every check.
pub const VM_HV_FULL_MARKERS: &[&str] = &[
    "boot plan \"vm-hv-full\": 2 components",
    "partition hv-full: ",
    "] INFO init: partition-manager: manager data for 1 partitions",
    "partition hv-full: Hv#1 interface (18 features)",
    "partition hv-full: Hv#1 interface on",
    "] INFO hv-full: # config: advertised: VpRuntime RefCounter ApicMsrs ResetMsr RefTsc FreqMsrs TscInvCtl CrashMsrs XmmInput FlushCalls ExMasks ClusterIpi RelaxedTiming",
    "] INFO hv-full: # tessera-guest: ",
    NO_FAILED_CHECK,
    "partition hv-full: passed (expected pass): ok",
    VM_MANAGER,
    VERDICT_PASS,
];

/// `hv = []`: the two required privileges, nothing advertised beyond.
pub const VM_HV_MINIMUM_MARKERS: &[&str] = &[
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
pub const VM_HV_NONE_MARKERS: &[&str] = &[
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
pub const VM_HV_CRASH_MARKERS: &[&str] = &[
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
pub const VM_HV_RESET_MARKERS: &[&str] = &[
    "boot plan \"vm-hv-reset\": 2 components",
    "] INFO init: partition-manager: manager data for 1 partitions",
    "partition reset: ",
    "] INFO reset: # reset-guest: asking for a reset",
    "the guest asked for a reset (HV_X64_MSR_RESET)",
    "partition reset: Hv#1 state reset",
    "] INFO reset: # reset-guest: second run, after the reset",
    "] INFO reset: ok 1 - after the reset the guest OS ID reads 0",
    "] INFO reset: ok 2 - after the reset the hypercall page is disabled and unlocked",
    "] INFO reset: ok 3 - after the reset the reference TSC page is disabled, the RAM under it shows, and the reference counter kept counting",
    "] INFO reset: ok 4 - after the reset the invariant-TSC control reads 0 and CPUID 0x80000007 EDX[8] is hidden",
    "] INFO reset: ok 5 - after the reset the local APIC is in its power-on state: xAPIC mode, software-disabled, TPR 0, timer masked and stopped, nothing pending",
    "partition reset: passed (expected pass): ok",
    VM_MANAGER,
    VERDICT_PASS,
];

/// vm-smp-reset: the reset on 2 VPs, and each check of the second run by
/// name.
pub const VM_SMP_RESET_MARKERS: &[&str] = &[
    "boot plan \"vm-smp-reset\": 2 components",
    "] INFO init: partition-manager: manager data for 1 partitions",
    "partition smp-reset: ",
    "] INFO smp-reset: ok 1 - before the reset: VP 1 started, both VPs in x2APIC mode, VP 1 spinning in its guest",
    "the guest asked for a reset (HV_X64_MSR_RESET)",
    "partition smp-reset: reset 1: image reloaded, VP 0 restarted",
    "] INFO smp-reset: ok 1 - after the reset VP 1 waits for INIT/SIPI: it has not run in the reloaded image, and INIT alone does not start it",
    "] INFO smp-reset: ok 2 - after the reset INIT/SIPI start VP 1 as at power-on (CS 0x0800, CR0 0x60000010), its APIC at power-on (xAPIC mode, SVR 0xFF)",
    "] INFO smp-reset: # tessera-guest: 2 passed, 0 failed",
    "partition smp-reset: passed (expected pass): ok",
    VM_MANAGER,
    VERDICT_PASS,
];

/// vm-hv-routes: the manager installs the hypercall route, the probe
/// learns the partition's name, and routed-hypercall passes each check by
/// name: the probe answers code 0x0008 (with a rep count too), the kernel
/// the unrouted unknown code.
pub const VM_HV_ROUTES_MARKERS: &[&str] = &[
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
pub const ECHO_MARKERS: &[&str] = &[
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

/// What QEMU's serial multiplexer takes as "end the run": Ctrl-A X.
pub const QUIT: &[u8] = b"\x01x";

/// echo-guest asks for a line.
pub const ECHO_PROMPT: &str = "echo: echo-guest: type a line and press Enter (bye ends)";

/// console-echo: devices gets the console's input and gives it to the
/// partition; the guest answers the typed line.
pub const CONSOLE_ECHO_MARKERS: &[&str] = &[
    "boot plan \"console-echo\": 2 components",
    "] INFO init: partition-manager: manager data for 1 partitions",
    "partition echo: ",
    "console input: COM1 (IRQ 4",
    "] INFO serving COM1 (16550A at 0x3f8) to partitions; the console's input goes to the first",
    "] INFO what is typed on the console goes to partition echo's COM1",
    ECHO_PROMPT,
    "] INFO echo: echo-guest: you typed: hello tessera",
];

/// linux-early-boot: Debian's kernel in the `linux` deployment, as far as
/// it goes without an interrupt controller or a timer (issue 13). What is
/// checked, and why it is robust:
///
/// - our side, from the manager's log: the pinned kernel speaks boot
///   protocol 2.15 and is loaded at its `pref_address`, and VP 0 starts at
///   `startup_64` (load address + 0x200);
/// - the kernel's side, in the order Linux prints it: its banner and
///   command line (the decompressor found the zero page, ran and jumped to
///   the kernel), the e820 map it echoes (the loader's, entry by entry:
///   RAM, the reserved EBDA KiB, the ACPI tables, 256 MiB of RAM), Hyper-V
///   picked from CPUID, and every ACPI table found from `acpi_rsdp_addr`
///   with its checksum right (Linux refuses a table whose checksum is not);
/// - time from the Hv#1 interface: Linux registers the reference TSC page
///   as a clocksource (`hv-time`) and takes the TSC frequency from
///   `HV_X64_MSR_TSC_FREQUENCY` (`hv-frequencies`: "tsc: Detected", then
///   the delay loop "calculated using timer frequency"), where it used to
///   stop ("tsc: No reference (HPET/PMTIMER) available").
/// - where the test stops: right after that calibration (Ctrl-A X). Linux
///   goes on to `Run /init` and then idles forever with no timer
///   interrupt; on the way it reads AMD's `NB_CFG` MSR (`0xC001001F`,
///   `amd_bus_cpu_online`), which Tessera does not answer, so it logs an
///   "unchecked MSR access" with a call trace — not reached here. Timestamps, addresses KASLR chooses and the privilege
///   bits (which change as Tessera implements more) are not checked.
pub const LINUX_EARLY_BOOT_MARKERS: &[&str] = &[
    "boot plan \"linux\": 4 components",
    "partition linux: ",
    "] INFO init: partition-manager: manager data for 1 partitions",
    "partition linux: Linux boot protocol 2.15: kernel at 0x1000000",
    "partition linux: VP 0 started at rip 0x1000200",
    "] Linux version 6.1.0-",
    "] Command line: console=ttyS0 earlyprintk=serial,ttyS0 tessera.vps=2",
    "] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable",
    "] BIOS-e820: [mem 0x000000000009fc00-0x000000000009ffff] reserved",
    "] BIOS-e820: [mem 0x00000000000e0000-0x00000000000e0fff] ACPI data",
    "] BIOS-e820: [mem 0x0000000000100000-0x000000000fffffff] usable",
    "] Hypervisor detected: Microsoft Hyper-V",
    "] Hyper-V: privilege flags low 0x",
    "] clocksource: hyperv_clocksource_tsc_page: ",
    "] tsc: Detected ",
    "] ACPI: RSDP 0x00000000000E0000 000024 (v02 TESSRA)",
    "] ACPI: XSDT 0x",
    "] ACPI: FACP 0x",
    "] ACPI: DSDT 0x",
    "] ACPI: APIC 0x",
    "] Kernel command line: console=ttyS0",
    "] ACPI: Core revision ",
    "] Calibrating delay loop (skipped), value calculated using timer frequency",
    "] Hyper-V: Using enlightened APIC (x2apic mode)",
    "] smp: Brought up 1 node, 2 CPUs",
    "] Run /init as init process",
    "tessera-linux: userspace reached",
    "tessera-linux: ok - the clocksource is hyperv_clocksource_tsc_page",
    "tessera-linux: ok - every CPU's clockevent is the Hyper-V synthetic timer",
    "tessera-linux: ok - all 2 VPs are online (0-1)",
    "tessera-linux: ok - the time of day comes from the CMOS clock",
    "tessera-linux: ok - dmesg: Hypervisor detected: Microsoft Hyper-V",
    "tessera-linux: ok - dmesg has no 'Call Trace'",
    LINUX_INIT_CHECKED_DMESG,
    "tessera-linux: ok - dmesg has no 'WARNING'",
    "tessera-linux: powering off",
    "] reboot: Power down",
    "partition linux: ",
    "1 of 1 partitions ended as expected: pass",
    "deployment verdict from partition-manager",
    VERDICT_PASS,
];

/// /init found both VPs online and no kernel bug in dmesg; its clocksource
/// (the reference TSC page) and clockevent (the synthetic timer 0 in direct
/// mode, since `hv-stimer-direct`) are markers of their own.
pub const LINUX_INIT_CHECKED_DMESG: &str = "tessera-linux: ok - dmesg has no 'BUG'";

/// What must not appear while Linux boots: a kernel complaint (an MSR a
/// CPUID bit promised but that faults, a bug, a warning, a panic), an ACPI
/// error about our tables, or the partition stopped by a fault.
pub const LINUX_EARLY_BOOT_ABSENT: &[&str] = &[
    // The CMOS clock never settled (mc146818_get_time's one-second wait).
    "] Unable to read current time from RTC",
    // Linux's own line (`/init`'s report quotes the words).
    "] Call Trace:",
    "unchecked MSR access",
    "BUG:",
    // A WARN() splat. Not the bare word: Linux's notice that the emulated
    // Zen CPU lacks the SRSO microcode ("Speculative Return Stack
    // Overflow: WARNING: See ...") is about the CPU model QEMU's TCG offers.
    "WARNING: CPU:",
    "Kernel panic",
    "ACPI Error",
    "ACPI BIOS Error",
    "ACPI Warning",
    "; stopped",
    "MISMATCH",
    "kernel exception",
];

/// Guest SMP on 1 VP: the `smp` guest finds no AP (VP 1 does not come)
/// and runs its checks on VP 0 alone; every check by name.
pub const VM_SMP_1_MARKERS: &[&str] = &[
    "boot plan \"vm-smp-1\": 2 components",
    "] INFO init: partition-manager: manager data for 1 partitions",
    "partition smp: ",
    "] INFO partition smp: created (slot ",
    ", local APIC X2apic)",
    "] INFO smp: ok 1 - map the xAPIC page 0xFEE00000 (uncached)",
    "] INFO smp: ok 2 - no AP runs before INIT/SIPI, and INIT alone starts none (VP 1)",
    "] INFO smp: # 1 VPs: no VP 1 came after INIT/SIPI",
    "] INFO smp: # no hv-time: no reference time checks",
    "] INFO smp: ok 3 - logical flat: each VP takes exactly the IPIs whose mask has its LDR bit",
    "] INFO smp: ok 4 - logical cluster: cluster 1 both bits, and all clusters (0xF) bit 0",
    "] INFO smp: ok 5 - lowest priority: each IPI reaches exactly one VP of the logical set",
    "] INFO smp: ok 6 - shorthands from VP 0: self, all-including-self, all-excluding-self",
    "] INFO smp: ok 7 - every VP moves to x2APIC mode",
    "] INFO smp: ok 8 - x2APIC logical: cluster 0, each VP's bit its ID's",
    "] INFO smp: ok 9 - shorthands from VP 0: self, all-including-self, all-excluding-self",
    "] INFO smp: # tessera-guest: 9 passed, 0 failed",
    VM_ENDED_AS_EXPECTED,
    VM_MANAGER,
    VERDICT_PASS,
];

/// Guest SMP on 2 VPs (one per host CPU): every check of the `smp` guest
/// by name, VP 1 among them, and the reference time across VPs (`hv-time`).
pub const VM_SMP_2_MARKERS: &[&str] = &[
    "boot plan \"vm-smp-2\": 2 components",
    "] INFO init: partition-manager: manager data for 1 partitions",
    "partition smp: ",
    "] INFO partition smp: created (slot ",
    ", local APIC X2apic)",
    "] INFO smp: ok 1 - map the xAPIC page 0xFEE00000 (uncached)",
    "] INFO smp: ok 2 - no AP runs before INIT/SIPI, and INIT alone starts none (VP 1)",
    "] INFO smp: ok 3 - xAPIC: INIT/SIPI started VP 1 in real mode at vector 0x08 (CS 0x0800, CR0 0x60000010, EDX the CPUID signature), its APIC at power-on (SVR 0xFF, xAPIC mode)",
    "] INFO smp: ok 4 - a second SIPI to the running VP 1 is ignored",
    "] INFO smp: # 2 VPs: no VP 2 came after INIT/SIPI",
    "] INFO smp: ok 5 - hv-time: the reference TSC page and TIME_REF_COUNT, read in turn on every VP, never go back",
    "] INFO smp: ok 6 - xAPIC: a fixed IPI from each VP to each other VP reaches exactly that VP (2 pairs)",
    "] INFO smp: ok 7 - NMI IPIs: VP 0 to every AP and every AP to VP 0",
    "] INFO smp: ok 8 - logical flat: each VP takes exactly the IPIs whose mask has its LDR bit",
    "] INFO smp: ok 9 - logical cluster: cluster 1 both bits, and all clusters (0xF) bit 0",
    "] INFO smp: ok 10 - lowest priority: each IPI reaches exactly one VP of the logical set",
    "] INFO smp: ok 11 - shorthands from VP 0: self, all-including-self, all-excluding-self",
    "] INFO smp: ok 12 - an AP halted in HLT wakes for an IPI at once",
    "] INFO smp: ok 13 - every VP moves to x2APIC mode",
    "] INFO smp: ok 14 - x2APIC: INIT/SIPI restarts every AP in real mode at vector 0x09 (CS 0x0900, CR0 0x10), its APIC reset (SVR 0xFF) and still in x2APIC mode",
    "] INFO smp: ok 15 - x2APIC: a fixed IPI from each VP to each other VP reaches exactly that VP (2 pairs)",
    "] INFO smp: ok 16 - x2APIC logical: cluster 0, each VP's bit its ID's",
    "] INFO smp: ok 17 - shorthands from VP 0: self, all-including-self, all-excluding-self",
    "] INFO smp: # tessera-guest: 17 passed, 0 failed",
    VM_ENDED_AS_EXPECTED,
    VM_MANAGER,
    VERDICT_PASS,
];

/// Guest SMP on 4 VPs over both host CPUs: every check of the `smp`
/// guest by name, VPs 1-3 among them, and the reference time across VPs.
pub const VM_SMP_4_MARKERS: &[&str] = &[
    "boot plan \"vm-smp-4\": 2 components",
    "] INFO init: partition-manager: manager data for 1 partitions",
    "partition smp: ",
    "] INFO partition smp: created (slot ",
    ", local APIC X2apic)",
    "] INFO smp: ok 1 - map the xAPIC page 0xFEE00000 (uncached)",
    "] INFO smp: ok 2 - no AP runs before INIT/SIPI, and INIT alone starts none (VP 1)",
    "] INFO smp: ok 3 - xAPIC: INIT/SIPI started VP 1 in real mode at vector 0x08 (CS 0x0800, CR0 0x60000010, EDX the CPUID signature), its APIC at power-on (SVR 0xFF, xAPIC mode)",
    "] INFO smp: ok 4 - a second SIPI to the running VP 1 is ignored",
    "] INFO smp: ok 5 - xAPIC: INIT/SIPI started VP 2 in real mode at vector 0x08 (CS 0x0800, CR0 0x60000010, EDX the CPUID signature), its APIC at power-on (SVR 0xFF, xAPIC mode)",
    "] INFO smp: ok 6 - a second SIPI to the running VP 2 is ignored",
    "] INFO smp: ok 7 - xAPIC: INIT/SIPI started VP 3 in real mode at vector 0x08 (CS 0x0800, CR0 0x60000010, EDX the CPUID signature), its APIC at power-on (SVR 0xFF, xAPIC mode)",
    "] INFO smp: ok 8 - a second SIPI to the running VP 3 is ignored",
    "] INFO smp: # 4 VPs",
    "] INFO smp: ok 9 - hv-time: the reference TSC page and TIME_REF_COUNT, read in turn on every VP, never go back",
    "] INFO smp: ok 10 - xAPIC: a fixed IPI from each VP to each other VP reaches exactly that VP (12 pairs)",
    "] INFO smp: ok 11 - NMI IPIs: VP 0 to every AP and every AP to VP 0",
    "] INFO smp: ok 12 - logical flat: each VP takes exactly the IPIs whose mask has its LDR bit",
    "] INFO smp: ok 13 - logical cluster: cluster 1 both bits, and all clusters (0xF) bit 0",
    "] INFO smp: ok 14 - lowest priority: each IPI reaches exactly one VP of the logical set",
    "] INFO smp: ok 15 - lowest priority: the VP with the lowest TPR takes every IPI of the set",
    "] INFO smp: ok 16 - shorthands from VP 0: self, all-including-self, all-excluding-self",
    "] INFO smp: ok 17 - an AP halted in HLT wakes for an IPI at once",
    "] INFO smp: ok 18 - every VP moves to x2APIC mode",
    "] INFO smp: ok 19 - x2APIC: INIT/SIPI restarts every AP in real mode at vector 0x09 (CS 0x0900, CR0 0x10), its APIC reset (SVR 0xFF) and still in x2APIC mode",
    "] INFO smp: ok 20 - x2APIC: a fixed IPI from each VP to each other VP reaches exactly that VP (12 pairs)",
    "] INFO smp: ok 21 - x2APIC logical: cluster 0, each VP's bit its ID's",
    "] INFO smp: ok 22 - shorthands from VP 0: self, all-including-self, all-excluding-self",
    "] INFO smp: # tessera-guest: 22 passed, 0 failed",
    VM_ENDED_AS_EXPECTED,
    VM_MANAGER,
    VERDICT_PASS,
];
