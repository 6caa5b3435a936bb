//! `console-reader`: reads a line typed on the console through the kernel's
//! console input (the READ right of its console capability, from
//! `console-input = true`), waiting on a notification the kernel signals
//! when bytes arrive rather than asking again and again. It checks the
//! misuses first, then logs the line and gives the verdict.
//!
//! ```toml
//! [component.console-reader]
//! image = "console-reader"
//! console = true
//! console-input = true
//! verdict = true
//! provides = [{ name = "typed", kind = "notification" }]   # slot 4
//! ```
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;

use tessera_rt::abi::console_input::READ_MAX;
use tessera_rt::syscall::invoke;
use tessera_rt::{CapTransfer, Console, Error, Notification, Status, abi::Syscall, slot, verdict};

tessera_rt::entry!(main);

/// The wait capability of the `typed` notification (first of `provides`).
const TYPED: Notification = Notification(4);
/// The bit the kernel signals it with.
const TYPED_BIT: u64 = 1 << 0;
/// A line longer than this is cut.
const LINE_MAX: usize = 200;

fn main() -> Result<(), Error> {
    let misuses_refused = check_misuses();
    Console::OWN.notify_input(Some((TYPED, TYPED_BIT)))?;
    log::info!("console-reader: waiting for a typed line");
    let mut line: Vec<u8> = Vec::new();
    while !line.ends_with(b"\r") && !line.ends_with(b"\n") && line.len() < LINE_MAX {
        // Nothing runs until a key is pressed: the kernel counts this
        // wait as one an outside event ends, not as a stall.
        let bits = TYPED.wait()?;
        if bits & TYPED_BIT == 0 {
            continue;
        }
        let mut buffer = [0u8; READ_MAX];
        loop {
            let count = Console::OWN.read(&mut buffer)?;
            if count == 0 {
                break;
            }
            line.extend_from_slice(&buffer[..count]);
        }
    }
    Console::OWN.notify_input(None)?;
    let text = core::str::from_utf8(&line)
        .unwrap_or("(not UTF-8)")
        .trim_end();
    log::info!("console-reader: read the line {text:?}");
    verdict(misuses_refused && !text.is_empty())
}

/// Asking for more than a read carries, and naming something other than
/// a notification, are refused with the ABI's status.
fn check_misuses() -> bool {
    let too_much = invoke(
        Syscall::ConsoleRead,
        slot::CONSOLE,
        [READ_MAX as u64 + 1, 0, 0, 0, 0, 0],
        CapTransfer::NONE,
    );
    let not_a_notification =
        Console::OWN.notify_input(Some((Notification(slot::DOMAIN), TYPED_BIT)));
    let no_bits = Console::OWN.notify_input(Some((TYPED, 0)));
    let checks = [
        (
            "a read of 41 bytes fails with InvalidArgument",
            too_much.err() == Some(Status::InvalidArgument.into()),
        ),
        (
            "notifying its own domain capability fails with WrongType",
            not_a_notification.err() == Some(Status::WrongType.into()),
        ),
        (
            "notifying with no bits fails with InvalidArgument",
            no_bits.err() == Some(Status::InvalidArgument.into()),
        ),
    ];
    for (what, ok) in checks {
        log::info!(
            "console-reader: {} - {what}",
            if ok { "ok" } else { "not ok" }
        );
    }
    checks.iter().all(|(_, ok)| *ok)
}
