//! Posted port writes (`tessera_abi::vm::posted`): the `OUT`s the kernel
//! completed itself on a route that posts, handed to the route's handler
//! ahead of the next exit message (or in a `TESSERA_POSTED_WRITES` one),
//! at the start of the message buffer, their count in word 1.
use tessera_abi::MESSAGE_WORDS;
use tessera_abi::vm::posted::{COUNT_MASK, COUNT_SHIFT, QUEUE_WRITES, encode};

use crate::exit::size_mask;

/// One posted write: what an `OUT` of `size` bytes (1, 2 or 4) wrote to
/// `port` (masked to `size`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PostedWrite {
    pub port: u16,
    pub size: u8,
    pub value: u32,
}

impl PostedWrite {
    /// Its message-buffer word.
    pub const fn word(&self) -> u64 {
        encode(self.port, self.size, self.value)
    }

    /// The write a word holds; `None` for a word no kernel sends (a size
    /// other than 1, 2 or 4, bits set between the size and the value, or a
    /// value wider than the size).
    pub const fn from_word(word: u64) -> Option<Self> {
        let size = (word >> 16) as u8;
        let value = (word >> 32) as u32;
        if !matches!(size, 1 | 2 | 4)
            || word & 0xFF00_0000 != 0
            || value as u64 & !size_mask(size) != 0
        {
            return None;
        }
        Some(Self {
            port: word as u16,
            size,
            value,
        })
    }
}

/// How many posted writes lead the buffer of a message with register
/// words `words` (word 1 bits 39:32, at most [`QUEUE_WRITES`] and the
/// words that came).
pub fn count(words: &[u64; MESSAGE_WORDS], buffer_words: usize) -> usize {
    let count = ((words[1] >> COUNT_SHIFT) & COUNT_MASK) as usize;
    count.min(QUEUE_WRITES).min(buffer_words)
}

/// The posted writes at the start of `buffer` (a message with register
/// words `words`), oldest first; a word no kernel sends is `None`.
pub fn writes<'a>(
    words: &[u64; MESSAGE_WORDS],
    buffer: &'a [u64],
) -> impl Iterator<Item = Option<PostedWrite>> + 'a {
    buffer[..count(words, buffer.len())]
        .iter()
        .map(|&word| PostedWrite::from_word(word))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Every write a kernel can post comes back as it went.
        #[test]
        fn a_write_round_trips(port: u16, size in prop::sample::select(&[1u8, 2, 4][..]), value: u32) {
            let value = (u64::from(value) & size_mask(size)) as u32;
            let write = PostedWrite { port, size, value };
            prop_assert_eq!(PostedWrite::from_word(write.word()), Some(write));
        }

        /// Any word decodes to a write whose own word it is, or to none.
        #[test]
        fn any_word_is_a_write_or_refused(word: u64) {
            if let Some(write) = PostedWrite::from_word(word) {
                prop_assert_eq!(write.word(), word);
            }
        }

        /// The count never reaches past the words that came, nor the queue.
        #[test]
        fn the_count_stays_within_the_buffer(word1: u64, buffer_words in 0usize..80) {
            let words = [0, word1, 0, 0, 0, 0];
            let n = count(&words, buffer_words);
            prop_assert!(n <= buffer_words && n <= QUEUE_WRITES);
        }
    }

    #[test]
    fn malformed_words_are_refused() {
        assert_eq!(PostedWrite::from_word(encode(0x3F8, 3, 0)), None);
        assert_eq!(PostedWrite::from_word(encode(0x3F8, 1, 0x100)), None);
        assert_eq!(
            PostedWrite::from_word(encode(0x3F8, 1, 0x41) | 1 << 24),
            None
        );
        assert_eq!(
            PostedWrite::from_word(encode(0x3F8, 1, 0x41)),
            Some(PostedWrite {
                port: 0x3F8,
                size: 1,
                value: 0x41
            })
        );
    }
}
