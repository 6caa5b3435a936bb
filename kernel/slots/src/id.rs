//! Ids: a slot index and the generation of the value that occupied it.
//!
//! When a value is removed and its slot reused, the slot's generation
//! changes, so an id kept from before never names the new value: a lookup
//! with it fails instead of aliasing.

use core::fmt;

/// An arena index and the generation of the value that occupied it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RawId {
    index: u32,
    generation: u32,
}

impl RawId {
    /// The id of the value in slot `index` at `generation`.
    #[must_use]
    pub const fn new(index: u32, generation: u32) -> Self {
        Self { index, generation }
    }

    /// The arena slot.
    #[must_use]
    pub const fn index(self) -> u32 {
        self.index
    }

    /// The generation of the slot when this id was handed out.
    #[must_use]
    pub const fn generation(self) -> u32 {
        self.generation
    }

    /// The id as one word (generation in the high half), for an atomic.
    #[must_use]
    pub const fn to_word(self) -> u64 {
        (self.generation as u64) << 32 | self.index as u64
    }

    /// The id [`Self::to_word`] made this word from.
    #[must_use]
    pub const fn from_word(word: u64) -> Self {
        Self::new(word as u32, (word >> 32) as u32)
    }
}

impl fmt::Debug for RawId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.index, self.generation)
    }
}

/// A typed id over [`RawId`]: what a [`crate::Slots`] table hands out and
/// takes back, so an id of one kind of object cannot look up another.
pub trait SlotId: Copy + Eq + fmt::Debug {
    /// The typed id for `raw`.
    fn from_raw(raw: RawId) -> Self;
    /// The untyped id.
    fn to_raw(self) -> RawId;
}

impl SlotId for RawId {
    fn from_raw(raw: RawId) -> Self {
        raw
    }

    fn to_raw(self) -> RawId {
        self
    }
}
