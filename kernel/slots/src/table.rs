//! [`Slots`]: an [`Arena`] addressed by one typed id.

use core::marker::PhantomData;

use crate::arena::Arena;
use crate::fallible::OutOfMemory;
use crate::id::SlotId;

/// Values of one kind, each named by an id of type `I` whose generation is
/// checked on every access: a stale id (its value removed, its slot maybe
/// reused) finds nothing. Removed slots are reused first, so a table that
/// churns stays the size of its largest live population.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slots<I, T> {
    arena: Arena<T>,
    kind: PhantomData<fn(I) -> I>,
}

impl<I, T> Default for Slots<I, T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<I, T> Slots<I, T> {
    /// An empty table; allocates nothing.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            arena: Arena::new(),
            kind: PhantomData,
        }
    }

    /// Number of live values.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.arena.len()
    }

    /// Whether no value is live.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.arena.is_empty()
    }

    /// One past the highest slot index ever used: what the table's storage
    /// holds (live, free and retired slots).
    #[must_use]
    pub fn slots_used(&self) -> u32 {
        self.arena.index_bound()
    }
}

impl<I: SlotId, T> Slots<I, T> {
    /// Stores `value` (in a free slot if there is one) and returns its id.
    ///
    /// # Errors
    ///
    /// `value` itself, if no slot is free and the storage cannot grow (the
    /// heap is exhausted): whatever it holds can then be released.
    pub fn insert(&mut self, value: T) -> Result<I, T> {
        self.arena.try_insert(value).map(I::from_raw)
    }

    /// Makes sure `more` values can be inserted without another allocation.
    ///
    /// # Errors
    ///
    /// [`OutOfMemory`] if the storage cannot grow.
    pub fn reserve(&mut self, more: usize) -> Result<(), OutOfMemory> {
        self.arena
            .ensure_capacity(self.arena.len().saturating_add(more))
            .map_err(|_| OutOfMemory)
    }

    /// Removes the value `id` names, if it is still live.
    pub fn remove(&mut self, id: I) -> Option<T> {
        self.arena.remove(id.to_raw())
    }

    /// The value `id` names, if it is still live.
    #[must_use]
    pub fn get(&self, id: I) -> Option<&T> {
        self.arena.get(id.to_raw())
    }

    /// The value `id` names, if it is still live.
    #[must_use]
    pub fn get_mut(&mut self, id: I) -> Option<&mut T> {
        self.arena.get_mut(id.to_raw())
    }

    /// Whether `id` names a live value.
    #[must_use]
    pub fn contains(&self, id: I) -> bool {
        self.get(id).is_some()
    }

    /// The id of the live value in slot `index`, whatever its generation:
    /// with [`Self::slots_used`], a walk over the table that may change it
    /// on the way.
    #[must_use]
    pub fn id_at(&self, index: u32) -> Option<I> {
        self.arena.by_index(index).map(|(raw, _)| I::from_raw(raw))
    }

    /// Every live value with its id, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (I, &T)> {
        self.arena
            .iter()
            .map(|(raw, value)| (I::from_raw(raw), value))
    }

    /// The ids of every live value, in slot order, one at a time from
    /// `after` (exclusive; `None`: from the start): a walk that may change
    /// the table between steps, allocating nothing.
    #[must_use]
    pub fn next_id(&self, after: Option<I>) -> Option<I> {
        let start = after.map_or(0, |id| id.to_raw().index() + 1);
        (start..self.slots_used()).find_map(|index| self.id_at(index))
    }
}
