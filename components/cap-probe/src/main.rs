//! `cap-probe`: checks that misusing capabilities and system calls fails
//! with the right status (`boot/deployments/cap-errors.toml`).
//!
//! Each check logs a TAP-like line, `ok N - WHAT` or
//! `not ok N - WHAT: got STATUS`; the verdict is pass if every check is ok.
//!
//! ```toml
//! [component.cap-probe]
//! image = "cap-probe"
//! console = true          # slot 2
//! verdict = true          # slot 3
//! connects = [{ endpoint = "echo-server.echo", slot = 4, rights = ["call", "grant"] }]
//! ```
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use echo_server::ECHO;
use tessera_rt::abi::REGION_WINDOW;
use tessera_rt::syscall::{self, Registers};
use tessera_rt::testing::Tap;
use tessera_rt::{
    CSPACE_SLOTS, Console, Endpoint, Error, Message, Notification, Status, cap, rights, slot,
};

tessera_rt::entry!(main);

/// The call capability to echo-server (rights: call, grant).
const ECHO_CAP: u32 = 4;
/// A free slot for derived capabilities.
const SCRATCH: u32 = 5;
/// A slot the manifest leaves empty.
const EMPTY: u32 = 40;
/// cap-probe's own notification (manifest: `provides`, kind notification).
const OWN_NOTIFICATION: u32 = 9;
/// Free slots for a derivation chain.
const PARENT: u32 = 6;
const CHILD: u32 = 7;
/// A memory region of its own.
const REGION: u32 = 12;

fn main() {
    let mut tap = Tap::new("cap-probe");
    let echo = Message::new([ECHO, 1, 2, 3, 4, 5]);

    tap.expect_ok(
        "a call through the granted echo capability succeeds",
        Endpoint(ECHO_CAP).call(echo),
    );
    tap.expect(
        "a call on an empty slot fails with EmptySlot",
        Endpoint(EMPTY).call(echo),
        Status::EmptySlot,
    );
    tap.expect(
        "a call on selector 64 fails with InvalidSelector",
        Endpoint(CSPACE_SLOTS).call(echo),
        Status::InvalidSelector,
    );
    tap.expect(
        "a call on the console capability fails with WrongType",
        Endpoint(slot::CONSOLE).call(echo),
        Status::WrongType,
    );
    let derived = tap.expect_ok(
        "deriving the echo capability without CALL succeeds",
        cap::derive(ECHO_CAP, SCRATCH, rights::GRANT, 0),
    );
    let without_call = "a call through the capability without CALL fails with InsufficientRights";
    let delete = "deleting the derived capability succeeds";
    if derived {
        tap.expect(
            without_call,
            Endpoint(SCRATCH).call(echo),
            Status::InsufficientRights,
        );
        tap.expect_ok(delete, cap::delete(SCRATCH));
    } else {
        tap.not_run(without_call, "the derive failed");
        tap.not_run(delete, "the derive failed");
    }
    tap.expect(
        "a call on the deleted capability's slot fails with EmptySlot",
        Endpoint(SCRATCH).call(echo),
        Status::EmptySlot,
    );
    tap.expect(
        "deriving the echo capability with RECEIVE, which it lacks, fails with InsufficientRights",
        cap::derive(ECHO_CAP, SCRATCH, rights::CALL | rights::RECEIVE, 0),
        Status::InsufficientRights,
    );
    tap.expect(
        "system call 999 fails with InvalidSyscall",
        raw(Registers {
            rax: 999,
            ..Registers::default()
        }),
        Status::InvalidSyscall,
    );
    tap.expect(
        "a 41-byte console write fails with InvalidArgument",
        raw(Registers {
            rax: 1, // ConsoleWrite
            rdi: u64::from(slot::CONSOLE),
            words: [41, 0, 0, 0, 0, 0],
            r13: 0,
            r14: 0,
        }),
        Status::InvalidArgument,
    );
    tap.expect(
        "a call sending 513 message-buffer words fails with InvalidArgument",
        raw(Registers {
            rax: 2, // Call
            rdi: u64::from(ECHO_CAP),
            words: [1, 0, 0, 0, 0, 0],
            r13: u64::MAX,
            r14: 513,
        }),
        Status::InvalidArgument,
    );

    let notification = Notification(OWN_NOTIFICATION);
    tap.expect_value(
        "signalling its own notification, then waiting, returns the bits",
        notification
            .signal(0b101)
            .and_then(|()| notification.wait()),
        0b101,
    );
    tap.expect(
        "a signal through the echo (endpoint) capability fails with WrongType",
        Notification(ECHO_CAP).signal(1),
        Status::WrongType,
    );

    // Revoke removes what was derived, keeps the capability itself.
    let derived = cap::derive(
        ECHO_CAP,
        PARENT,
        rights::CALL | rights::DERIVE | rights::REVOKE,
        0,
    )
    .and_then(|()| cap::derive(PARENT, CHILD, rights::CALL, 0));
    tap.expect_ok(
        "deriving a child and a grandchild of the echo capability succeeds",
        derived,
    );
    tap.expect_ok("revoking the child succeeds", cap::revoke(PARENT));
    tap.expect(
        "a call through the revoked grandchild fails with EmptySlot",
        Endpoint(CHILD).call(echo),
        Status::EmptySlot,
    );
    tap.expect_ok(
        "a call through the child, which revoke keeps, succeeds",
        Endpoint(PARENT).call(echo),
    );

    tap.expect(
        "starting its own, running thread again fails with InvalidArgument",
        tessera_rt::build::thread_start(slot::THREAD),
        Status::InvalidArgument,
    );
    let region = tessera_rt::memory::create(REGION, 1)
        .and_then(|()| tessera_rt::memory::map(REGION, slot::DOMAIN, REGION_WINDOW.start, 0));
    tap.expect_ok(
        "a region it created maps read-only into its own domain",
        region,
    );
    tap.expect(
        "writing the read-only region through DomainWrite fails with InvalidArgument",
        tessera_rt::build::domain_write(slot::DOMAIN, REGION_WINDOW.start, b"not allowed"),
        Status::InvalidArgument,
    );

    // Each failed attempt must cost nothing: three times 200 KiB would
    // exceed the 512 KiB quota if the quota were charged before the slot
    // was found occupied.
    let attempts = (0..3)
        .map(|_| tessera_rt::build::domain_create(slot::DOMAIN, slot::CONSOLE, 200 * 1024, "leak"));
    let statuses: alloc::vec::Vec<_> = attempts.collect();
    tap.expect(
        "three domain creations into an occupied slot all fail with SlotOccupied",
        statuses
            .into_iter()
            .find(|result| result.err() != Some(Status::SlotOccupied.into()))
            .unwrap_or(Err(Status::SlotOccupied.into())),
        Status::SlotOccupied,
    );
    tap.expect(
        "a domain whose quota cannot hold its capability space fails with QuotaExhausted",
        tessera_rt::build::domain_create(slot::DOMAIN, SCRATCH + 20, 1, "tiny"),
        Status::QuotaExhausted,
    );
    // In a fresh domain of its own, where a thread could otherwise be made.
    let bad_entry =
        tessera_rt::build::domain_create(slot::DOMAIN, SCRATCH + 22, 64 * 1024, "empty").and_then(
            |()| {
                tessera_rt::build::thread_create(
                    SCRATCH + 22,
                    SCRATCH + 21,
                    0xFFFF_8000_0000_0000,
                    0x1000,
                    1,
                    (0, 0),
                )
            },
        );
    tap.expect(
        "a thread entering the kernel's half fails with InvalidArgument",
        bad_entry,
        Status::InvalidArgument,
    );
    tap.expect(
        "a region larger than its quota fails with QuotaExhausted",
        tessera_rt::memory::create(REGION + 1, 1 << 17),
        Status::QuotaExhausted,
    );
    // Typed input is for the console-input holder alone: this console
    // capability writes, it does not read.
    tap.expect(
        "reading the console's input without READ fails with InsufficientRights",
        Console::OWN.read(&mut [0; 8]),
        Status::InsufficientRights,
    );
    tap.expect(
        "asking to be told of typed input without READ fails with InsufficientRights",
        Console::OWN.notify_input(None),
        Status::InsufficientRights,
    );

    tap.finish()
}

/// A system call with exactly these registers; its status.
fn raw(registers: Registers) -> Result<(), Error> {
    match Error::from_code(syscall::raw(registers).rax) {
        None => Ok(()),
        Some(e) => Err(e),
    }
}
