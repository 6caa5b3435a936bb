//! `fault-driver`: checks that a faulting component is contained
//! (`boot/deployments/fault-containment.toml`).
//!
//! 1. It calls crasher, which faults: the call must fail with `ServerDied`.
//! 2. It calls echo-server, a neighbour: the echo must still be right.
//! 3. It calls crasher again: `ServerDied` again, at once.
//! 4. It calls three more crashers, asking each for another fault (#UD,
//!    #DE, #GP): `ServerDied` each time, and echo-server still answers.
//!
//! Then it gives the verdict.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::format;
use alloc::string::String;

use echo_server::{EchoClient, echoed};
use tessera_rt::{Endpoint, Message, Status, verdict};

tessera_rt::entry!(main);

/// The call capability to crasher's endpoint.
const CRASHER: Endpoint = Endpoint(4);
/// The call capability to echo-server's `echo` endpoint.
const ECHO: EchoClient = EchoClient(Endpoint(5));
/// The crashers asked for the other faults, with the fault's number (word 0).
const OTHER_FAULTS: [(Endpoint, u64, &str); 3] = [
    (Endpoint(6), 1, "crasher-ud (invalid opcode)"),
    (Endpoint(7), 2, "crasher-de (divide error)"),
    (Endpoint(8), 3, "crasher-gp (general protection)"),
];

fn main() {
    match run() {
        Ok(()) => {
            log::info!("fault-driver: the fault stayed inside crasher");
            verdict(true)
        }
        Err(problem) => {
            log::error!("fault-driver: {problem}");
            verdict(false)
        }
    }
}

fn run() -> Result<(), String> {
    expect_server_died(CRASHER, 0, "first call to crasher")?;
    let words = [1, 2, 3, 4, u64::MAX];
    match ECHO.echo(words) {
        Ok(reply) if reply == echoed(words) => {
            log::info!("fault-driver: echo-server still answers after the crash");
        }
        Ok(reply) => return Err(format!("echo after the crash: got {reply:x?}")),
        Err(e) => return Err(format!("echo after the crash: {e}")),
    }
    expect_server_died(CRASHER, 0, "second call to crasher")?;
    for (crasher, fault, name) in OTHER_FAULTS {
        expect_server_died(crasher, fault, &format!("call to {name}"))?;
    }
    match ECHO.echo(words) {
        Ok(reply) if reply == echoed(words) => {
            log::info!("fault-driver: echo-server still answers after four faults");
            Ok(())
        }
        Ok(reply) => Err(format!("echo after the faults: got {reply:x?}")),
        Err(e) => Err(format!("echo after the faults: {e}")),
    }
}

fn expect_server_died(crasher: Endpoint, fault: u64, what: &str) -> Result<(), String> {
    match crasher.call(Message::new([fault, 0, 0, 0, 0, 0])) {
        Err(e) if e == Status::ServerDied => {
            log::info!("fault-driver: {what} failed with {e:?}, as expected");
            Ok(())
        }
        Err(e) => Err(format!("{what}: expected ServerDied, got {e:?} ({e})")),
        Ok(reply) => Err(format!(
            "{what}: expected ServerDied, got a reply {:x?}",
            reply.words
        )),
    }
}
