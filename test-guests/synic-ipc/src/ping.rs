//! Ping: the statuses it can cause alone, then 17 messages to pong and the
//! 18th refused, then the event exchange (see the crate documentation).

use tessera_guest_framework::{Suite, ensure, ensure_eq, interrupt};
use tlfs::HvStatus;

use crate::hv::{self, Synic};
use crate::topology::*;

fn expect(status: HvStatus, expected: HvStatus, what: &str) -> tessera_guest_framework::Outcome {
    ensure!(
        status == expected,
        "{what}: {status:?}, expected {expected:?}"
    );
    Ok(())
}

pub fn run(suite: &mut Suite, synic: &Synic) {
    suite.note(format_args!("role: ping"));
    suite.check(
        "HvPostMessage: INVALID_CONNECTION_ID, INVALID_PARAMETER (type 0, type with bit 31, 241 bytes), INVALID_PORT_ID (an event port), INVALID_HYPERCALL_INPUT (ID bits 31:24, RsvdZ), INVALID_ALIGNMENT",
        || {
            expect(synic.post(0x999, 1, b"x")?, HvStatus::INVALID_CONNECTION_ID, "unknown connection")?;
            expect(synic.post(PING_TO_PONG_MESSAGES, 0, b"x")?, HvStatus::INVALID_PARAMETER, "type 0")?;
            expect(
                synic.post(PING_TO_PONG_MESSAGES, 0x8000_0001, b"x")?,
                HvStatus::INVALID_PARAMETER,
                "a hypervisor type",
            )?;
            let header = [u64::from(PING_TO_PONG_MESSAGES), 1 | 241 << 32];
            expect(hv::post_block(synic.input, header, &[])?, HvStatus::INVALID_PARAMETER, "241 bytes")?;
            expect(synic.post(PING_TO_PONG_EVENTS, 1, b"x")?, HvStatus::INVALID_PORT_ID, "an event port")?;
            let header = [u64::from(PING_TO_PONG_MESSAGES) | 1 << 24, 1 | 1 << 32];
            expect(hv::post_block(synic.input, header, b"x")?, HvStatus::INVALID_HYPERCALL_INPUT, "ID bits 31:24")?;
            let header = [u64::from(PING_TO_PONG_MESSAGES) | 1 << 32, 1 | 1 << 32];
            expect(hv::post_block(synic.input, header, b"x")?, HvStatus::INVALID_HYPERCALL_INPUT, "RsvdZ")?;
            let header = [u64::from(PING_TO_PONG_MESSAGES), 1 | 1 << 32];
            expect(hv::post_block(synic.input + 4, header, b"x")?, HvStatus::INVALID_ALIGNMENT, "a block at +4")?;
            Ok(())
        },
    );
    suite.check(
        "HvSignalEvent: INVALID_CONNECTION_ID, INVALID_PORT_ID (a message port), INVALID_PARAMETER (a flag past the port's count)",
        || {
            expect(synic.signal(0x999, 0)?, HvStatus::INVALID_CONNECTION_ID, "unknown connection")?;
            expect(synic.signal(PING_TO_PONG_MESSAGES, 0)?, HvStatus::INVALID_PORT_ID, "a message port")?;
            expect(synic.signal(PING_TO_PONG_EVENTS, FLAGS)?, HvStatus::INVALID_PARAMETER, "flag 4 of 4")?;
            expect(synic.signal(PING_TO_PONG_EVENTS, u16::MAX)?, HvStatus::INVALID_PARAMETER, "flag 0xffff")?;
            Ok(())
        },
    );
    suite.check(
        "a post to its own port: INVALID_SYNIC_STATE while SIMP is off; once on, the message in SINT 4's slot with its interrupt",
        || {
            expect(synic.post(PING_TO_SELF, 7, b"self")?, HvStatus::INVALID_SYNIC_STATE, "SIM off")?;
            interrupt::reset();
            synic.enable(&[
                (MESSAGES, MESSAGE_VECTOR),
                (EVENTS, EVENT_VECTOR),
                (SELF_MESSAGES, SELF_VECTOR),
            ])?;
            expect(synic.post(PING_TO_SELF, 7, b"self")?, HvStatus::SUCCESS, "SIM on")?;
            let (header, _, payload) = synic.slot(SELF_MESSAGES);
            ensure_eq!(header & 0xFF_FFFF_FFFF, 7 | 4 << 32, "type and size");
            ensure!(hv::payload_is(payload, 1, b's'), "payload");
            hv::wait_until("the self-post's interrupt", || interrupt::count(SELF_VECTOR) == 1)?;
            synic.consume(SELF_MESSAGES)
        },
    );
    suite.check(
        "17 messages to pong are taken (its slot, then its port's 16 buffers); the 18th is INSUFFICIENT_BUFFERS, nothing dropped",
        || {
            let mut buffer = [0u8; 240];
            let first = hv::when_ready(|| {
                let mut buffer = [0u8; 240];
                synic.post(PING_TO_PONG_MESSAGES, 1, hv::nth_payload(1, &mut buffer))
            })?;
            expect(first, HvStatus::SUCCESS, "message 1")?;
            for n in 2..=17 {
                let payload = hv::nth_payload(n, &mut buffer);
                expect(synic.post(PING_TO_PONG_MESSAGES, n, payload)?, HvStatus::SUCCESS, "messages 2-17")?;
            }
            let payload = hv::nth_payload(18, &mut buffer);
            expect(
                synic.post(PING_TO_PONG_MESSAGES, 18, payload)?,
                HvStatus::INSUFFICIENT_BUFFERS,
                "message 18",
            )?;
            // Tell pong: its flag 8 (its SIEF page may come after its SIM).
            let signalled = hv::when_ready(|| synic.signal(PING_TO_PONG_EVENTS, 0))?;
            expect(signalled, HvStatus::SUCCESS, "signal flag 0")
        },
    );
    suite.check(
        "pong took all 17 (its event); a flag set again raises nothing, another flag does (pong counts)",
        || {
            hv::wait_until("pong's event (flag 0 of SINT 3)", || synic.flag(EVENTS, 0))?;
            synic.clear_flag(EVENTS, 0);
            expect(synic.signal(PING_TO_PONG_EVENTS, 0)?, HvStatus::SUCCESS, "flag 0 again")?;
            expect(synic.signal(PING_TO_PONG_EVENTS, 1)?, HvStatus::SUCCESS, "flag 1")
        },
    );
    suite.check(
        "pong's answer: a message of type 0x42 in SINT 2's slot",
        || {
            hv::wait_until("pong's message", || {
                synic.slot(MESSAGES).0 & 0xFFFF_FFFF != 0
            })?;
            let (header, origination, payload) = synic.slot(MESSAGES);
            ensure_eq!(header & 0xFF_FFFF_FFFF, 0x42 | 4 << 32, "type and size");
            ensure_eq!(origination, 0x20, "origination: ping's port");
            ensure!(hv::payload_is(payload, 4, b'p'), "payload");
            synic.consume(MESSAGES)
        },
    );
}
