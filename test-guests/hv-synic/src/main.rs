//! `hv-synic`: the system test of the SynIC and the synthetic timers (issue
//! 14; `kernel/synic/README.md`). The partition has 2 VPs, an x2APIC, and
//! `hv-synic`, `hv-stimer`, `hv-stimer-direct`; its SynIC registers go to
//! the `synic` component, its timers are the kernel's. VP 0 checks, with
//! interrupts of its own (`tessera_guest_framework::interrupt`):
//!
//! - CPUID: AccessSynicRegs, AccessSyntheticTimerRegs,
//!   DirectSyntheticTimers, PostMessages and SignalEvents (`hv-synic`
//!   grants both, as QEMU's; the `synic-ipc` guest uses them);
//! - every register's reset value, reserved bits and #GP cases
//!   (`registers.rs`);
//! - SIMP and SIEFP as overlays: the RAM under them hidden while enabled,
//!   back when disabled, the page's contents kept across (`registers.rs`);
//! - the timers (`timers.rs`): one-shot in message and direct mode, never
//!   early; a timer set in the past; periodic for 1000 periods with every
//!   expiration on its grid; lazy; auto-enable; a timer firing while SIMP
//!   is disabled, delivered when it is enabled; MessagePending and EOM
//!   redelivery; AutoEOI.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod registers;
mod timers;

use tessera_guest_framework::pages as memory;
use tessera_guest_framework::{Suite, cpu, ensure, ensure_eq, interrupt};

tessera_guest_framework::entry!(main);

fn main(suite: &mut Suite) {
    interrupt::install();
    let ready = suite.check(
        "x2APIC on, software enabled; free RAM for the SynIC pages",
        || {
            interrupt::x2apic_on()?;
            ensure!(memory::init(), "no free RAM");
            Ok(())
        },
    );
    if !ready {
        return;
    }
    suite.check(
        "CPUID 0x40000003: AccessSynicRegs, AccessSyntheticTimerRegs, DirectSyntheticTimers, PostMessages, SignalEvents",
        || {
            let leaf = cpu::cpuid(0x4000_0003, 0);
            ensure_eq!(leaf.eax & 0b1100, 0b1100, "EAX bits 2 and 3");
            ensure_eq!(leaf.ebx & 0b11_0000, 0b11_0000, "EBX bits 4 and 5");
            ensure_eq!(leaf.edx & 1 << 19, 1 << 19, "EDX bit 19");
            Ok(())
        },
    );
    registers::run(suite);
    timers::run(suite);
}
