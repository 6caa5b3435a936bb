//! The echo protocol: what `echo-server` answers, and a client for it.
//!
//! Word 0 of a call is the operation; word 0 of the reply is [`OK`] (0) or
//! an error code.
//!
//! | operation | call | reply |
//! | --- | --- | --- |
//! | [`ECHO`] (1) | words 1 to 5: any values | word 0: [`OK`]; words 1 to 5: each word of the call plus 1 (wrapping) |
//! | [`TAKE_CONSOLE`] (2) | a console capability sent along (the client's endpoint capability needs `grant`, and the console capability `GRANT`) | word 0: [`OK`] once the server has logged one line through that console; [`NO_CAPABILITY`] if no capability came; otherwise the kernel's status code for the failed console write (for example `WrongType`, 0x105, if it was no console) |
//! | anything else | | word 0: [`UNKNOWN_OPERATION`] |
//!
//! The server does not keep a console it is given: it deletes it after the
//! one line, so a client may lend it again.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use core::fmt;

use tessera_rt::{CapTransfer, Endpoint, Error, Message, NO_SELECTOR};

/// Operation: send five words back, each plus 1.
pub const ECHO: u64 = 1;
/// Operation: log one line through the console capability sent along.
pub const TAKE_CONSOLE: u64 = 2;
/// Op 3 LONG_ECHO: the call's message-buffer words come back each + 1, in
/// the reply's message buffer (word 0 of the reply: 0 on success).
pub const LONG_ECHO: u64 = 3;

/// Reply word 0: done.
pub const OK: u64 = 0;
/// Reply word 0: no such operation. (Protocol errors start at 0x1000, above
/// the kernel's status codes, which a reply may also carry.)
pub const UNKNOWN_OPERATION: u64 = 0x1001;
/// Reply word 0: `TAKE_CONSOLE` came without a capability.
pub const NO_CAPABILITY: u64 = 0x1002;

/// What the server answers to `ECHO` of `words`.
pub const fn echoed(words: [u64; 5]) -> [u64; 5] {
    let mut out = words;
    let mut i = 0;
    while i < out.len() {
        out[i] = out[i].wrapping_add(1);
        i += 1;
    }
    out
}

/// Why a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EchoError {
    /// The call itself failed (for example `ServerDied`).
    Call(Error),
    /// The server answered with this error code in word 0.
    Refused(u64),
}

impl fmt::Display for EchoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Call(e) => write!(f, "the call failed: {e}"),
            Self::Refused(UNKNOWN_OPERATION) => f.write_str("the server knows no such operation"),
            Self::Refused(NO_CAPABILITY) => f.write_str("the server received no capability"),
            Self::Refused(code) => match Error::from_code(*code) {
                Some(e) => write!(f, "the server reports: {e}"),
                None => f.write_str("the server reports an error without a code"),
            },
        }
    }
}

/// A client of the echo protocol, through a call capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EchoClient(pub Endpoint);

impl EchoClient {
    /// `ECHO`: the server's words 1 to 5 (which should be [`echoed`]`(words)`).
    pub fn echo(&self, words: [u64; 5]) -> Result<[u64; 5], EchoError> {
        let [a, b, c, d, e] = words;
        let reply = self
            .0
            .call(Message::new([ECHO, a, b, c, d, e]))
            .map_err(EchoError::Call)?;
        match reply.words {
            [OK, a, b, c, d, e] => Ok([a, b, c, d, e]),
            [code, ..] => Err(EchoError::Refused(code)),
        }
    }

    /// `TAKE_CONSOLE`: lends the server the console capability in `slot`
    /// for one line.
    /// Sends `words` through the message buffer (op 3) and returns what
    /// came back in the reply's buffer.
    pub fn long_echo(&self, words: &[u64]) -> Result<alloc::vec::Vec<u64>, EchoError> {
        let count = tessera_rt::message_buffer::write(words).map_err(EchoError::Call)?;
        let call = Message::new([LONG_ECHO, 0, 0, 0, 0, 0]).with_buffer_words(count);
        let reply = self.0.call(call).map_err(EchoError::Call)?;
        match reply.words[0] {
            OK => Ok(tessera_rt::message_buffer::read(reply.buffer_words)),
            code => Err(EchoError::Refused(code)),
        }
    }

    pub fn take_console(&self, slot: u32) -> Result<(), EchoError> {
        let transfer = CapTransfer {
            send: slot,
            receive: NO_SELECTOR,
        };
        let (reply, _) = self
            .0
            .call_with_cap(Message::new([TAKE_CONSOLE, 0, 0, 0, 0, 0]), transfer)
            .map_err(EchoError::Call)?;
        match reply.words[0] {
            OK => Ok(()),
            code => Err(EchoError::Refused(code)),
        }
    }
}
