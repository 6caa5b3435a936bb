//! Writing to a console capability.
//!
//! `ConsoleWrite` carries at most 40 bytes, packed little-endian into five
//! message words; longer output goes in several calls. The kernel prints
//! each complete line tagged with the writing component's name, as
//! `[NAME cpuN] LINE`.

use core::fmt;

use tessera_abi::{CONSOLE_WRITE_MAX, CapTransfer, Syscall, slot};

use crate::error::Error;
use crate::syscall::invoke;

/// A console capability: the component's own (slot 2, `console = true` in
/// the manifest), or one another component passed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Console(pub u32);

impl Console {
    /// The component's own console, slot 2 (empty without `console = true`).
    pub const OWN: Self = Self(slot::CONSOLE);

    /// Writes `bytes`, in as many `ConsoleWrite`s as it takes.
    pub fn write(&self, bytes: &[u8]) -> Result<(), Error> {
        bytes
            .chunks(CONSOLE_WRITE_MAX)
            .try_for_each(|chunk| self.write_chunk(chunk))
    }

    /// Writes one line `LEVEL message` (as the logger does), such as
    /// `INFO serving echo`.
    pub fn log(&self, level: log::Level, message: fmt::Arguments<'_>) -> Result<(), Error> {
        let mut out = ChunkWriter::new(|chunk: &[u8]| self.write_chunk(chunk));
        format_line(&mut out, level, message);
        out.finish()
    }

    /// One `ConsoleWrite` of at most 40 bytes.
    fn write_chunk(&self, chunk: &[u8]) -> Result<(), Error> {
        let (len, words) = pack(chunk);
        invoke(
            Syscall::ConsoleWrite,
            self.0,
            [len, words[0], words[1], words[2], words[3], words[4]],
            CapTransfer::NONE,
        )
        .map(drop)
    }
}

/// The length and the five words of a `ConsoleWrite` of `chunk` (at most 40
/// bytes; any more are not packed).
pub fn pack(chunk: &[u8]) -> (u64, [u64; 5]) {
    let chunk = &chunk[..chunk.len().min(CONSOLE_WRITE_MAX)];
    let mut words = [0u64; 5];
    for (i, byte) in chunk.iter().enumerate() {
        words[i / 8] |= u64::from(*byte) << (8 * (i % 8));
    }
    (chunk.len() as u64, words)
}

/// Formats `LEVEL message\n` into `out`.
pub(crate) fn format_line(
    out: &mut impl fmt::Write,
    level: log::Level,
    message: fmt::Arguments<'_>,
) {
    let _ = writeln!(out, "{level} {message}");
}

/// Collects formatted text into 40-byte chunks and hands each full one to
/// `send`; [`ChunkWriter::finish`] sends the rest. After the first failed
/// send, the rest is dropped and the error kept.
pub(crate) struct ChunkWriter<F: FnMut(&[u8]) -> Result<(), Error>> {
    send: F,
    buffer: [u8; CONSOLE_WRITE_MAX],
    len: usize,
    error: Option<Error>,
}

impl<F: FnMut(&[u8]) -> Result<(), Error>> ChunkWriter<F> {
    pub(crate) fn new(send: F) -> Self {
        Self {
            send,
            buffer: [0; CONSOLE_WRITE_MAX],
            len: 0,
            error: None,
        }
    }

    fn flush(&mut self) {
        if self.len > 0
            && self.error.is_none()
            && let Err(e) = (self.send)(&self.buffer[..self.len])
        {
            self.error = Some(e);
        }
        self.len = 0;
    }

    /// Sends what is left; the first error, if any send failed.
    pub(crate) fn finish(mut self) -> Result<(), Error> {
        self.flush();
        self.error.map_or(Ok(()), Err)
    }
}

impl<F: FnMut(&[u8]) -> Result<(), Error>> fmt::Write for ChunkWriter<F> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        for &byte in text.as_bytes() {
            if self.len == CONSOLE_WRITE_MAX {
                self.flush();
            }
            self.buffer[self.len] = byte;
            self.len += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;
    use std::vec::Vec;

    fn collect(message: fmt::Arguments<'_>, level: log::Level) -> Vec<Vec<u8>> {
        let mut chunks = Vec::new();
        let mut out = ChunkWriter::new(|chunk: &[u8]| {
            chunks.push(chunk.to_vec());
            Ok(())
        });
        format_line(&mut out, level, message);
        out.finish().unwrap();
        chunks
    }

    #[test]
    fn packs_little_endian_eight_bytes_a_word() {
        let (len, words) = pack(b"INFO hi\n");
        assert_eq!(len, 8);
        assert_eq!(words[0], u64::from_le_bytes(*b"INFO hi\n"));
        assert_eq!(words[1..], [0; 4]);
        let (len, words) = pack(b"0123456789");
        assert_eq!(len, 10);
        assert_eq!(words[1], u64::from(b'8') | u64::from(b'9') << 8);
        let full = [0xabu8; 40];
        assert_eq!(pack(&full), (40, [u64::from_le_bytes([0xab; 8]); 5]));
        assert_eq!(pack(&[1u8; 41]).0, 40, "never more than 40 bytes");
        assert_eq!(pack(b""), (0, [0; 5]));
    }

    #[test]
    fn a_short_line_is_one_write() {
        let chunks = collect(format_args!("serving {}", "echo"), log::Level::Info);
        assert_eq!(chunks, [b"INFO serving echo\n".to_vec()]);
    }

    #[test]
    fn a_long_line_is_split_into_40_byte_writes() {
        let text = "x".repeat(100);
        let chunks = collect(format_args!("{text}"), log::Level::Warn);
        let lengths: Vec<usize> = chunks.iter().map(Vec::len).collect();
        assert_eq!(lengths, [40, 40, 26]);
        let joined: Vec<u8> = chunks.concat();
        assert_eq!(joined, std::format!("WARN {text}\n").into_bytes());
    }

    #[test]
    fn the_first_error_stops_the_line() {
        let mut sent = 0;
        let mut out = ChunkWriter::new(|_: &[u8]| {
            sent += 1;
            Err(Error::from(Status::EmptySlot))
        });
        format_line(
            &mut out,
            log::Level::Error,
            format_args!("{}", "y".repeat(90)),
        );
        assert_eq!(out.finish(), Err(Error::from(Status::EmptySlot)));
        assert_eq!(sent, 1);
    }
}
