//! Device: a partition whose SynIC traffic reaches a component (issue 14
//! items 4 and 8; deployment `vm-synic-testdev`, component
//! `hyperv-testdev`).
//!
//! - The manifest's component-owned ports: a message on connection `0x140`
//!   to port `0x40` comes back into port `0x50` (SINT 5) with what the
//!   component received — the connection, the type, the payload; flags
//!   signalled on connection `0x141` to port `0x41` come back as the same
//!   flags of port `0x51` (SINT 6).
//! - QEMU's `hyperv-testdev` on port `0x3000`, driven as kvm-unit-tests'
//!   `hyperv_synic` (SINT routes) and `hyperv_connections` (message and
//!   event connections: to self, to a busy slot, the pending message after
//!   EOM, an event and an event already set) drive it; then writes the
//!   device cannot honour change nothing.

use tessera_guest_framework::port::outl;
use tessera_guest_framework::{Suite, ensure, ensure_eq, interrupt, pages};
use tlfs::HvStatus;

use crate::hv::{self, Synic};

/// The manifest's connections to the component's ports, and the SINTs its
/// answers come to.
pub const TO_COMPONENT_MESSAGES: u32 = 0x140;
pub const TO_COMPONENT_EVENTS: u32 = 0x141;
const ECHO_MESSAGES: u32 = 5;
const ECHO_EVENTS: u32 = 6;
const ECHO_MESSAGE_VECTOR: u8 = 0x55;
const ECHO_EVENT_VECTOR: u8 = 0x56;
const ECHO_MESSAGE_PORT: u64 = 0x50;

/// kvm-unit-tests' `hyperv_connections` numbers.
const MSG_SINT: u32 = 8;
const EVT_SINT: u32 = 9;
const MSG_VEC: u8 = 0xB0;
const EVT_VEC: u8 = 0xB1;
const MSG_CONN: u32 = 0x10;
const EVT_CONN: u32 = 0x20;
const MSG_TYPE: u32 = 0x1234_5678;
/// A SINT route (`hyperv_synic`).
const ROUTE_SINT: u32 = 1;
const ROUTE_VEC: u8 = 0x61;

/// The device's operations (QEMU's `HV_TEST_DEV_*`).
const SINT_ROUTE_CREATE: u32 = 1;
const SINT_ROUTE_DESTROY: u32 = 2;
const SINT_ROUTE_SET_SINT: u32 = 3;
const MSG_CONN_CREATE: u32 = 4;
const MSG_CONN_DESTROY: u32 = 5;
const EVT_CONN_CREATE: u32 = 6;
const EVT_CONN_DESTROY: u32 = 7;

fn control(op: u32, vp: u32, sint: u32, conn: u32) {
    outl(0x3000, conn << 24 | op << 16 | vp << 8 | sint);
}

fn expect(status: HvStatus, expected: HvStatus, what: &str) -> tessera_guest_framework::Outcome {
    ensure!(
        status == expected,
        "{what}: {status:?}, expected {expected:?}"
    );
    Ok(())
}

/// Spins a while (the device answers from its own exit, so this only
/// gives a wrong interrupt the chance to show).
fn settle() {
    for _ in 0..100_000 {
        core::hint::spin_loop();
    }
}

pub fn run(suite: &mut Suite, synic: &Synic) {
    suite.note(format_args!("role: device"));
    let ready = suite.check(
        "SIMP, SIEFP, SCONTROL on; SINTs 5, 6, 8, 9 unmasked",
        || {
            interrupt::reset();
            synic.enable(&[
                (ECHO_MESSAGES, ECHO_MESSAGE_VECTOR),
                (ECHO_EVENTS, ECHO_EVENT_VECTOR),
                (MSG_SINT, MSG_VEC),
                (EVT_SINT, EVT_VEC),
            ])
        },
    );
    if !ready {
        return;
    }
    suite.check(
        "a message to the component's port comes back with what it received: connection 0x140, type 0x77, the payload",
        || {
            expect(synic.post(TO_COMPONENT_MESSAGES, 0x77, b"hello, component")?, HvStatus::SUCCESS, "post")?;
            hv::wait_until("the echo", || interrupt::count(ECHO_MESSAGE_VECTOR) >= 1)?;
            let (header, origination, payload) = synic.slot(ECHO_MESSAGES);
            ensure_eq!(header & 0xFFFF_FFFF, 0x77, "type");
            ensure_eq!(header >> 32 & 0xFF, 4 + 16, "size");
            ensure_eq!(origination, ECHO_MESSAGE_PORT, "origination");
            ensure_eq!(pages::read_u64(payload) & 0xFFFF_FFFF, u64::from(TO_COMPONENT_MESSAGES), "connection");
            let text = u64::from_le_bytes(*b"hello, c");
            ensure_eq!(pages::read_u64(payload) >> 32 | pages::read_u64(payload + 8) << 32, text, "payload");
            synic.consume(ECHO_MESSAGES)
        },
    );
    suite.check(
        "flags 3 and 5 signalled on the component's port come back as flags 3 and 5 of SINT 6; a flag past its 8 is INVALID_PARAMETER",
        || {
            expect(synic.signal(TO_COMPONENT_EVENTS, 3)?, HvStatus::SUCCESS, "flag 3")?;
            expect(synic.signal(TO_COMPONENT_EVENTS, 5)?, HvStatus::SUCCESS, "flag 5")?;
            expect(synic.signal(TO_COMPONENT_EVENTS, 8)?, HvStatus::INVALID_PARAMETER, "flag 8")?;
            hv::wait_until("flag 5", || synic.flag(ECHO_EVENTS, 5))?;
            ensure!(synic.flag(ECHO_EVENTS, 3), "flag 3");
            ensure!(!synic.flag(ECHO_EVENTS, 4), "flag 4 stays clear");
            synic.clear_flag(ECHO_EVENTS, 3);
            synic.clear_flag(ECHO_EVENTS, 5);
            Ok(())
        },
    );
    suite.check(
        "hyperv-testdev SINT route: raising it interrupts once; masked, nothing; destroyed, nothing",
        || {
            control(SINT_ROUTE_CREATE, 0, ROUTE_SINT, 0);
            hv::sint_enable(ROUTE_SINT, ROUTE_VEC)?;
            control(SINT_ROUTE_SET_SINT, 0, ROUTE_SINT, 0);
            hv::wait_until("the SINT's interrupt", || interrupt::count(ROUTE_VEC) >= 1)?;
            hv::sint_disable(ROUTE_SINT)?;
            control(SINT_ROUTE_SET_SINT, 0, ROUTE_SINT, 0);
            settle();
            ensure_eq!(interrupt::count(ROUTE_VEC), 1, "interrupts while masked");
            control(SINT_ROUTE_DESTROY, 0, ROUTE_SINT, 0);
            hv::sint_enable(ROUTE_SINT, ROUTE_VEC)?;
            control(SINT_ROUTE_SET_SINT, 0, ROUTE_SINT, 0);
            settle();
            ensure_eq!(interrupt::count(ROUTE_VEC), 1, "interrupts after the destroy");
            Ok(())
        },
    );
    // hyperv_connections on one CPU: msg_conn_create, evt_conn_create.
    control(MSG_CONN_CREATE, 0, MSG_SINT, MSG_CONN);
    control(EVT_CONN_CREATE, 0, EVT_SINT, EVT_CONN);
    let mut payload = 0u64;
    let post = |payload: u64| synic.post(MSG_CONN, MSG_TYPE, &payload.to_le_bytes());
    suite.check(
        "send message to self: its type, size and payload in SINT 8, one interrupt",
        || {
            payload += 1;
            expect(post(payload)?, HvStatus::SUCCESS, "post")?;
            hv::wait_until("SINT 8's interrupt", || interrupt::count(MSG_VEC) >= 1)?;
            let (header, _, at) = synic.slot(MSG_SINT);
            ensure_eq!(header & 0xFFFF_FFFF, u64::from(MSG_TYPE), "type");
            ensure_eq!(header >> 32 & 0xFF, 8, "size");
            ensure_eq!(header & pages::MESSAGE_PENDING, 0, "MessagePending");
            ensure_eq!(pages::read_u64(at), payload, "payload");
            Ok(())
        },
    );
    suite.check(
        "send message to busy slot: accepted, MessagePending set, the slot unchanged, no interrupt",
        || {
            payload += 1;
            expect(post(payload)?, HvStatus::SUCCESS, "post")?;
            settle();
            let (header, _, at) = synic.slot(MSG_SINT);
            ensure!(header & pages::MESSAGE_PENDING != 0, "MessagePending");
            ensure_eq!(pages::read_u64(at), payload - 1, "payload");
            ensure_eq!(interrupt::count(MSG_VEC), 1, "interrupts");
            Ok(())
        },
    );
    suite.check(
        "receive pending message: after EOM the second message, one more interrupt",
        || {
            synic.consume(MSG_SINT)?;
            hv::wait_until("SINT 8's second interrupt", || {
                interrupt::count(MSG_VEC) >= 2
            })?;
            let (header, _, at) = synic.slot(MSG_SINT);
            ensure_eq!(header & pages::MESSAGE_PENDING, 0, "MessagePending");
            ensure_eq!(pages::read_u64(at), payload, "payload");
            synic.consume(MSG_SINT)
        },
    );
    suite.check(
        "signal event on self: flag 0x20 of SINT 9, one interrupt",
        || {
            expect(synic.signal(EVT_CONN, 0)?, HvStatus::SUCCESS, "signal")?;
            hv::wait_until("SINT 9's interrupt", || interrupt::count(EVT_VEC) >= 1)?;
            ensure!(synic.flag(EVT_SINT, EVT_CONN as u16), "flag 0x20");
            Ok(())
        },
    );
    suite.check(
        "signal event already set: accepted, the flag set, no interrupt",
        || {
            expect(synic.signal(EVT_CONN, 0)?, HvStatus::SUCCESS, "signal")?;
            settle();
            ensure!(synic.flag(EVT_SINT, EVT_CONN as u16), "flag 0x20");
            ensure_eq!(interrupt::count(EVT_VEC), 1, "interrupts");
            synic.clear_flag(EVT_SINT, EVT_CONN as u16);
            Ok(())
        },
    );
    suite.check(
        "writes the device cannot honour (a duplicate connection, destroys of nothing, op 0 and 8, SINT 16, VP 7) change nothing",
        || {
            control(MSG_CONN_CREATE, 0, MSG_SINT, MSG_CONN);
            control(MSG_CONN_DESTROY, 0, 0, 0x33);
            control(EVT_CONN_DESTROY, 0, 0, MSG_CONN);
            control(SINT_ROUTE_DESTROY, 0, 3, 0);
            control(0, 0, 0, 0);
            control(8, 0, 0, 0);
            control(SINT_ROUTE_CREATE, 0, 16, 0);
            control(MSG_CONN_CREATE, 7, MSG_SINT, 0x11);
            expect(synic.post(0x11, MSG_TYPE, b"x")?, HvStatus::INVALID_CONNECTION_ID, "VP 7's connection")?;
            payload += 1;
            expect(post(payload)?, HvStatus::SUCCESS, "post")?;
            hv::wait_until("SINT 8's third interrupt", || interrupt::count(MSG_VEC) >= 3)?;
            ensure_eq!(pages::read_u64(synic.slot(MSG_SINT).2), payload, "payload");
            synic.consume(MSG_SINT)
        },
    );
    suite.check("destroyed connections answer INVALID_CONNECTION_ID", || {
        control(MSG_CONN_DESTROY, 0, MSG_SINT, MSG_CONN);
        control(EVT_CONN_DESTROY, 0, EVT_SINT, EVT_CONN);
        expect(post(payload)?, HvStatus::INVALID_CONNECTION_ID, "post")?;
        expect(
            synic.signal(EVT_CONN, 0)?,
            HvStatus::INVALID_CONNECTION_ID,
            "signal",
        )?;
        Ok(())
    });
}
