//! The thread's message buffer: up to 512 words that travel with an IPC
//! message beyond its six register words (ABI: "The message buffer").
//!
//! Write the words, then send a [`crate::Message`] with
//! [`crate::Message::with_buffer_words`]; a received message's
//! `buffer_words` says how many words [`read`] will find.

use alloc::vec::Vec;
use tessera_abi::{MESSAGE_BUFFER_WORDS, Status};

use crate::error::Error;
use crate::syscall::{read_message_buffer, write_message_buffer};

/// Puts `words` at the start of the buffer; returns the count to send.
pub fn write(words: &[u64]) -> Result<u16, Error> {
    if words.len() > MESSAGE_BUFFER_WORDS {
        return Err(Error::from(Status::InvalidArgument));
    }
    write_message_buffer(words);
    Ok(words.len() as u16)
}

/// Fills `words` from the start of the buffer (at most 512 words).
pub fn read_into(words: &mut [u64]) {
    let count = words.len().min(MESSAGE_BUFFER_WORDS);
    read_message_buffer(&mut words[..count]);
}

/// The first `count` words of the buffer (at most 512).
pub fn read(count: u16) -> Vec<u64> {
    let mut words = alloc::vec![0; usize::from(count).min(MESSAGE_BUFFER_WORDS)];
    read_message_buffer(&mut words);
    words
}
