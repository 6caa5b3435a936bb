//! The handler side of the exit protocol: what a component that a
//! partition's route names receives, and how it answers. The protocol
//! itself — the message and reply types, their encoders and decoders —
//! is `tessera_exit_protocol`, which the kernel uses too; this module
//! moves it through the component's registers and message buffer.
//!
//! ```ignore
//! Server::new(Endpoint(4)).serve(|badge, call, _| {
//!     let message = vm_exit::receive(&call);
//!     let reply = match message.exit {
//!         Ok(Exit::IoPort { write: false, .. }) => ExitReply::new().io_read_result(0xFF).advance_rip(),
//!         Ok(Exit::IoPort { write: true, .. }) => ExitReply::new().advance_rip(),
//!         Ok(Exit::Hypercall { .. }) => ExitReply::new().hypercall_result(0),
//!         Ok(Exit::PartitionAttach { .. }) => ExitReply::accept_attach(),
//!         _ => ExitReply::new().stop(),
//!     };
//!     reply.into_reply()
//! });
//! ```
//!
//! # The partition attach message
//!
//! Not the kernel's: the partition manager, before it starts a partition,
//! calls each of the partition's route endpoints through the badged
//! capability the route uses, with word 0 = `TESSERA_PARTITION_ATTACH`
//! and the partition's name (32 bytes, NUL padded) in words 1-4
//! ([`attach_message`] builds it). The handler learns the name behind the
//! badge and answers word 0 = 0 ([`ExitReply::accept_attach`]).

use alloc::vec::Vec;

use tessera_abi::vm::posted::QUEUE_WRITES;
pub use tessera_exit_protocol::{
    EXIT_BUFFER_WORDS, Escaped, Event, EventKind, Exit, ExitError, ExitMessage, ExitReply,
    GuestRegisters, Intercept, MemoryAccess, PartitionName, PostedWrite, ReplyError,
};

use crate::error::Error;
use crate::ipc::{Message, Reply};

/// The reply word 0 that accepts a `TESSERA_PARTITION_ATTACH`.
pub const ATTACH_ACCEPTED: u64 = 0;

/// Decodes `message` as a server received it, reading its words from the
/// thread's message buffer (inside a component only). Port writes the
/// kernel posted ahead of it are dropped, with an error logged: a handler
/// of a route that posts takes them with [`receive_with_posted`].
pub fn receive(message: &Message) -> ExitMessage {
    let exit = decode(message);
    if exit.posted != 0 {
        log::error!(
            "{} posted port writes dropped: this handler does not take them",
            exit.posted
        );
    }
    exit
}

/// Decodes `message`, first handing the port writes the kernel posted
/// ahead of it (`tessera_abi::vm::posted`) to `replay`, in order, as the
/// `OUT` exits they completed (their replies are dropped: the guest has
/// gone on; `replay` logs what it must). A word no kernel sends is skipped
/// with a warning.
pub fn receive_with_posted(message: &Message, mut replay: impl FnMut(&ExitMessage)) -> ExitMessage {
    let exit = decode(message);
    if exit.posted != 0 {
        replay_posted(&exit, &mut replay);
    }
    exit
}

/// Out of the way of the exits that come alone (most of them), and not
/// made again for each handler.
#[cold]
#[inline(never)]
fn replay_posted(exit: &ExitMessage, replay: &mut dyn FnMut(&ExitMessage)) {
    // Copied out (only when some came): replaying them may make system
    // calls, which may reuse the buffer.
    let mut words = [0; QUEUE_WRITES];
    let count = exit.posted.min(QUEUE_WRITES);
    crate::syscall::with_message_buffer(count, |buffer| {
        words[..buffer.len()].copy_from_slice(buffer);
    });
    for &word in &words[..count] {
        let Some(write) = PostedWrite::from_word(word) else {
            log::warn!("a posted write {word:#x} no kernel sends: skipped");
            continue;
        };
        replay(&ExitMessage {
            message_type: Exit::IoPort {
                port: 0,
                size: 1,
                write: true,
                value: 0,
            }
            .message_type(),
            vp_index: exit.vp_index,
            posted: 0,
            exit: Ok(Exit::IoPort {
                port: write.port,
                size: write.size,
                write: true,
                value: write.value,
            }),
            intercept: Intercept::None,
        });
    }
}

fn decode(message: &Message) -> ExitMessage {
    // An exit message is at most a queue of posted writes, the longest
    // TLFS body and sixteen registers. It is decoded where the kernel
    // wrote it: the decoder copies out only the fields it keeps, so
    // neither a stack copy of the buffer nor its zeroing is paid on every
    // exit a handler serves.
    let count = usize::from(message.buffer_words).min(EXIT_BUFFER_WORDS);
    crate::syscall::with_message_buffer(count, |buffer| ExitMessage::decode(&message.words, buffer))
}

/// An [`ExitReply`] as an IPC message.
pub trait ReplyMessage {
    /// The reply as a message, with its register pairs written to the
    /// thread's message buffer (inside a component only). A register the
    /// reply may not set, or a value it cannot hold, is `InvalidArgument`.
    fn into_message(self) -> Result<Message, Error>;

    /// The reply for [`crate::Server::serve`]; if it cannot be sent
    /// ([`ReplyMessage::into_message`] fails), the VP is stopped instead.
    fn into_reply(self) -> Reply;
}

impl ReplyMessage for ExitReply {
    fn into_message(self) -> Result<Message, Error> {
        message_of(&self)
    }

    fn into_reply(self) -> Reply {
        reply_of(&self)
    }
}

/// [`ReplyMessage::into_message`] by reference: an `ExitReply` is a few
/// hundred bytes, and moving it out of a handler's answer copied it on
/// every exit served.
#[inline]
fn message_of(reply: &ExitReply) -> Result<Message, Error> {
    let refused = || Error::from(tessera_abi::Status::InvalidArgument);
    // Most replies set no register: their six words are the message
    // (this runs on every exit a handler answers).
    if reply.registers.is_empty() {
        return match reply.refused() {
            None => Ok(Message::new(reply.words())),
            Some(_) => Err(refused()),
        };
    }
    let encoded = reply.encode().map_err(|_| refused())?;
    let count = crate::message_buffer::write(encoded.buffer())?;
    Ok(Message::new(encoded.words).with_buffer_words(count))
}

/// [`ReplyMessage::into_reply`] by reference.
#[inline]
fn reply_of(reply: &ExitReply) -> Reply {
    match message_of(reply) {
        Ok(message) => Reply::new(message),
        Err(e) => {
            log::error!("exit reply: {e}; stopping the VP instead");
            Reply::new(Message::new(ExitReply::new().stop().words()))
        }
    }
}

/// The attach message for a partition called `name` (cut at 32 bytes),
/// which the partition manager sends to each route endpoint.
pub fn attach_message(name: &str) -> Message {
    let attach = Exit::PartitionAttach {
        name: PartitionName::new(name),
    };
    Message::new(attach.encode(0))
}

/// A handler's answer to one exit, and what to log about it (guest output,
/// attaches, refusals), in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handled {
    pub reply: ExitReply,
    pub log: Vec<(log::Level, alloc::string::String)>,
}

impl From<ExitReply> for Handled {
    fn from(reply: ExitReply) -> Self {
        Self {
            reply,
            log: Vec::new(),
        }
    }
}

/// Serves the exits that reach `endpoint` forever: each call is decoded,
/// the port writes the kernel posted ahead of it go to `handle` first (as
/// the `OUT` exits they completed, their replies dropped), `handle`
/// answers it for the calling partition's badge, its log lines go to the
/// component's log, and the reply goes back to the VP.
pub fn serve_exits(
    endpoint: crate::Endpoint,
    mut handle: impl FnMut(u64, &ExitMessage) -> Handled,
) -> ! {
    crate::Server::new(endpoint).serve(|badge, call: Message, _| -> Reply {
        let message = receive_with_posted(&call, |write| print_log(&handle(badge, write)));
        // A hand-over of posted writes alone wants no action back.
        if matches!(message.exit, Ok(Exit::PostedWrites)) {
            return reply_of(&ExitReply::new());
        }
        let handled = handle(badge, &message);
        print_log(&handled);
        reply_of(&handled.reply)
    })
}

fn print_log(handled: &Handled) {
    for (level, line) in &handled.log {
        log::log!(*level, "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_abi::vm::TESSERA_PARTITION_ATTACH;

    #[test]
    fn attach_messages_carry_the_name() {
        let message = attach_message("linux-guest");
        assert_eq!(message.words[0], TESSERA_PARTITION_ATTACH);
        assert_eq!(message.words[1], u64::from_le_bytes(*b"linux-gu"));
        let decoded = ExitMessage::decode(&message.words, &[]);
        assert_eq!(decoded.vp_index, 0);
        let Ok(Exit::PartitionAttach { name }) = decoded.exit else {
            panic!("not an attach: {decoded:?}");
        };
        assert_eq!(name.as_str(), Some("linux-guest"));
        assert_eq!(
            ExitReply::accept_attach().words()[0],
            ATTACH_ACCEPTED,
            "word 0 = 0 accepts"
        );
    }
}
