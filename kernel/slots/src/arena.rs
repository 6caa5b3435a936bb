//! A generation-checked, index-based arena with a free list.
//!
//! No pointers: entries are addressed by [`RawId`]. Insertion reuses freed
//! slots first, so once [`Arena::ensure_capacity`] has reserved room for `n`
//! live entries, up to `n` entries can be live without the arena allocating
//! — the kernel reserves at object-creation time and the hot paths never
//! allocate.

use alloc::collections::TryReserveError;
use alloc::vec::Vec;

use crate::id::RawId;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry<T> {
    Occupied {
        generation: u32,
        value: T,
    },
    /// `generation` is the one the next occupant will get.
    Free {
        generation: u32,
        next: Option<u32>,
    },
    /// The generation would wrap: never reused, so no id can alias.
    Retired,
}

/// See the module documentation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arena<T> {
    entries: Vec<Entry<T>>,
    free_head: Option<u32>,
    live: usize,
    retired: usize,
}

impl<T> Default for Arena<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Arena<T> {
    /// An empty arena; allocates nothing.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
            free_head: None,
            live: 0,
            retired: 0,
        }
    }

    /// Number of live entries.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.live
    }

    /// Whether no entry is live.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// One past the highest index ever used: every live entry's index is
    /// below it.
    #[must_use]
    pub fn index_bound(&self) -> u32 {
        u32::try_from(self.entries.len()).expect("arena index fits u32")
    }

    /// Makes sure `live` entries fit without another allocation.
    ///
    /// # Errors
    ///
    /// The allocator's error if the storage cannot grow.
    pub fn ensure_capacity(&mut self, live: usize) -> Result<(), TryReserveError> {
        let needed = live.saturating_add(self.retired);
        if needed > self.entries.len() {
            self.entries.try_reserve(needed - self.entries.len())?;
        }
        Ok(())
    }

    /// Stores `value` and returns its id.
    ///
    /// # Errors
    ///
    /// The allocator's error if no free slot exists and the storage cannot
    /// grow; `value` is dropped.
    pub fn insert(&mut self, value: T) -> Result<RawId, TryReserveError> {
        if self.free_head.is_none() {
            self.entries.try_reserve(1)?;
        }
        Ok(self.place(value))
    }

    /// Like [`Self::insert`], but gives `value` back when there is no
    /// room, so whatever it holds can be released.
    ///
    /// # Errors
    ///
    /// `value`, if no free slot exists and the storage cannot grow.
    pub fn try_insert(&mut self, value: T) -> Result<RawId, T> {
        if self.free_head.is_none() && self.entries.try_reserve(1).is_err() {
            return Err(value);
        }
        Ok(self.place(value))
    }

    /// Stores `value` in the free slot at the head of the list, or in room
    /// reserved at the end.
    fn place(&mut self, value: T) -> RawId {
        if let Some(index) = self.free_head {
            let entry = &mut self.entries[index as usize];
            let Entry::Free { generation, next } = *entry else {
                unreachable!("free list points at a non-free entry");
            };
            self.free_head = next;
            *entry = Entry::Occupied { generation, value };
            self.live += 1;
            return RawId::new(index, generation);
        }
        let index = u32::try_from(self.entries.len()).expect("arena index fits u32");
        self.entries.push(Entry::Occupied {
            generation: 0,
            value,
        });
        self.live += 1;
        RawId::new(index, 0)
    }

    /// Removes the entry `id` names, if it is still live.
    pub fn remove(&mut self, id: RawId) -> Option<T> {
        self.get(id)?;
        let index = id.index();
        let entry = &mut self.entries[index as usize];
        let next_entry = match id.generation().checked_add(1) {
            Some(generation) => Entry::Free {
                generation,
                next: self.free_head,
            },
            None => Entry::Retired,
        };
        let old = core::mem::replace(entry, next_entry);
        match old {
            Entry::Occupied { value, .. } => {
                if matches!(self.entries[index as usize], Entry::Free { .. }) {
                    self.free_head = Some(index);
                } else {
                    self.retired += 1;
                }
                self.live -= 1;
                Some(value)
            }
            _ => unreachable!("checked above"),
        }
    }

    /// The entry `id` names, if it is still live.
    #[must_use]
    pub fn get(&self, id: RawId) -> Option<&T> {
        match self.entries.get(id.index() as usize)? {
            Entry::Occupied { generation, value } if *generation == id.generation() => Some(value),
            _ => None,
        }
    }

    /// The entry `id` names, if it is still live.
    #[must_use]
    pub fn get_mut(&mut self, id: RawId) -> Option<&mut T> {
        match self.entries.get_mut(id.index() as usize)? {
            Entry::Occupied { generation, value } if *generation == id.generation() => Some(value),
            _ => None,
        }
    }

    /// The live entry in slot `index`, whatever its generation.
    #[must_use]
    pub fn by_index(&self, index: u32) -> Option<(RawId, &T)> {
        match self.entries.get(index as usize)? {
            Entry::Occupied { generation, value } => Some((RawId::new(index, *generation), value)),
            _ => None,
        }
    }

    /// The live entry in slot `index`, whatever its generation.
    #[must_use]
    pub fn by_index_mut(&mut self, index: u32) -> Option<&mut T> {
        match self.entries.get_mut(index as usize)? {
            Entry::Occupied { value, .. } => Some(value),
            _ => None,
        }
    }

    /// Every live entry, in index order.
    pub fn iter(&self) -> impl Iterator<Item = (RawId, &T)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(index, entry)| match entry {
                Entry::Occupied { generation, value } => Some((
                    RawId::new(u32::try_from(index).expect("fits"), *generation),
                    value,
                )),
                _ => None,
            })
    }
}
