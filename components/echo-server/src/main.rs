//! `echo-server`: serves the echo protocol (see the crate's library,
//! `echo_server`) on the endpoint the manifest gives it.
//!
//! ```toml
//! [component.echo-server]
//! image = "echo-server"
//! provides = ["echo"]     # the receive capability, in slot 4
//! ```
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use echo_server::{ECHO, LONG_ECHO, NO_CAPABILITY, OK, TAKE_CONSOLE, UNKNOWN_OPERATION, echoed};
use tessera_rt::{Console, Endpoint, Message, Reply, Server, cap};

tessera_rt::entry!(main);

/// The receive capability of the `echo` endpoint (first of `provides`).
const ECHO_ENDPOINT: Endpoint = Endpoint(4);
/// An empty slot where a capability sent with a call arrives.
const RECEIVED_CAP: u32 = 16;

fn main() {
    log::info!("serving echo");
    Server::new(ECHO_ENDPOINT)
        .receive_caps_in(RECEIVED_CAP)
        .serve(handle)
}

fn handle(badge: u64, call: Message, received: Option<u32>) -> Reply {
    let reply = match call.words[0] {
        ECHO => echo(call),
        LONG_ECHO => long_echo(call),
        TAKE_CONSOLE => take_console(received),
        op => {
            log::warn!("unknown operation {op} from badge {badge}");
            status(UNKNOWN_OPERATION)
        }
    };
    // Empty the receive slot again for the next call.
    if let Some(slot) = received {
        let _ = cap::delete(slot);
    }
    Reply::new(reply)
}

fn echo(call: Message) -> Message {
    let [_, a, b, c, d, e] = call.words;
    let [a, b, c, d, e] = echoed([a, b, c, d, e]);
    Message::new([OK, a, b, c, d, e])
}

/// The call's message-buffer words, each + 1, back through the buffer.
fn long_echo(call: Message) -> Message {
    let words: alloc::vec::Vec<u64> = tessera_rt::message_buffer::read(call.buffer_words)
        .into_iter()
        .map(|word| word.wrapping_add(1))
        .collect();
    match tessera_rt::message_buffer::write(&words) {
        Ok(count) => Message::new([OK, 0, 0, 0, 0, 0]).with_buffer_words(count),
        Err(error) => status(error.code()),
    }
}

/// Logs one line through the console capability that came with the call.
fn take_console(received: Option<u32>) -> Message {
    let Some(slot) = received else {
        return status(NO_CAPABILITY);
    };
    let console = Console(slot);
    let line = console.log(
        log::Level::Info,
        format_args!("echo-server: logging through the console capability the client passed"),
    );
    match line {
        Ok(()) => status(OK),
        Err(e) => status(e.code()),
    }
}

fn status(code: u64) -> Message {
    Message::new([code, 0, 0, 0, 0, 0])
}
