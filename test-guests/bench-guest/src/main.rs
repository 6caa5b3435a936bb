//! `bench-guest`: the guest side of `cargo xtask bench`. It counts what one
//! CPUID exit costs when the kernel answers it (leaf 0) and when the kernel
//! forwards it to a component (the probe's leaf 0x4C000000), and prints
//!
//! ```text
//! bench: cpuid-kernel <n>
//! bench: cpuid-forwarded <n>
//! ```
//!
//! where `<n>` is TSC ticks per CPUID, minus the ticks of the same loop
//! without the CPUID. Under QEMU with `-icount shift=0` the TSC advances
//! once per instruction executed, so `<n>` is the instructions that the
//! exit, the hypervisor's handling and the return took. Each figure is the
//! least of several measurements after a warm-up.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod loops;

use tessera_guest_framework::guest_ports::probe;
use tessera_guest_framework::{Suite, cpu, ensure, println};

tessera_guest_framework::entry!(main);

/// CPUIDs per measurement.
const ITERATIONS: u64 = 1000;
/// Measurements per figure; the least counts.
const MEASUREMENTS: u32 = 5;
const KERNEL_LEAF: u32 = 0;
const FORWARDED_LEAF: u32 = *probe::CPUID_LEAVES.start();

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
    if forwarded {
        let forwarded = least_ticks(|| loops::cpuid(FORWARDED_LEAF, ITERATIONS));
        suite.note(format_args!(
            "bench-guest: with CPUID {FORWARDED_LEAF:#x} {forwarded} ticks"
        ));
        println!(
            "bench: cpuid-forwarded {}",
            per_iteration(forwarded, baseline)
        );
    }
}

/// Runs `measure` once to warm up (caches, TLBs, the handler's first-call
/// work), then [`MEASUREMENTS`] times; returns the least result.
fn least_ticks(mut measure: impl FnMut() -> u64) -> u64 {
    measure();
    (0..MEASUREMENTS).map(|_| measure()).min().unwrap_or(0)
}

fn per_iteration(ticks: u64, baseline: u64) -> u64 {
    ticks.saturating_sub(baseline) / ITERATIONS
}
