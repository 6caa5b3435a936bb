//! `echo-client`: the client of the echo demo (`boot/deployments/default.toml`).
//!
//! It calls echo-server 100 times and checks every reply, then lends the
//! server its console: it derives a copy of its console capability with
//! fewer rights (no `DERIVE`) into a free slot and sends it with a
//! `TAKE_CONSOLE` call, so echo-server, which has no console of its own,
//! logs a line through it. It ends the run with the verdict: pass if all of
//! that worked.
//!
//! ```toml
//! [component.echo-client]
//! image = "echo-client"
//! console = true          # slot 2
//! verdict = true          # slot 3
//! connects = [{ endpoint = "echo-server.echo", slot = 4, rights = ["call", "grant"] }]
//! ```
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use echo_server::{EchoClient, echoed};
use tessera_rt::{Endpoint, cap, rights, slot, verdict};

tessera_rt::entry!(main);

/// The call capability to echo-server's `echo` endpoint.
const ECHO: EchoClient = EchoClient(Endpoint(4));
/// A free slot for the console capability lent to the server.
const LENT_CONSOLE: u32 = 5;
const ROUND_TRIPS: u64 = 100;

fn main() {
    match run() {
        Ok(()) => verdict(true),
        Err(problem) => {
            log::error!("echo-client: {problem}");
            verdict(false)
        }
    }
}

fn run() -> Result<(), String> {
    for i in 0..ROUND_TRIPS {
        let words = [i, i << 32, u64::MAX - i, 1 << (i % 64), 0x7e55e7a];
        let reply = ECHO
            .echo(words)
            .map_err(|e| format!("round trip {i}: {e}"))?;
        if reply != echoed(words) {
            return Err(format!(
                "round trip {i}: sent {words:x?}, got {reply:x?}, expected {:x?}",
                echoed(words)
            ));
        }
    }
    log::info!("echo-client: {ROUND_TRIPS} round trips ok");

    // A full message buffer (512 words) there and back.
    let long: Vec<u64> = (0..512u64).map(|i| i * 3 + 1).collect();
    let back = ECHO
        .long_echo(&long)
        .map_err(|e| format!("a 512-word message: {e}"))?;
    let expected: Vec<u64> = long.iter().map(|w| w + 1).collect();
    if back != expected {
        return Err(format!(
            "a 512-word message came back as {} words, first {:x?}",
            back.len(),
            back.first()
        ));
    }
    log::info!("echo-client: a 512-word message through the message buffer ok");

    cap::derive(
        slot::CONSOLE,
        LENT_CONSOLE,
        rights::WRITE | rights::GRANT,
        0,
    )
    .map_err(|e| format!("deriving a console capability to lend: {e}"))?;
    ECHO.take_console(LENT_CONSOLE)
        .map_err(|e| format!("lending echo-server the console: {e}"))?;
    log::info!("echo-client: echo-server logged through the console capability it was passed");
    Ok(())
}
