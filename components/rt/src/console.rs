//! Writing to a console capability, and reading what is typed on it.
//!
//! `ConsoleWrite` carries at most 40 bytes, packed little-endian into five
//! message words; longer output goes in several calls. The kernel prints
//! each complete line tagged with the writing component's name, as
//! `[NAME cpuN] LINE`. `ConsoleRead` brings typed bytes back the same way,
//! for a console capability with the READ right (`console-input = true`
//! in the manifest; ABI: `tessera_abi::console_input`).

use core::fmt;

use tessera_abi::console_input::READ_MAX;
use tessera_abi::{CONSOLE_WRITE_MAX, CapTransfer, NO_SELECTOR, Syscall, slot};

use crate::error::Error;
use crate::ipc::Notification;
use crate::syscall::invoke;
use crate::wrap::Wrapping;

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
    /// `INFO serving echo`; a line longer than the kernel prints in one
    /// piece is cut between words ([`crate::wrap`]).
    pub fn log(&self, level: log::Level, message: fmt::Arguments<'_>) -> Result<(), Error> {
        let out = ChunkWriter::new(|chunk: &[u8]| self.write_chunk(chunk));
        let mut wrapping = Wrapping::new(out);
        format_line(&mut wrapping, level, message);
        match wrapping.finish() {
            Ok(out) => out.finish(),
            // The chunk writer never fails a write (it keeps the error).
            Err(fmt::Error) => Ok(()),
        }
    }

    /// Reads up to 40 typed bytes into `buffer` (never blocks; what does
    /// not fit stays for the next read); how many (0: nothing was typed
    /// since the last read). Needs the READ right.
    pub fn read(&self, buffer: &mut [u8]) -> Result<usize, Error> {
        let wanted = buffer.len().min(READ_MAX) as u64;
        let out = invoke(
            Syscall::ConsoleRead,
            self.0,
            [wanted, 0, 0, 0, 0, 0],
            CapTransfer::NONE,
        )?;
        Ok(unpack(&out.words, buffer))
    }

    /// Has the kernel signal `notification` (one of this component's own:
    /// it must be able to wait on it) with `bits` whenever typed bytes
    /// arrive; `None` stops it. Needs the READ right.
    pub fn notify_input(&self, notification: Option<(Notification, u64)>) -> Result<(), Error> {
        let (slot, bits) = notification.map_or((u64::from(NO_SELECTOR), 0), |(n, bits)| {
            (u64::from(n.0), bits)
        });
        invoke(
            Syscall::ConsoleInputNotify,
            self.0,
            [slot, bits, 0, 0, 0, 0],
            CapTransfer::NONE,
        )
        .map(drop)
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

/// Copies the bytes of a `ConsoleRead` answer (the count in word 0, the
/// bytes packed little-endian in words 1-5) into `buffer`, as many as fit;
/// how many.
pub fn unpack(words: &[u64; 6], buffer: &mut [u8]) -> usize {
    let count = usize::try_from(words[0])
        .unwrap_or(usize::MAX)
        .min(CONSOLE_WRITE_MAX)
        .min(buffer.len());
    for (i, byte) in buffer[..count].iter_mut().enumerate() {
        *byte = (words[1 + i / 8] >> (8 * (i % 8))) as u8;
    }
    count
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
    fn typed_bytes_unpack_as_console_writes_pack() {
        let (len, packed) = pack(b"hello, typed world!\r");
        let words = [len, packed[0], packed[1], packed[2], packed[3], packed[4]];
        let mut buffer = [0u8; 40];
        assert_eq!(unpack(&words, &mut buffer), 20);
        assert_eq!(&buffer[..20], b"hello, typed world!\r");
        // A small buffer takes what fits; a hostile count is clamped.
        let mut small = [0u8; 5];
        assert_eq!(unpack(&words, &mut small), 5);
        assert_eq!(&small, b"hello");
        let mut buffer = [0u8; 64];
        assert_eq!(unpack(&[u64::MAX, 0, 0, 0, 0, 0], &mut buffer), 40);
        assert_eq!(unpack(&[0; 6], &mut buffer), 0);
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
