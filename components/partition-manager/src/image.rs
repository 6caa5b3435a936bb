//! Applying a [`LoadPlan`] to guest memory that the manager reaches only a
//! word at a time (`tessera_rt::memory::read`/`write`: aligned 64-bit words
//! in the region window).
//!
//! The plan's writes and zero fills start and end at any byte; the edges are
//! merged into the words around them (read, patch, write back).

use tessera_guest_loader::LoadPlan;

/// Guest memory as words: `offset` is a byte offset from guest-physical 0,
/// always 8-aligned here.
pub trait WordMemory {
    fn read(&mut self, offset: u64, out: &mut [u64]);
    fn write(&mut self, offset: u64, words: &[u64]);
}

/// Words written per call to [`WordMemory::write`].
const CHUNK: usize = 64;

/// `byte` at position `index` (0..8) of a little-endian word.
const fn byte_mask(index: usize) -> u64 {
    0xFF << (index * 8)
}

/// Writes `len` bytes at `offset`, taking byte `i` from `byte(i)`.
fn write_with(memory: &mut impl WordMemory, offset: u64, len: u64, byte: impl Fn(u64) -> u8) {
    if len == 0 {
        return;
    }
    let end = offset + len;
    let first_word = offset & !7;
    let last_word = (end - 1) & !7;
    let mut at = first_word;
    let mut buffer = [0u64; CHUNK];
    while at <= last_word {
        let words =
            usize::try_from(((last_word - at) / 8 + 1).min(CHUNK as u64)).expect("at most CHUNK");
        let chunk = &mut buffer[..words];
        // Only the first and last word of the whole range can be partial.
        let partial_head = at < offset;
        let partial_tail = at + words as u64 * 8 > end;
        if partial_head || partial_tail {
            memory.read(at, chunk);
        }
        for (index, word) in chunk.iter_mut().enumerate() {
            let base = at + index as u64 * 8;
            for byte_index in 0..8 {
                let address = base + byte_index as u64;
                if address >= offset && address < end {
                    *word = (*word & !byte_mask(byte_index))
                        | (u64::from(byte(address - offset)) << (byte_index * 8));
                }
            }
        }
        memory.write(at, chunk);
        at += words as u64 * 8;
    }
}

/// Copies `bytes` to `offset`.
pub fn write_bytes(memory: &mut impl WordMemory, offset: u64, bytes: &[u8]) {
    write_with(memory, offset, bytes.len() as u64, |index| {
        bytes[usize::try_from(index).expect("inside the slice")]
    });
}

/// Zeroes `len` bytes at `offset`.
pub fn zero_bytes(memory: &mut impl WordMemory, offset: u64, len: u64) {
    write_with(memory, offset, len, |_| 0);
}

/// Applies every write and zero fill of `plan` (the loader guarantees they
/// lie inside guest RAM and do not overlap). Returns the bytes written and
/// zeroed.
pub fn apply(memory: &mut impl WordMemory, plan: &LoadPlan<'_>) -> (u64, u64) {
    let mut written = 0;
    for write in &plan.writes {
        write_bytes(memory, write.gpa, &write.bytes);
        written += write.bytes.len() as u64;
    }
    let mut zeroed = 0;
    for fill in &plan.zero {
        zero_bytes(memory, fill.gpa, fill.len);
        zeroed += fill.len;
    }
    (written, zeroed)
}

/// `bytes` rounded up to whole pages (`None` if that overflows).
pub const fn pages(bytes: u64) -> Option<u64> {
    match bytes.checked_add(0xFFF) {
        Some(rounded) => Some(rounded / 0x1000),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    /// Byte-addressed memory behind the word interface, counting calls.
    struct Fake {
        bytes: Vec<u8>,
        reads: usize,
        writes: usize,
    }

    impl Fake {
        fn new(len: usize, fill: u8) -> Self {
            Self {
                bytes: vec![fill; len],
                reads: 0,
                writes: 0,
            }
        }
    }

    impl WordMemory for Fake {
        fn read(&mut self, offset: u64, out: &mut [u64]) {
            assert!(offset.is_multiple_of(8));
            self.reads += 1;
            for (index, word) in out.iter_mut().enumerate() {
                let at = offset as usize + index * 8;
                *word = u64::from_le_bytes(self.bytes[at..at + 8].try_into().unwrap());
            }
        }
        fn write(&mut self, offset: u64, words: &[u64]) {
            assert!(offset.is_multiple_of(8));
            assert!(words.len() <= CHUNK);
            self.writes += 1;
            for (index, word) in words.iter().enumerate() {
                let at = offset as usize + index * 8;
                self.bytes[at..at + 8].copy_from_slice(&word.to_le_bytes());
            }
        }
    }

    #[test]
    fn unaligned_writes_keep_the_bytes_around_them() {
        for offset in 0..24u64 {
            for len in 0..40usize {
                let mut memory = Fake::new(96, 0xAA);
                let data: Vec<u8> = (0..len).map(|i| i as u8 + 1).collect();
                write_bytes(&mut memory, offset, &data);
                let mut expected = vec![0xAA; 96];
                expected[offset as usize..offset as usize + len].copy_from_slice(&data);
                assert_eq!(memory.bytes, expected, "offset {offset}, len {len}");
            }
        }
    }

    #[test]
    fn aligned_writes_never_read() {
        let mut memory = Fake::new(4096, 0xAA);
        write_bytes(&mut memory, 8, &[7; 1024]);
        assert_eq!(memory.reads, 0);
        assert_eq!(memory.writes, 2, "128 words in chunks of 64");
        assert!(memory.bytes[8..1032].iter().all(|&b| b == 7));
        assert_eq!(memory.bytes[7], 0xAA);
        assert_eq!(memory.bytes[1032], 0xAA);
    }

    #[test]
    fn zero_fills_clear_exactly_their_range() {
        let mut memory = Fake::new(2048, 0xAA);
        zero_bytes(&mut memory, 3, 1500);
        assert!(memory.bytes[..3].iter().all(|&b| b == 0xAA));
        assert!(memory.bytes[3..1503].iter().all(|&b| b == 0));
        assert!(memory.bytes[1503..].iter().all(|&b| b == 0xAA));
    }

    #[test]
    fn a_plan_lands_where_it_says() {
        use alloc::borrow::Cow;
        use tessera_guest_loader::{Piece, Write, ZeroFill};
        let plan = LoadPlan {
            writes: vec![Write {
                what: Piece::Kernel,
                gpa: 0x101,
                bytes: Cow::Owned(vec![1, 2, 3]),
            }],
            zero: vec![ZeroFill {
                what: Piece::KernelBss,
                gpa: 0x104,
                len: 5,
            }],
            vp: crate::registers_test_state(),
        };
        let mut memory = Fake::new(0x200, 0xAA);
        assert_eq!(apply(&mut memory, &plan), (3, 5));
        assert_eq!(
            memory.bytes[0x100..0x10A],
            [0xAA, 1, 2, 3, 0, 0, 0, 0, 0, 0xAA]
        );
    }

    #[test]
    fn sizes_round_up_to_pages() {
        assert_eq!(pages(0), Some(0));
        assert_eq!(pages(1), Some(1));
        assert_eq!(pages(0x1000), Some(1));
        assert_eq!(pages(0x1001), Some(2));
        assert_eq!(pages(u64::MAX), None);
    }
}
