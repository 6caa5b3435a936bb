//! `smp-bench`: what an IPI to a VP on the other host CPU costs, for
//! `cargo xtask bench` (boot/deployments/vm-bench-smp.toml, 2 VPs on host
//! CPUs 0 and 1, run under `-icount shift=0`: the TSC counts
//! instructions). It starts VP 1 with the `smp` guest's start code
//! (INIT/SIPI), moves both VPs to x2APIC mode and prints, the least of
//! `ROUNDS` each:
//!
//! - `bench: ipi-remote-halted N`: VP 1 halted in HLT (its host CPU idle);
//! - `bench: ipi-remote-running N`: VP 1 spinning in its guest;
//! - `bench: port-read-remote-handler N`: VP 1 reads COM1's line status
//!   register, whose handler (`devices`) runs on VP 0's host CPU while VP 0
//!   spins in its guest: N is VP 1's TSC distance across its `IN`, so it
//!   counts how soon the busy CPU gives the handler its turn.
//!
//! N is the TSC from just before VP 0's WRMSR of the x2APIC ICR to VP 1's
//! interrupt recorder (13 instructions into its handler). Under -icount
//! QEMU runs the two virtual CPUs one after the other on one thread, and
//! the TSC counts the instructions of both: N is every instruction either
//! host CPU executed in between — the sender's exit, posting and kick, its
//! return to the guest and its spinning, the target CPU's wake-up or exit,
//! injection and entry — not the latency one CPU would see alone.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use core::sync::atomic::Ordering;
use smp::{ap, apic, hw, irq, wait_for};
use tessera_guest_framework::paging::DeviceWindow;
use tessera_guest_framework::{Suite, cpu, ensure, println};

tessera_guest_framework::entry!(main);

const ROUNDS: usize = 8;
/// COM1's line status register (`devices` serves COM1 on host CPU 0).
const COM1_LSR: u64 = 0x3FD;
const VECTOR: u32 = 0x70;

/// The least TSC distance, over [`ROUNDS`], from just before VP 0's ICR
/// write to VP 1's handler, each round once `ready()`.
fn least_ipi_ticks(ready: impl Fn() -> bool) -> u64 {
    let mut least = u64::MAX;
    for _ in 0..ROUNDS {
        wait_for(&ready);
        let taken = irq::received(1, VECTOR as u8);
        let start = cpu::rdtsc();
        hw::wrmsr(0x830, 1 << 32 | u64::from(VECTOR));
        wait_for(|| irq::received(1, VECTOR as u8) > taken);
        least = least.min(irq::handler_tsc(1).wrapping_sub(start));
    }
    least
}

fn main(suite: &mut Suite) {
    hw::install_idt(cpu::code_selector());
    let ready = suite.check("VP 1 started by INIT/SIPI, both VPs in x2APIC mode", || {
        DeviceWindow::map(hw::APIC_PAGE, 0x1000)?;
        apic::write(apic::SVR, 0x1FF, false);
        hw::prepare_start_pages(ap::entry);
        hw::sti();
        hw::set_next_stack(1);
        apic::send(apic::INIT | apic::ASSERT, 1, false);
        apic::send(apic::STARTUP | 0x08, 1, false);
        wait_for(|| ap::ARRIVALS[1].count.load(Ordering::SeqCst) == 1);
        ensure!(
            ap::command(1, ap::Operation::ToX2apic, 0),
            "VP 1 did not move"
        );
        hw::wrmsr(0x1B, hw::rdmsr(0x1B) | 1 << 10);
        irq::set_x2apic(true);
        Ok(())
    });
    if !ready {
        return;
    }
    let halted = least_ipi_ticks(|| ap::HALTED[1].load(Ordering::SeqCst) == 1);
    println!("bench: ipi-remote-halted {halted}");
    let spin = ap::post(1, ap::Operation::Spin, 0);
    let running = least_ipi_ticks(|| ap::busy_with(1, spin));
    ap::stop_spinning();
    println!("bench: ipi-remote-running {running}");
    let mut port_read = u64::MAX;
    suite.check(
        "a port read whose handler shares a busy CPU is served before that CPU's next time slice",
        || {
            for _ in 0..ROUNDS {
                ensure!(
                    ap::command(1, ap::Operation::TimePortRead, COM1_LSR),
                    "VP 1 did not finish its port read"
                );
                port_read = port_read.min(ap::PORT_TICKS[1].load(Ordering::SeqCst));
            }
            // Under -icount a TSC tick is an instruction, and the kernel's
            // 10 ms time slice is 10^7 of them; before the busy CPU was
            // interrupted for the handler, the read took 1.8 * 10^6.
            ensure!(
                port_read < SLICE_BOUND,
                "{port_read} TSC ticks, not below {SLICE_BOUND}"
            );
            Ok(())
        },
    );
    println!("bench: port-read-remote-handler {port_read}");
}

/// A tenth of the kernel's time slice in instructions under -icount.
const SLICE_BOUND: u64 = 1_000_000;
