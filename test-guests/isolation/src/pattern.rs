//! The words each partition writes, and how to tell whose a word is.

/// Mixed into every word so that ordinary memory contents (zeros, small
/// numbers, addresses) never look like any partition's pattern.
const PATTERN_BASE: u64 = 0x1501_A7ED_C0DE_0000;
/// Bits 47:40 hold the partition number.
const PARTITION_SHIFT: u32 = 40;
/// Bits 19:0 hold the word's index in the area (4 MiB is 2^19 words).
const INDEX_MASK: u64 = (1 << 20) - 1;
const PARTITION_MASK: u64 = 0xFF << PARTITION_SHIFT;

/// Partition `n`'s pattern.
#[derive(Clone, Copy, Debug)]
pub struct Pattern {
    partition: u8,
    /// `PATTERN_BASE ^ n << 40`: only ever formed for the own partition.
    own_base: u64,
}

impl Pattern {
    pub fn of_partition(partition: u8) -> Self {
        Self {
            partition,
            own_base: PATTERN_BASE ^ (u64::from(partition) << PARTITION_SHIFT),
        }
    }

    pub fn partition(&self) -> u8 {
        self.partition
    }

    /// The word at index `index` of the area.
    pub fn word(&self, index: u64) -> u64 {
        self.own_base ^ (index & INDEX_MASK)
    }

    /// The index of the word at `address` in an area starting at `start`.
    pub fn index_of(&self, start: u64, address: u64) -> u64 {
        (address - start) / 8
    }
}

/// The partition whose pattern `word` belongs to, if that is neither the
/// own partition `own` nor none at all.
pub fn foreign_partition(word: u64, own: u8) -> Option<u8> {
    let decoded = word ^ PATTERN_BASE;
    if decoded & !(PARTITION_MASK | INDEX_MASK) != 0 {
        return None;
    }
    let partition = ((decoded & PARTITION_MASK) >> PARTITION_SHIFT) as u8;
    (partition != 0 && partition != own).then_some(partition)
}
