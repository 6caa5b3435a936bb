//! Pong: takes ping's 17 messages in order through MessagePending and EOM,
//! checks the 0 → 1 rule of event flags, answers (see the crate
//! documentation).

use tessera_guest_framework::{Suite, ensure, ensure_eq, interrupt};
use tlfs::HvStatus;

use crate::hv::{self, Synic};
use crate::topology::*;
use tessera_guest_framework::pages::MESSAGE_PENDING;

pub fn run(suite: &mut Suite, synic: &Synic) {
    suite.note(format_args!("role: pong"));
    let ready = suite.check("SIMP, SIEFP, SCONTROL on; SINT 2 and 3 unmasked", || {
        interrupt::reset();
        synic.enable(&[(MESSAGES, MESSAGE_VECTOR), (EVENTS, EVENT_VECTOR)])
    });
    if !ready {
        return;
    }
    let full = PONG_BASE_FLAG;
    suite.check("ping's event: flag 8 of SINT 3 set, one interrupt", || {
        hv::wait_until("ping's flag 8", || synic.flag(EVENTS, full))?;
        hv::wait_until("its interrupt", || interrupt::count(EVENT_VECTOR) >= 1)?;
        ensure_eq!(interrupt::count(EVENT_VECTOR), 1, "SINT 3 interrupts");
        Ok(())
    });
    suite.check(
        "17 messages in order, each but the last with MessagePending, the next one delivered by EOM; then the slot is empty",
        || {
            for n in 1..=17u32 {
                let (header, origination, payload) = synic.slot(MESSAGES);
                let size = (14 * n).min(240);
                ensure_eq!(header & 0xFFFF_FFFF, u64::from(n), "message {n}'s type");
                ensure_eq!(header >> 32 & 0xFF, u64::from(size), "message {n}'s size");
                ensure_eq!(
                    u64::from(header & MESSAGE_PENDING != 0),
                    u64::from(n < 17),
                    "message {n}'s MessagePending"
                );
                ensure_eq!(origination, PONG_MESSAGE_PORT, "message {n}'s origination (the port)");
                ensure!(hv::payload_is(payload, size as usize, n as u8), "message {n}'s payload");
                synic.consume(MESSAGES)?;
            }
            ensure_eq!(synic.slot(MESSAGES).0 & 0xFFFF_FFFF, 0, "the slot after 17");
            Ok(())
        },
    );
    suite.check(
        "the 0 -> 1 rule: flag 8 set again raises no interrupt, flag 9 raises one",
        || {
            ensure!(
                synic.signal(PONG_TO_PING_EVENTS, 0)? == HvStatus::SUCCESS,
                "signalling ping"
            );
            hv::wait_until("ping's flag 9", || synic.flag(EVENTS, full + 1))?;
            hv::wait_until("its interrupt", || interrupt::count(EVENT_VECTOR) >= 2)?;
            ensure!(synic.flag(EVENTS, full), "flag 8 still set");
            ensure_eq!(interrupt::count(EVENT_VECTOR), 2, "SINT 3 interrupts");
            synic.clear_flag(EVENTS, full);
            synic.clear_flag(EVENTS, full + 1);
            Ok(())
        },
    );
    suite.check("answer ping: a message of type 0x42", || {
        let status = synic.post(PONG_TO_PING_MESSAGES, 0x42, b"pppp")?;
        ensure!(status == HvStatus::SUCCESS, "HvPostMessage: {status:?}");
        Ok(())
    });
}
