//! One-shot deadlines for the kernel's clients: a bounded table, one entry
//! per key, that hands back the entries whose deadline has come — never one
//! before its deadline. The kernel keys it by notification and checks it
//! at its scheduling points and timer interrupts; the arithmetic and the
//! bookkeeping live here, free of hardware, so they are tested on the host.

/// The table is full: the caller gets an error, nothing is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

/// Up to `N` armed deadlines, at most one per key, each carrying `P`.
#[derive(Clone, Debug)]
pub struct Deadlines<K, P, const N: usize> {
    entries: [Option<Entry<K, P>>; N],
}

#[derive(Clone, Copy, Debug)]
struct Entry<K, P> {
    key: K,
    deadline: u64,
    payload: P,
}

impl<K: Copy + Eq, P: Copy, const N: usize> Default for Deadlines<K, P, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Copy + Eq, P: Copy, const N: usize> Deadlines<K, P, N> {
    pub const fn new() -> Self {
        Self { entries: [None; N] }
    }

    /// Arms `key` for `deadline` with `payload`, replacing what `key` had.
    ///
    /// # Errors
    ///
    /// [`Full`] when `key` has no entry and all `N` are taken.
    pub fn arm(&mut self, key: K, deadline: u64, payload: P) -> Result<(), Full> {
        let entry = Entry {
            key,
            deadline,
            payload,
        };
        if let Some(slot) = self.slot_of(key) {
            *slot = Some(entry);
            return Ok(());
        }
        let free = self
            .entries
            .iter_mut()
            .find(|slot| slot.is_none())
            .ok_or(Full)?;
        *free = Some(entry);
        Ok(())
    }

    /// Disarms `key`; whether it was armed.
    pub fn cancel(&mut self, key: K) -> bool {
        self.slot_of(key).map(Option::take).is_some()
    }

    /// Disarms every entry whose key `f` picks (for example those of a
    /// client that went away).
    pub fn cancel_where_key(&mut self, mut f: impl FnMut(&K) -> bool) {
        for slot in &mut self.entries {
            if slot.as_ref().is_some_and(|entry| f(&entry.key)) {
                *slot = None;
            }
        }
    }

    /// Whether `key` is armed.
    pub fn is_armed(&self, key: K) -> bool {
        self.armed().any(|entry| entry.key == key)
    }

    /// How many armed entries have a key `f` picks.
    pub fn count_where_key(&self, mut f: impl FnMut(&K) -> bool) -> usize {
        self.armed().filter(|entry| f(&entry.key)).count()
    }

    /// Disarms every entry due at `now` (deadline ≤ `now`) and hands each
    /// to `due`.
    pub fn expire(&mut self, now: u64, mut due: impl FnMut(K, P)) {
        for slot in &mut self.entries {
            if let Some(entry) = *slot
                && entry.deadline <= now
            {
                *slot = None;
                due(entry.key, entry.payload);
            }
        }
    }

    /// The earliest armed deadline.
    pub fn earliest(&self) -> Option<u64> {
        self.armed().map(|entry| entry.deadline).min()
    }

    /// Whether nothing is armed.
    pub fn is_empty(&self) -> bool {
        self.armed().next().is_none()
    }

    fn armed(&self) -> impl Iterator<Item = &Entry<K, P>> {
        self.entries.iter().flatten()
    }

    fn slot_of(&mut self, key: K) -> Option<&mut Option<Entry<K, P>>> {
        self.entries
            .iter_mut()
            .find(|slot| slot.as_ref().is_some_and(|entry| entry.key == key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn arm_replace_cancel_and_full() {
        let mut table = Deadlines::<u8, u64, 2>::new();
        assert!(table.is_empty());
        table.arm(1, 100, 0b1).unwrap();
        table.arm(1, 50, 0b10).unwrap();
        assert_eq!(table.earliest(), Some(50), "a re-arm replaces");
        table.arm(2, 70, 0b100).unwrap();
        assert_eq!(table.arm(3, 10, 0), Err(Full));
        assert!(table.is_armed(1));
        assert!(table.cancel(1));
        assert!(!table.cancel(1));
        assert!(!table.is_armed(1));
        table.arm(3, 10, 0).unwrap();
        assert_eq!(table.count_where_key(|_| true), 2);
        table.cancel_where_key(|&key| key == 3);
        assert_eq!(table.earliest(), Some(70));
        let mut fired = Vec::new();
        table.expire(69, |key, bits| fired.push((key, bits)));
        assert!(fired.is_empty(), "one tick early");
        table.expire(70, |key, bits| fired.push((key, bits)));
        assert_eq!(fired, [(2, 0b100)]);
        assert!(table.is_empty());
    }

    proptest! {
        /// Whatever is armed and whenever the table is looked at, an entry
        /// comes out exactly once, at the first look at or after its
        /// deadline, with the payload of its last arming.
        #[test]
        fn never_early_never_lost(
            arms in proptest::collection::vec((0u8..6, 0u64..1000, any::<u32>()), 0..20),
            looks in proptest::collection::vec(0u64..1200, 1..10),
        ) {
            let mut table = Deadlines::<u8, u32, 8>::new();
            let mut expected = std::collections::BTreeMap::new();
            for (key, deadline, payload) in arms {
                table.arm(key, deadline, payload).unwrap();
                expected.insert(key, (deadline, payload));
            }
            let mut looks = looks;
            looks.sort_unstable();
            looks.push(u64::MAX);
            let mut seen = std::collections::BTreeMap::new();
            for now in looks {
                table.expire(now, |key, payload| {
                    assert!(seen.insert(key, (now, payload)).is_none(), "twice");
                });
            }
            prop_assert_eq!(seen.len(), expected.len());
            for (key, (deadline, payload)) in expected {
                let (at, got) = seen[&key];
                prop_assert!(at >= deadline, "early");
                prop_assert_eq!(got, payload);
            }
        }
    }
}
