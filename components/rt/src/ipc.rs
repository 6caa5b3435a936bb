//! Synchronous IPC (endpoints) and asynchronous signals (notifications).
//!
//! Every message is six words that travel in registers; a call may carry
//! one capability along. A client holds a call capability to an endpoint
//! (manifest: `connects`), and its server the receive capability (manifest:
//! `provides`). The server sees, with each call, the badge of the
//! capability the client called through.

use tessera_abi::{CapTransfer, MESSAGE_WORDS, NO_SELECTOR, Status, Syscall};

use crate::control::exit;
use crate::error::Error;
use crate::syscall::{Registers, invoke, invoke_with_buffer};

/// The six words of an IPC message, and how many words of the message
/// buffer ([`crate::message_buffer`]) go with it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Message {
    pub words: [u64; MESSAGE_WORDS],
    /// Words of the message buffer sent (on the way out) or received.
    pub buffer_words: u16,
}

impl Message {
    /// A message of six zero words.
    pub const EMPTY: Self = Self {
        words: [0; MESSAGE_WORDS],
        buffer_words: 0,
    };

    pub const fn new(words: [u64; MESSAGE_WORDS]) -> Self {
        Self {
            words,
            buffer_words: 0,
        }
    }

    /// The same message, also sending the first `count` words of the
    /// message buffer (written with [`crate::message_buffer::write`]).
    #[must_use]
    pub const fn with_buffer_words(self, count: u16) -> Self {
        Self {
            buffer_words: count,
            ..self
        }
    }

    /// The message the kernel returned in these registers.
    fn received(out: &Registers) -> Self {
        Self {
            words: out.words,
            buffer_words: u16::try_from(out.r14).unwrap_or(0),
        }
    }

    /// Word `i` (0 if `i` is out of range).
    pub const fn word(&self, i: usize) -> u64 {
        if i < MESSAGE_WORDS { self.words[i] } else { 0 }
    }
}

/// The selector a capability arrived in, from the `r13` a call returned.
fn received(r13: u64) -> Option<u32> {
    let selector = r13 as u32;
    (selector != NO_SELECTOR).then_some(selector)
}

/// An endpoint capability, by the slot that holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint(pub u32);

impl Endpoint {
    /// Calls the endpoint with `message` and waits for the reply.
    pub fn call(&self, message: Message) -> Result<Message, Error> {
        self.call_with_cap(message, CapTransfer::NONE)
            .map(|(reply, _)| reply)
    }

    /// Calls the endpoint, sending the capability in `transfer.send` along
    /// (the endpoint capability needs the `GRANT` right, and so does the
    /// capability sent), and accepting one back with the reply into the
    /// empty slot `transfer.receive`. Either may be [`NO_SELECTOR`]
    /// ([`CapTransfer::NONE`]: none). Returns the reply and the slot a
    /// capability arrived in, if one did.
    pub fn call_with_cap(
        &self,
        message: Message,
        transfer: CapTransfer,
    ) -> Result<(Message, Option<u32>), Error> {
        let out = invoke_with_buffer(
            Syscall::Call,
            self.0,
            message.words,
            transfer,
            message.buffer_words,
        )?;
        Ok((Message::received(&out), received(out.r13)))
    }
}

/// A call a server received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// The badge of the capability the client called through (0: none).
    pub badge: u64,
    pub message: Message,
    /// The slot a capability sent with the call arrived in.
    pub cap: Option<u32>,
}

impl Request {
    fn from_registers(out: Registers) -> Self {
        Self {
            badge: out.rdi,
            message: Message::received(&out),
            cap: received(out.r13),
        }
    }
}

/// A server's answer to a call: a message, and optionally a capability to
/// send with it (the server needs the `GRANT` right on it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    pub message: Message,
    pub cap: Option<u32>,
}

impl Reply {
    pub const fn new(message: Message) -> Self {
        Self { message, cap: None }
    }

    /// Sends the capability in `slot` along with the reply.
    #[must_use]
    pub const fn with_cap(self, slot: u32) -> Self {
        Self {
            cap: Some(slot),
            ..self
        }
    }
}

impl From<Message> for Reply {
    fn from(message: Message) -> Self {
        Self::new(message)
    }
}

/// A server loop on an endpoint's receive capability.
///
/// ```ignore
/// Server::new(Endpoint(4))
///     .receive_caps_in(20)
///     .serve(|badge, message, cap| Reply::new(message));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Server {
    endpoint: Endpoint,
    receive: u32,
}

impl Server {
    /// A server of the endpoint whose receive capability is `endpoint`,
    /// refusing capabilities sent with calls.
    pub const fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            receive: NO_SELECTOR,
        }
    }

    /// Accepts a capability sent with a call into `slot`, which must be
    /// empty whenever the server waits: a handler that is done with a
    /// received capability deletes it ([`crate::cap::delete`]) before it
    /// returns, and one that keeps it derives it into another slot first.
    #[must_use]
    pub const fn receive_caps_in(self, slot: u32) -> Self {
        Self {
            receive: slot,
            ..self
        }
    }

    /// Waits for calls and answers each with `handler(badge, message,
    /// received capability slot)`, forever: one `ReplyWait` per call.
    ///
    /// If a caller died before its reply (`NoCaller`), the server goes on
    /// with the next call. Any other failure to wait is logged and ends the
    /// component with exit code 1.
    pub fn serve<F>(self, mut handler: F) -> !
    where
        F: FnMut(u64, Message, Option<u32>) -> Reply,
    {
        let receive = self.receiving();
        self.serve_receiving(receive, |badge, message, cap| {
            (handler(badge, message, cap), receive)
        })
    }

    /// [`serve`](Self::serve) for a server whose slot for received
    /// capabilities changes with what it keeps: it waits with `receive`
    /// (`None`: refusing capabilities), and `handler` also says the slot
    /// the wait after its reply receives into.
    pub fn serve_receiving<F>(self, receive: Option<u32>, mut handler: F) -> !
    where
        F: FnMut(u64, Message, Option<u32>) -> (Reply, Option<u32>),
    {
        let server = |slot: Option<u32>| match slot {
            Some(slot) => self.receive_caps_in(slot),
            None => Self::new(self.endpoint),
        };
        let mut waiting = server(receive);
        let mut next = waiting.wait();
        loop {
            let request = match next {
                Ok(request) => request,
                Err(e) => {
                    log::error!("endpoint in slot {}: waiting failed: {e}", self.endpoint.0);
                    exit(1);
                }
            };
            let (reply, receive) = handler(request.badge, request.message, request.cap);
            waiting = server(receive);
            next = match waiting.reply_wait(reply) {
                Err(e) if e == Status::NoCaller => {
                    log::warn!("the caller left before the reply");
                    waiting.wait()
                }
                other => other,
            };
        }
    }

    /// The slot received capabilities go to, if the server takes any.
    const fn receiving(&self) -> Option<u32> {
        if self.receive == NO_SELECTOR {
            None
        } else {
            Some(self.receive)
        }
    }

    /// Waits for the next call (one `Wait`), for a server that answers a
    /// known number of calls rather than serving forever.
    pub fn wait(&self) -> Result<Request, Error> {
        let transfer = CapTransfer {
            send: NO_SELECTOR,
            receive: self.receive,
        };
        invoke(Syscall::Wait, self.endpoint.0, [0; 6], transfer).map(Request::from_registers)
    }

    /// Answers the call being served without waiting for another (one
    /// `Reply`).
    pub fn reply(&self, reply: Reply) -> Result<(), Error> {
        let transfer = CapTransfer {
            send: reply.cap.unwrap_or(NO_SELECTOR),
            receive: NO_SELECTOR,
        };
        invoke_with_buffer(
            Syscall::Reply,
            0,
            reply.message.words,
            transfer,
            reply.message.buffer_words,
        )
        .map(drop)
    }

    /// Answers the call being served and waits for the next (one
    /// `ReplyWait`).
    pub fn reply_wait(&self, reply: Reply) -> Result<Request, Error> {
        let transfer = CapTransfer {
            send: reply.cap.unwrap_or(NO_SELECTOR),
            receive: self.receive,
        };
        invoke_with_buffer(
            Syscall::ReplyWait,
            self.endpoint.0,
            reply.message.words,
            transfer,
            reply.message.buffer_words,
        )
        .map(Request::from_registers)
    }
}

/// Serves `endpoint` with `handler` forever, refusing capabilities sent
/// with calls. See [`Server::serve`].
pub fn serve<F>(endpoint: Endpoint, handler: F) -> !
where
    F: FnMut(u64, Message, Option<u32>) -> Reply,
{
    Server::new(endpoint).serve(handler)
}

/// A notification capability, by the slot that holds it: a word of bits
/// that signallers OR in and a waiter takes out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Notification(pub u32);

impl Notification {
    /// ORs `bits` into the notification's pending bits (never blocks).
    pub fn signal(&self, bits: u64) -> Result<(), Error> {
        invoke(
            Syscall::Signal,
            self.0,
            [bits, 0, 0, 0, 0, 0],
            CapTransfer::NONE,
        )
        .map(drop)
    }

    /// Waits until bits are pending, then takes (and clears) them all.
    pub fn wait(&self) -> Result<u64, Error> {
        invoke(Syscall::WaitNotification, self.0, [0; 6], CapTransfer::NONE).map(|out| out.words[0])
    }

    /// Has the kernel signal `bits` here once `delay_us` microseconds have
    /// passed, replacing this component's earlier deadline on it
    /// (`Syscall::TimerSignal`).
    pub fn signal_after(&self, delay_us: u64, bits: u64) -> Result<(), Error> {
        invoke(
            Syscall::TimerSignal,
            self.0,
            [delay_us, bits, 0, 0, 0, 0],
            CapTransfer::NONE,
        )
        .map(drop)
    }

    /// Disarms this component's deadline on the notification.
    pub fn cancel_timer(&self) -> Result<(), Error> {
        self.signal_after(tessera_abi::TIMER_CANCEL, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_received_selector_or_none() {
        assert_eq!(received(u64::from(NO_SELECTOR)), None);
        assert_eq!(received(u64::MAX), None);
        assert_eq!(received(7), Some(7));
    }

    #[test]
    fn requests_come_from_the_returned_registers() {
        let request = Request::from_registers(Registers {
            rax: 0,
            rdi: 9,
            words: [1, 2, 3, 4, 5, 6],
            r13: 20,
            r14: 300,
        });
        assert_eq!(request.message.buffer_words, 300);
        assert_eq!(request.badge, 9);
        assert_eq!(request.message.word(5), 6);
        assert_eq!(request.message.word(6), 0);
        assert_eq!(request.cap, Some(20));
    }

    #[test]
    fn replies_and_servers_build_up() {
        let reply = Reply::from(Message::EMPTY).with_cap(5);
        assert_eq!(reply.cap, Some(5));
        let server = Server::new(Endpoint(4)).receive_caps_in(20);
        assert_eq!(server.receive, 20);
        assert_eq!(Server::new(Endpoint(4)).receive, NO_SELECTOR);
    }
}
