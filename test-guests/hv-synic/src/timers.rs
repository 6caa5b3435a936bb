//! The synthetic timers (TLFS md `timers.md` § Synthetic Timers, TLFS 6.0b
//! §12 and §13.3), each waited for in HLT; the kernel runs them off its
//! host timer. Message mode sends `HvMessageTimerExpired` (0x80000010) to
//! SINT [`TIMER_SINT`]'s slot of the SIM page; direct mode asserts a
//! vector. Reference time is `HV_X64_MSR_TIME_REF_COUNT` (100 ns units).

use tessera_guest_framework::interrupt::{self, Eoi};
use tessera_guest_framework::{Failure, Suite, cpu, ensure, ensure_eq, fail};

use crate::registers::{
    AUTO_EOI, EOM, MASKED, SIMP, SINT0, TIME_REF_COUNT, stimer_config, stimer_count,
};
use tessera_guest_framework::pages as memory;
use tessera_guest_framework::pages::MESSAGE_PENDING;

/// The SINT the message-mode timers use, and its vector.
const TIMER_SINT: u32 = 2;
const TIMER_VECTOR: u8 = 0x52;
/// A second SINT, with AutoEOI.
const AUTO_SINT: u32 = 3;
const AUTO_VECTOR: u8 = 0x53;
/// The direct-mode vector.
const DIRECT_VECTOR: u8 = 0x60;
const HV_MESSAGE_TIMER_EXPIRED: u64 = 0x8000_0010;
/// Config bits.
const ENABLE: u64 = 1;
const PERIODIC: u64 = 1 << 1;
const LAZY: u64 = 1 << 2;
const AUTO_ENABLE: u64 = 1 << 3;
const DIRECT: u64 = 1 << 12;
/// 5 ms.
const SHORT: u64 = 50_000;
/// The periodic checks: 1000 periods of 2 ms.
const PERIOD: u64 = 20_000;
const PERIODS: u64 = 1000;
/// x2APIC ISR, vectors 32n..32n+31 at 0x810 + n.
const X2APIC_ISR0: u32 = 0x810;

fn now() -> Result<u64, Failure> {
    Ok(cpu::rdmsr(TIME_REF_COUNT)?)
}

fn sint_config(sintx: u32) -> u64 {
    u64::from(sintx) << 16
}

/// A timer message as the slot holds it.
struct TimerMessage {
    header: u64,
    index: u64,
    expiration: u64,
    delivery: u64,
}

/// Reads SINT `sint`'s slot of the SIM page at `sim`.
fn slot(sim: u64, sint: u32) -> TimerMessage {
    let at = sim + 256 * u64::from(sint);
    TimerMessage {
        header: memory::read_u64(at),
        index: memory::read_u64(at + 16) & 0xFFFF_FFFF,
        expiration: memory::read_u64(at + 24),
        delivery: memory::read_u64(at + 32),
    }
}

/// The guest's handling of a message (TLFS md § Recommended Message
/// Handling): the type back to none, then EOM if MessagePending was set.
fn consume(sim: u64, sint: u32) -> Result<TimerMessage, Failure> {
    let message = slot(sim, sint);
    ensure_eq!(
        message.header & 0xFFFF_FFFF,
        HV_MESSAGE_TIMER_EXPIRED,
        "message type"
    );
    if memory::end_message(sim + 256 * u64::from(sint)) {
        cpu::wrmsr(EOM, 0)?;
    }
    Ok(message)
}

/// Waits in HLT until `vector` came `count` times in all.
fn wait_for(vector: u8, count: u32) -> Result<(), Failure> {
    for _ in 0..100_000 {
        if interrupt::count(vector) >= count {
            return Ok(());
        }
        interrupt::sti_hlt();
        interrupt::cli();
    }
    fail!(
        "vector {vector:#x} came {} times, not {count}",
        interrupt::count(vector)
    )
}

fn stop(timer: u32) -> Result<(), Failure> {
    cpu::wrmsr(stimer_config(timer), 0)?;
    cpu::wrmsr(stimer_count(timer), 0)?;
    Ok(())
}

pub fn run(suite: &mut Suite) {
    interrupt::set_eoi(Eoi::X2apicMsr);
    let Some(sim) = memory::alloc_page() else {
        suite.check("a page for the SIM", || fail!("no free page"));
        return;
    };
    let ready = suite.check("SCONTROL, SIMP and SINT2 enabled for the timers", || {
        cpu::wrmsr(crate::registers::SCONTROL, 1)?;
        cpu::wrmsr(SIMP, sim | 1)?;
        cpu::wrmsr(SINT0 + TIMER_SINT, u64::from(TIMER_VECTOR))?;
        cpu::wrmsr(SINT0 + AUTO_SINT, u64::from(AUTO_VECTOR) | AUTO_EOI)?;
        ensure_eq!(slot(sim, TIMER_SINT).header, 0, "an empty slot");
        Ok(())
    });
    if !ready {
        return;
    }
    suite.check(
        "one-shot, message mode: HvMessageTimerExpired in the SINT's slot, never early, then the timer is disabled",
        || {
            interrupt::reset();
            let start = now()?;
            let expiration = start + SHORT;
            cpu::wrmsr(stimer_count(0), expiration)?;
            cpu::wrmsr(stimer_config(0), ENABLE | sint_config(TIMER_SINT))?;
            wait_for(TIMER_VECTOR, 1)?;
            let woke = now()?;
            let message = consume(sim, TIMER_SINT)?;
            ensure_eq!(message.header >> 32 & 0xFF, 24, "payload size");
            ensure_eq!(message.index, 0, "timer index");
            ensure_eq!(message.expiration, expiration, "expiration time");
            ensure!(
                message.delivery >= expiration && message.delivery <= woke,
                "delivery time {} outside {expiration}..={woke}",
                message.delivery
            );
            ensure!(woke >= expiration, "woke at {woke}, before {expiration}");
            ensure_eq!(cpu::rdmsr(stimer_config(0))? & ENABLE, 0, "Enable after expiry");
            Ok(())
        },
    );
    suite.check(
        "one-shot, direct mode: the vector without a message, never early",
        || {
            interrupt::reset();
            let expiration = now()? + SHORT;
            cpu::wrmsr(stimer_count(1), expiration)?;
            cpu::wrmsr(
                stimer_config(1),
                ENABLE | DIRECT | u64::from(DIRECT_VECTOR) << 4,
            )?;
            wait_for(DIRECT_VECTOR, 1)?;
            ensure!(interrupt::last_tsc() > 0, "no handler TSC");
            ensure!(now()? >= expiration, "fired before {expiration}");
            ensure_eq!(
                slot(sim, TIMER_SINT).header & 0xFFFF_FFFF,
                0,
                "the slot's message type"
            );
            ensure_eq!(interrupt::count(TIMER_VECTOR), 0, "SINT interrupts");
            Ok(())
        },
    );
    suite.check(
        "a one-shot set in the past expires at once; auto-enable: a non-zero count sets Enable",
        || {
            interrupt::reset();
            cpu::wrmsr(stimer_config(2), AUTO_ENABLE | sint_config(TIMER_SINT))?;
            ensure_eq!(
                cpu::rdmsr(stimer_config(2))? & ENABLE,
                0,
                "Enable before the count"
            );
            let past = now()?.saturating_sub(10);
            cpu::wrmsr(stimer_count(2), past)?;
            wait_for(TIMER_VECTOR, 1)?;
            let message = consume(sim, TIMER_SINT)?;
            ensure_eq!(message.index, 2, "timer index");
            ensure_eq!(message.expiration, past, "expiration time");
            stop(2)
        },
    );
    suite.check(
        "a timer firing while SIMP is disabled is delivered when SIMP is enabled",
        || {
            interrupt::reset();
            cpu::wrmsr(SIMP, sim)?;
            let expiration = now()? + 1;
            cpu::wrmsr(stimer_count(0), expiration)?;
            cpu::wrmsr(stimer_config(0), ENABLE | sint_config(TIMER_SINT))?;
            // Long past its expiration, nothing came.
            let until = now()? + SHORT;
            while now()? < until {
                interrupt::window();
            }
            ensure_eq!(
                interrupt::count(TIMER_VECTOR),
                0,
                "interrupts while disabled"
            );
            cpu::wrmsr(SIMP, sim | 1)?;
            wait_for(TIMER_VECTOR, 1)?;
            let message = consume(sim, TIMER_SINT)?;
            ensure_eq!(message.expiration, expiration, "expiration time");
            ensure!(
                message.delivery >= until,
                "delivered at {} before the enable",
                message.delivery
            );
            Ok(())
        },
    );
    suite.check(
        "MessagePending: a second expiration waits for a busy slot, is flagged, and comes after EOM",
        || {
            interrupt::reset();
            let past = now()?.saturating_sub(1);
            for timer in [0, 1] {
                cpu::wrmsr(stimer_count(timer), past)?;
                cpu::wrmsr(stimer_config(timer), ENABLE | sint_config(TIMER_SINT))?;
            }
            wait_for(TIMER_VECTOR, 1)?;
            let first = slot(sim, TIMER_SINT);
            ensure_eq!(first.index, 0, "the first message's timer");
            ensure!(first.header & MESSAGE_PENDING != 0, "MessagePending not set");
            // Cleared, not yet EOM: the slot stays empty.
            memory::write_u32(sim + 256 * u64::from(TIMER_SINT), 0);
            interrupt::window();
            ensure_eq!(slot(sim, TIMER_SINT).header & 0xFFFF_FFFF, 0, "the slot before EOM");
            cpu::wrmsr(EOM, 0)?;
            wait_for(TIMER_VECTOR, 2)?;
            let second = consume(sim, TIMER_SINT)?;
            ensure_eq!(second.index, 1, "the second message's timer");
            ensure_eq!(second.header & MESSAGE_PENDING, 0, "MessagePending on the last");
            Ok(())
        },
    );
    suite.check("AutoEOI: the SINT's vector is not left in service", || {
        interrupt::reset();
        interrupt::set_eoi(Eoi::Manual);
        cpu::wrmsr(stimer_count(3), now()?.saturating_sub(1))?;
        cpu::wrmsr(stimer_config(3), ENABLE | sint_config(AUTO_SINT))?;
        let waited = wait_for(AUTO_VECTOR, 1);
        interrupt::set_eoi(Eoi::X2apicMsr);
        waited?;
        let isr = cpu::rdmsr(X2APIC_ISR0 + u32::from(AUTO_VECTOR / 32))?;
        ensure_eq!(isr & 1 << (AUTO_VECTOR % 32), 0, "ISR bit");
        consume(sim, AUTO_SINT)?;
        Ok(())
    });
    periodic(suite, sim, "periodic", 0, 0);
    periodic(suite, sim, "periodic, lazy", 1, LAZY);
    suite.check("the timers stop", || {
        for timer in 0..4 {
            stop(timer)?;
        }
        cpu::wrmsr(SINT0 + TIMER_SINT, MASKED)?;
        cpu::wrmsr(SINT0 + AUTO_SINT, MASKED)?;
        Ok(())
    });
}

/// 1000 periods: every expiration on the grid of the first (each the one
/// before plus a whole number of periods, counting those the TLFS lets a
/// busy VP miss), none early.
///
/// Each check uses a timer of its own: an expiration already in a timer's
/// buffer when it is stopped is still delivered (it happened), so the
/// first check's last one may arrive during the second, and is skipped.
fn periodic(suite: &mut Suite, sim: u64, name: &str, timer: u32, lazy: u64) {
    suite.check(
        format_args!(
            "{name}: {PERIODS} periods of {PERIOD} units, every expiration on its grid, none early"
        ),
        || {
            interrupt::reset();
            cpu::wrmsr(stimer_count(timer), PERIOD)?;
            let enabled = now()?;
            cpu::wrmsr(
                stimer_config(timer),
                ENABLE | PERIODIC | lazy | sint_config(TIMER_SINT),
            )?;
            let mut first = None;
            let mut last = 0;
            let mut grid_points = 0;
            let mut messages = 0;
            while grid_points < PERIODS {
                interrupt::sti_hlt();
                interrupt::cli();
                if slot(sim, TIMER_SINT).header & 0xFFFF_FFFF == 0 {
                    continue;
                }
                let message = consume(sim, TIMER_SINT)?;
                if message.index != u64::from(timer) {
                    continue;
                }
                messages += 1;
                let expiration = message.expiration;
                let first = *first.get_or_insert(expiration);
                ensure!(
                    expiration >= enabled + PERIOD,
                    "expiration {expiration} before the first period ended"
                );
                ensure_eq!((expiration - first) % PERIOD, 0, "expiration off the grid");
                ensure!(
                    expiration > last || messages == 1,
                    "expiration {expiration} after {last}"
                );
                ensure!(
                    message.delivery >= expiration,
                    "delivered at {} before {expiration}",
                    message.delivery
                );
                last = expiration;
                grid_points = (expiration - first) / PERIOD + 1;
            }
            stop(timer)?;
            // A message may have come since the last look.
            if slot(sim, TIMER_SINT).header & 0xFFFF_FFFF != 0 {
                consume(sim, TIMER_SINT)?;
            }
            // How many periods a busy host makes the VP miss is the
            // host's business (TLFS: "a full timer period may be missed");
            // that the grid holds needs two.
            ensure!(
                messages >= 2,
                "only {messages} messages for {PERIODS} periods"
            );
            Ok(())
        },
    );
}
