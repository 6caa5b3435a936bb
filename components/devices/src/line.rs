//! Serial output assembled into log lines.

use alloc::vec::Vec;

/// The longest line logged in one piece, in bytes: a longer one is split.
pub const MAX_LINE: usize = 200;

/// Bytes a guest sent, waiting for the end of their line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineBuffer {
    bytes: Vec<u8>,
    /// The last line was cut at [`MAX_LINE`] and nothing came since: a
    /// newline now ends that line, not an empty one.
    just_split: bool,
}

impl LineBuffer {
    pub const fn new() -> Self {
        Self {
            bytes: Vec::new(),
            just_split: false,
        }
    }

    /// Adds one output byte; returns a line when one is complete: at a
    /// newline (not included), or when [`MAX_LINE`] bytes are waiting.
    /// Carriage returns are dropped (`\r\n` is one line end), and a
    /// newline right after a split ends the split line, not an empty one.
    pub fn push(&mut self, byte: u8) -> Option<Vec<u8>> {
        match byte {
            b'\r' => None,
            b'\n' if core::mem::take(&mut self.just_split) => None,
            b'\n' => Some(core::mem::take(&mut self.bytes)),
            _ => {
                self.just_split = false;
                if self.bytes.capacity() == 0 {
                    self.bytes.reserve_exact(MAX_LINE);
                }
                self.bytes.push(byte);
                let full = self.bytes.len() >= MAX_LINE;
                self.just_split = full;
                full.then(|| core::mem::take(&mut self.bytes))
            }
        }
    }

    /// The unfinished line, if there is one (the buffer is then empty).
    pub fn take_partial(&mut self) -> Option<Vec<u8>> {
        self.just_split = false;
        (!self.bytes.is_empty()).then(|| core::mem::take(&mut self.bytes))
    }

    /// Bytes waiting.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn feed(buffer: &mut LineBuffer, bytes: &[u8]) -> Vec<Vec<u8>> {
        bytes.iter().filter_map(|&b| buffer.push(b)).collect()
    }

    #[test]
    fn newlines_end_lines_and_carriage_returns_vanish() {
        let mut buffer = LineBuffer::new();
        assert_eq!(
            feed(&mut buffer, b"hello\r\nworld\n\npartial"),
            vec![b"hello".to_vec(), b"world".to_vec(), vec![]]
        );
        assert_eq!(buffer.len(), 7);
        assert_eq!(buffer.take_partial(), Some(b"partial".to_vec()));
        assert_eq!(buffer.take_partial(), None);
        assert!(buffer.is_empty());
    }

    #[test]
    fn long_lines_are_split_at_200_bytes() {
        let mut buffer = LineBuffer::new();
        let text = [b'a'; 450];
        let lines = feed(&mut buffer, &text);
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|line| line.len() == MAX_LINE));
        assert_eq!(buffer.len(), 50);
        // Exactly 200 then a newline: one line, not a line and an empty one.
        let mut buffer = LineBuffer::new();
        let mut text = vec![b'b'; 200];
        text.extend(b"\r\nc\n\n");
        let lines = feed(&mut buffer, &text);
        assert_eq!(lines, vec![vec![b'b'; 200], b"c".to_vec(), vec![]]);
    }
}
