//! `bench-guest`: the guest side of `cargo xtask bench`. It counts what one
//! CPUID exit costs when the kernel answers it (leaf 0) and when the kernel
//! forwards it to a component (the probe's leaf 0x4C000000), and prints
//!
//! ```text
//! bench: cpuid-kernel <n>
//! bench: cpuid-forwarded <n>
//! bench: port-write-forwarded <n>
//! bench: exit-bare <n>
//! bench: hypercall-fast <n>
//! bench: hypercall-memory <n>
//! bench: eoi-x2apic <n>
//! bench: self-ipi <n>
//! bench: timer-interrupt <n>
//! bench: stimer-direct <n>
//! bench: post-message <n>
//! bench: signal-event-fast <n>
//! ```
//!
//! `exit-bare` is an IN from a port nothing handles, which the kernel
//! answers with all ones: the VMRUN round trip plus the least work an exit
//! can take. (An INVD would be barer, but QEMU's TCG does not intercept it.)
//! `port-write-forwarded` is a 32-bit OUT to the probe's scratch port,
//! forwarded to probe-device with its TLFS I/O port intercept body and
//! answered by its reply. The hypercalls (only when the partition has
//! the Hv#1 interface) are `HvCallNotifyLongSpinWait`, once as a fast call
//! (registers only) and once with its input in memory.
//!
//! where `<n>` is TSC ticks per CPUID, minus the ticks of the same loop
//! without the CPUID. Under QEMU with `-icount shift=0` the TSC advances
//! once per instruction executed, so `<n>` is the instructions that the
//! exit, the hypervisor's handling and the return took. Each figure is the
//! least of several measurements after a warm-up.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod apic;
mod loops;
mod stimer;
mod synic;

use tessera_guest_framework::guest_ports::probe;
use tessera_guest_framework::{Suite, cpu, ensure, failure, println};

tessera_guest_framework::entry!(main);

/// CPUIDs (exits) per measurement.
pub(crate) const ITERATIONS: u64 = 1000;
/// Measurements per figure; the least counts.
const MEASUREMENTS: u32 = 5;
const KERNEL_LEAF: u32 = 0;
const FORWARDED_LEAF: u32 = *probe::CPUID_LEAVES.start();

/// The hypercall input value of `HvCallNotifyLongSpinWait` (code 0x0008),
/// and its fast-call bit (TLFS md `hypercall-interface.md`).
const NOTIFY_LONG_SPIN_WAIT: u64 = 0x0008;
const FAST: u64 = 1 << 16;
/// What the port-write figure writes to the probe's scratch port.
const SCRATCH_VALUE: u32 = 0x5A5A_0F0F;
/// A port no route takes in the bench deployment.
const ABSENT_PORT: u16 = 0x6E0;
const HV_X64_MSR_GUEST_OS_ID: u32 = 0x4000_0000;
const HV_X64_MSR_HYPERCALL: u32 = 0x4000_0001;
/// "Hv#1" in leaf 0x40000001 EAX.
const HV1_INTERFACE: u32 = 0x3123_7648;

/// Page-aligned guest memory for the hypercall page and an input block.
#[repr(C, align(4096))]
struct Pages([u8; 2 * 4096]);
static mut PAGES: Pages = Pages([0; 2 * 4096]);

fn main(suite: &mut Suite) {
    let forwarded = suite.check("CPUID 0x4C000000 is answered by the probe", || {
        let answer = cpu::cpuid(FORWARDED_LEAF, 0);
        ensure!(
            answer.edx == probe::CPUID_SIGNATURE,
            "got {answer}: the probe's CPUID route is missing"
        );
        Ok(())
    });

    let baseline = least_ticks(|| loops::baseline(ITERATIONS));
    let kernel = least_ticks(|| loops::cpuid(KERNEL_LEAF, ITERATIONS));
    suite.note(format_args!(
        "bench-guest: {ITERATIONS} iterations, least of {MEASUREMENTS}: loop alone {baseline} ticks, with CPUID {KERNEL_LEAF:#x} {kernel} ticks"
    ));
    println!("bench: cpuid-kernel {}", per_iteration(kernel, baseline));
    let port = least_ticks(|| loops::absent_port(ABSENT_PORT, ITERATIONS));
    let port_baseline = least_ticks(|| loops::absent_port_baseline(ITERATIONS));
    println!("bench: exit-bare {}", per_iteration(port, port_baseline));
    let hypercalls_on = cpu::cpuid(0x4000_0001, 0).eax == HV1_INTERFACE && hypercalls(suite);
    if !hypercalls_on {
        suite.note(format_args!(
            "bench-guest: no Hv#1 interface: no hypercall figures"
        ));
    }
    if apic::offered() {
        apic::run(suite);
        if stimer::offered() {
            stimer::run(suite);
        } else {
            suite.note(format_args!(
                "bench-guest: no direct-mode synthetic timers: no timer figure"
            ));
        }
        if hypercalls_on && synic::offered() {
            synic::run(suite, (&raw const PAGES) as u64 + 4096);
        } else {
            suite.note(format_args!(
                "bench-guest: no SynIC hypercalls: no message or event figures"
            ));
        }
    } else {
        suite.note(format_args!(
            "bench-guest: no x2APIC: no local APIC figures"
        ));
    }
    if forwarded {
        let forwarded = least_ticks(|| loops::cpuid(FORWARDED_LEAF, ITERATIONS));
        suite.note(format_args!(
            "bench-guest: with CPUID {FORWARDED_LEAF:#x} {forwarded} ticks"
        ));
        println!(
            "bench: cpuid-forwarded {}",
            per_iteration(forwarded, baseline)
        );
        // The probe's scratch port takes the write (the same handler as
        // the CPUID, with an I/O port intercept body instead).
        let written =
            least_ticks(|| loops::port_write(probe::SCRATCH_PORT, SCRATCH_VALUE, ITERATIONS));
        let routed = suite.check("the probe's scratch port kept the measured writes", || {
            let read = tessera_guest_framework::port::inl(probe::SCRATCH_PORT);
            ensure!(
                read == SCRATCH_VALUE,
                "read {read:#x}: the probe's port route is missing"
            );
            Ok(())
        });
        if routed {
            println!(
                "bench: port-write-forwarded {}",
                per_iteration(written, port_baseline)
            );
        }
    }
}

/// Runs `measure` once to warm up (caches, TLBs, the handler's first-call
/// work), then [`MEASUREMENTS`] times; returns the least result.
pub(crate) fn least_ticks(mut measure: impl FnMut() -> u64) -> u64 {
    measure();
    (0..MEASUREMENTS).map(|_| measure()).min().unwrap_or(0)
}

pub(crate) fn per_iteration(ticks: u64, baseline: u64) -> u64 {
    ticks.saturating_sub(baseline) / ITERATIONS
}

/// Enables hypercalls (guest OS ID, hypercall page) and measures the fast
/// and the memory-based form of `HvCallNotifyLongSpinWait`; whether they
/// are enabled.
fn hypercalls(suite: &mut Suite) -> bool {
    // The loader identity-maps RAM, so a static's address is its GPA.
    let pages = (&raw const PAGES) as u64;
    let (hypercall_page, input) = (pages, pages + 4096);
    let enabled = suite.check("hypercalls enabled (guest OS ID, hypercall page)", || {
        cpu::wrmsr(HV_X64_MSR_GUEST_OS_ID, 0x8000_0000_0000_0001)
            .map_err(|caught| failure!("guest OS ID: {caught}"))?;
        cpu::wrmsr(HV_X64_MSR_HYPERCALL, hypercall_page | 1)
            .map_err(|caught| failure!("hypercall MSR: {caught}"))?;
        for (form, control, gpa) in [
            ("fast", NOTIFY_LONG_SPIN_WAIT | FAST, 0),
            ("memory", NOTIFY_LONG_SPIN_WAIT, input),
        ] {
            let status = loops::hypercall(control, gpa, 0) & 0xFFFF;
            ensure!(
                status == 0,
                "the {form} HvCallNotifyLongSpinWait returned status {status:#x}"
            );
        }
        Ok(())
    });
    if !enabled {
        return false;
    }
    let baseline = least_ticks(|| loops::vmmcall_baseline(ITERATIONS));
    let fast = least_ticks(|| loops::vmmcall(NOTIFY_LONG_SPIN_WAIT | FAST, 0, 0, ITERATIONS));
    let memory = least_ticks(|| loops::vmmcall(NOTIFY_LONG_SPIN_WAIT, input, 0, ITERATIONS));
    println!("bench: hypercall-fast {}", per_iteration(fast, baseline));
    println!(
        "bench: hypercall-memory {}",
        per_iteration(memory, baseline)
    );
    true
}
