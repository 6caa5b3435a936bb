//! The SynIC's figures (issue 14): `HvCallPostMessage` from the hypercall
//! to the handler of the SINT's interrupt in the receiving VP, and a fast
//! `HvCallSignalEvent`, both on connections of the manifest (the
//! partition posts to and signals its own ports: `vm-bench.toml`). Only
//! where the partition offers AccessSynicRegs, PostMessages and
//! SignalEvents.
//!
//! `post-message` is the handler's first TSC read minus the TSC read right
//! before the VMMCALL, with interrupts enabled: the exit, the input
//! block's read and checks, the connection's resolution, the message into
//! the slot, the interrupt posted and injected at the entry, and the
//! guest's interrupt delivery. `signal-event-fast` is the VMMCALL alone,
//! with interrupts disabled, on a flag that is clear (so it raises the
//! SINT's interrupt, taken after the measurement).

use tessera_guest_framework::interrupt::{self, Eoi};
use tessera_guest_framework::{Suite, cpu, ensure, ensure_eq, failure, pages, println};

use crate::least_ticks;

const SCONTROL: u32 = 0x4000_0080;
const SIEFP: u32 = 0x4000_0082;
const SIMP: u32 = 0x4000_0083;
const SINT0: u32 = 0x4000_0090;
const POST_MESSAGE: u64 = 0x005C;
const SIGNAL_EVENT_FAST: u64 = 0x005D | 1 << 16;
/// The manifest's ports and connections (`vm-bench.toml`).
const MESSAGE_CONNECTION: u64 = 0x30;
const EVENT_CONNECTION: u64 = 0x31;
const MESSAGE_SINT: u32 = 5;
const EVENT_SINT: u32 = 6;
/// Not the self-IPI's (0x40), the APIC timer's (0x41) or the synthetic
/// timer's (0x42).
const MESSAGE_VECTOR: u8 = 0x45;
const EVENT_VECTOR: u8 = 0x46;

/// Whether the partition offers the SynIC and both hypercalls.
pub fn offered() -> bool {
    let leaf = cpu::cpuid(0x4000_0003, 0);
    leaf.eax & 1 << 2 != 0 && leaf.ebx & 0b11_0000 == 0b11_0000
}

/// Measures both; `input` is a page for the input block (hypercalls are
/// enabled).
pub fn run(suite: &mut Suite, input: u64) {
    interrupt::install();
    interrupt::set_eoi(Eoi::X2apicMsr);
    let mut sim = 0;
    let mut sief = 0;
    let ready = suite.check("SIMP, SIEFP, SCONTROL on; SINT 5 and 6 unmasked", || {
        ensure!(pages::init(), "no free RAM");
        sim = pages::alloc_page().ok_or_else(|| failure!("no page"))?;
        sief = pages::alloc_page().ok_or_else(|| failure!("no page"))?;
        cpu::wrmsr(SIMP, sim | 1)?;
        cpu::wrmsr(SIEFP, sief | 1)?;
        cpu::wrmsr(SCONTROL, 1)?;
        cpu::wrmsr(SINT0 + MESSAGE_SINT, u64::from(MESSAGE_VECTOR))?;
        cpu::wrmsr(SINT0 + EVENT_SINT, u64::from(EVENT_VECTOR))?;
        Ok(())
    });
    if !ready {
        return;
    }
    // Connection, type 1, 16 bytes.
    pages::write_u64(input, MESSAGE_CONNECTION);
    pages::write_u64(input + 8, 1 | 16 << 32);
    let slot = sim + 256 * u64::from(MESSAGE_SINT);
    let flags = sief + 256 * u64::from(EVENT_SINT);
    let (mut posts, mut statuses) = (0, 0u64);
    let post = least_ticks(|| {
        let before = interrupt::count(MESSAGE_VECTOR);
        interrupt::sti();
        let start = cpu::rdtsc();
        let result = cpu::hypercall(POST_MESSAGE, input, 0).unwrap_or(u64::MAX);
        while interrupt::count(MESSAGE_VECTOR) == before {
            core::hint::spin_loop();
        }
        interrupt::cli();
        statuses |= result & 0xFFFF;
        posts += 1;
        // The guest takes the message: the slot is free for the next.
        pages::write_u64(slot, 0);
        interrupt::last_tsc().wrapping_sub(start)
    });
    let mut signals = 0;
    let signal = least_ticks(|| {
        let before = interrupt::count(EVENT_VECTOR);
        pages::write_u64(flags, 0);
        let start = cpu::rdtsc();
        let result = cpu::hypercall(SIGNAL_EVENT_FAST, EVENT_CONNECTION, 0).unwrap_or(u64::MAX);
        let end = cpu::rdtsc();
        statuses |= result & 0xFFFF;
        interrupt::sti();
        while interrupt::count(EVENT_VECTOR) == before {
            core::hint::spin_loop();
        }
        interrupt::cli();
        signals += 1;
        end.wrapping_sub(start)
    });
    let good = suite.check(
        "every post reached the handler and every signal raised the SINT, all HV_STATUS_SUCCESS",
        || {
            ensure_eq!(statuses, 0, "statuses or'ed");
            ensure_eq!(
                u64::from(interrupt::count(MESSAGE_VECTOR)),
                posts,
                "SINT 5 interrupts"
            );
            ensure_eq!(
                u64::from(interrupt::count(EVENT_VECTOR)),
                signals,
                "SINT 6 interrupts"
            );
            Ok(())
        },
    );
    if good {
        println!("bench: post-message {post}");
        println!("bench: signal-event-fast {signal}");
    }
}
