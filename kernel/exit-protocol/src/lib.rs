//! The exit protocol between a virtual processor and the component its
//! partition's route names (ABI: `tessera_abi::vm`, "The exit message" and
//! "The reply"), as types with one encoder and one decoder each, shared by
//! the kernel (which sends exits and decodes replies) and the components'
//! runtime `tessera-rt` (which decodes exits and encodes replies).
//!
//! | module | what |
//! | --- | --- |
//! | [`exit`] | the register words: message type, VP index, the quick fields of each type ([`Exit`]) |
//! | [`message`] | the whole message: [`Exit`], the TLFS intercept message ([`Intercept`]), the asked registers ([`GuestRegisters`]) |
//! | [`reply`] | the handler's answer ([`ExitReply`]): actions, event, result, register writes |
//! | [`name`] | the partition name of an attach message, and bytes shown safely |
//! | [`posted`] | the port writes the kernel posted, ahead of the intercept message |
//!
//! Every size is one constant here ([`EXIT_BUFFER_WORDS`],
//! [`reply::MAX_REPLY_REGISTER_WORDS`]). Decoders are total: a message or
//! reply from the other side is hostile input, and any words give a value
//! or a typed error.
#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

pub mod exit;
pub mod message;
pub mod name;
pub mod posted;
pub mod reply;

pub use exit::{Exit, ExitError, MemoryAccess};
pub use message::{EncodedExit, ExitMessage, GuestRegisters, Intercept, InterceptBody};
pub use name::{Escaped, PartitionName};
pub use posted::PostedWrite;
pub use reply::{
    EncodedReply, Event, EventKind, ExitReply, RegisterWrites, ReplyActions, ReplyError,
};

use tlfs::intercept::{
    HvX64CpuidInterceptMessage, HvX64InterceptMessageHeader, HvX64IoPortInterceptMessage,
    HvX64MemoryInterceptMessage, HvX64MsrInterceptMessage,
};

/// Quick fields after the type and the VP index (words 2-5).
pub const QUICK_WORDS: usize = tessera_abi::MESSAGE_WORDS - 2;

/// The general registers a route may ask for (RAX..R15).
pub const GENERAL_REGISTERS: usize = 16;

const fn words_of(bytes: usize) -> usize {
    bytes.div_ceil(8)
}

const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}

/// The longest TLFS intercept message an exit carries, in words.
pub const MAX_BODY_WORDS: usize = words_of(max(
    max(
        size_of::<HvX64IoPortInterceptMessage>(),
        size_of::<HvX64CpuidInterceptMessage>(),
    ),
    max(
        max(
            size_of::<HvX64MsrInterceptMessage>(),
            size_of::<HvX64MemoryInterceptMessage>(),
        ),
        size_of::<HvX64InterceptMessageHeader>(),
    ),
));

/// The most message-buffer words an exit message carries: a full queue of
/// posted writes, the longest intercept message and every general
/// register.
pub const EXIT_BUFFER_WORDS: usize =
    tessera_abi::vm::posted::QUEUE_WRITES + MAX_BODY_WORDS + GENERAL_REGISTERS;

const _: () = assert!(MAX_BODY_WORDS == 16, "the I/O port message, 128 bytes");
const _: () = assert!(EXIT_BUFFER_WORDS <= tessera_abi::MESSAGE_BUFFER_WORDS);
const _: () = assert!(reply::MAX_REPLY_REGISTER_WORDS <= tessera_abi::MESSAGE_BUFFER_WORDS);
