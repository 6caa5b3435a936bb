//! The last instruction a VP's lock-free exits measured without NRIP save,
//! kept with everything the measurement read, so that the next exit at the
//! same place re-reads those few words instead of walking the guest's page
//! tables and the nested ones again.
//!
//! A measurement depends on: the exit, the code state (RIP, CS base, code
//! size, paging mode, CR3, CR4), the guest page-table entries the walk
//! read, the nested translations of the pages it read them from, and the
//! instruction bytes. The cache keeps the first two as its key, the
//! partition's TLB generation for the nested translations (every change
//! that takes a translation away bumps it), and the locations and values
//! of the entries and bytes. An entry is used only if every one of those
//! is unchanged — then a fresh fetch would read the same words from the
//! same places and measure the same length — so it never answers what a
//! fresh fetch would not. A guest that rewrites or remaps its code just
//! misses it.
use crate::guest_walk::{self, GuestPhysical};
use crate::instruction::{self, CodeState, Fetched, MAX_LENGTH, Skipped};
use core::cell::Cell;

/// Guest memory by location: where a GPA lives now, and the word there.
pub trait Locations: GuestPhysical {
    /// The host location of `gpa` (an address), valid until the
    /// partition's TLB generation changes.
    fn locate(&self, gpa: u64) -> Option<u64>;
    /// The aligned word at `location`.
    fn word(&self, location: u64) -> u64;
}

/// The most entries a walk reads (4-level long mode).
const MAX_ENTRIES: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    skipped: Skipped,
    code: CodeState,
    generation: u64,
}

/// The last measurement (see the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FetchCache {
    key: Option<Key>,
    /// The page-table entries the walk read: location, value.
    entries: [(u64, u64); MAX_ENTRIES],
    entry_count: usize,
    /// The words that hold the instruction (it lies in one page; longer
    /// ones are not kept): location, the mask of its bytes, their value.
    code: [(u64, u64, u64); CODE_WORDS],
    length: u8,
}

/// A 15-byte instruction spans at most 3 aligned words.
const CODE_WORDS: usize = 3;

/// Guest memory that remembers the words a walk read.
struct Recorder<'a, M> {
    memory: &'a M,
    reads: Cell<[(u64, u64); MAX_ENTRIES]>,
    count: Cell<usize>,
}

impl<M: GuestPhysical> GuestPhysical for Recorder<'_, M> {
    fn read_u64(&self, gpa: u64) -> Option<u64> {
        let value = self.memory.read_u64(gpa)?;
        let count = self.count.get();
        if count < MAX_ENTRIES {
            let mut reads = self.reads.get();
            reads[count] = (gpa, value);
            self.reads.set(reads);
        }
        self.count.set(count + 1);
        Some(value)
    }
}

impl FetchCache {
    /// Where RIP goes past `skipped` at `code` on a CPU without NRIP save
    /// (`instruction::next_rip` with the fetch), re-using the last
    /// measurement where nothing it read has changed. `generation` is the
    /// partition's TLB generation now.
    pub fn next_rip(
        &mut self,
        skipped: Skipped,
        code: &CodeState,
        generation: u64,
        memory: &impl Locations,
    ) -> Option<u64> {
        let key = Key {
            skipped,
            code: *code,
            generation,
        };
        if self.key == Some(key) && self.still_holds(memory) {
            return Some(code.advanced(u64::from(self.length)));
        }
        self.key = None;
        self.measure(key, memory)
    }

    fn still_holds(&self, memory: &impl Locations) -> bool {
        let entries = &self.entries[..self.entry_count];
        entries
            .iter()
            .all(|&(location, value)| memory.word(location) == value)
            && self
                .code
                .iter()
                .all(|&(location, mask, value)| mask == 0 || memory.word(location) & mask == value)
    }

    /// A fresh fetch and match, remembered when everything it read can be
    /// found again.
    fn measure(&mut self, key: Key, memory: &impl Locations) -> Option<u64> {
        let code = &key.code;
        let start = code.cs_base.wrapping_add(code.rip);
        let recorder = Recorder {
            memory,
            reads: Cell::new([(0, 0); MAX_ENTRIES]),
            count: Cell::new(0),
        };
        let page =
            guest_walk::translate(&recorder, code.paging, code.cr3, code.cr4, start & !0xFFF);
        // Bytes that may run into the next page take the full fetch, and
        // are not kept.
        let (Some(page), true) = (page, (start & 0xFFF) as usize + MAX_LENGTH <= 0x1000) else {
            let fetched = instruction::fetch(memory, code);
            let length = instruction::length(key.skipped, fetched.as_slice(), code.bits == 64)?;
            return Some(code.advanced(u64::from(length)));
        };
        let mut fetched = Fetched::default();
        if memory.read_bytes(page | (start & 0xFFF), &mut fetched.bytes) {
            fetched.count = MAX_LENGTH;
        }
        let length = instruction::length(key.skipped, fetched.as_slice(), code.bits == 64)?;
        let next = code.advanced(u64::from(length));
        if recorder.count.get() > MAX_ENTRIES {
            return Some(next);
        }
        let mut entries = [(0, 0); MAX_ENTRIES];
        for (slot, &(gpa, value)) in entries
            .iter_mut()
            .zip(&recorder.reads.get()[..recorder.count.get()])
        {
            let Some(location) = memory.locate(gpa) else {
                return Some(next);
            };
            *slot = (location, value);
        }
        let Some(first) = memory.locate(page | (start & 0xFFF)) else {
            return Some(next);
        };
        // The instruction's bytes, by the aligned words that hold them.
        let mut code = [(0, 0, 0); CODE_WORDS];
        for (index, &byte) in fetched.bytes[..usize::from(length)].iter().enumerate() {
            let at = first + index as u64;
            let slot = ((at & !7) - (first & !7)) as usize / 8;
            let shift = (at & 7) * 8;
            code[slot].0 = at & !7;
            code[slot].1 |= 0xFF << shift;
            code[slot].2 |= u64::from(byte) << shift;
        }
        *self = Self {
            key: Some(key),
            entries,
            entry_count: recorder.count.get(),
            code,
            length,
        };
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest_walk::Paging;
    use proptest::prelude::*;
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    /// Guest memory: GPA pages, each at a host location of its own
    /// (`place`), which a remap changes.
    #[derive(Default)]
    struct Memory {
        pages: RefCell<BTreeMap<u64, [u8; 4096]>>,
        place: RefCell<BTreeMap<u64, u64>>,
        reads: Cell<usize>,
    }

    impl Memory {
        fn write(&self, gpa: u64, bytes: &[u8]) {
            let mut pages = self.pages.borrow_mut();
            for (index, byte) in bytes.iter().enumerate() {
                let at = gpa + index as u64;
                pages.entry(at & !0xFFF).or_insert([0; 4096])[(at & 0xFFF) as usize] = *byte;
                self.place
                    .borrow_mut()
                    .entry(at & !0xFFF)
                    .or_insert((at & !0xFFF) | 1 << 40);
            }
        }
    }

    impl GuestPhysical for Memory {
        fn read_u64(&self, gpa: u64) -> Option<u64> {
            self.reads.set(self.reads.get() + 1);
            let pages = self.pages.borrow();
            let page = pages.get(&(gpa & !0xFFF))?;
            let at = (gpa & 0xFFF) as usize;
            Some(u64::from_le_bytes(page[at..at + 8].try_into().unwrap()))
        }
    }

    impl Locations for Memory {
        fn locate(&self, gpa: u64) -> Option<u64> {
            Some(self.place.borrow().get(&(gpa & !0xFFF))? | (gpa & 0xFFF))
        }

        fn word(&self, location: u64) -> u64 {
            let place = self.place.borrow();
            let page = place.iter().find(|(_, host)| **host == location & !0xFFF);
            page.and_then(|(&gpa, _)| self.read_u64(gpa | (location & 0xFFF)))
                .unwrap_or(u64::MAX)
        }
    }

    /// A long-mode map of the code page 0x40_1000 through tables at
    /// 0x1000..0x4000, with `bytes` at 0x40_1FF0 + `offset`.
    fn long_mode(memory: &Memory, bytes: &[u8], offset: u64) -> CodeState {
        memory.write(0x1000, &(0x2000u64 | 3).to_le_bytes());
        memory.write(0x2000, &(0x3000u64 | 3).to_le_bytes());
        memory.write(0x3000 + 2 * 8, &(0x4000u64 | 3).to_le_bytes());
        memory.write(0x4008, &(0x9000u64 | 3).to_le_bytes());
        memory.write(0x9FF0 + offset, bytes);
        CodeState {
            rip: 0x40_1FF0 + offset,
            cs_base: 0,
            bits: 64,
            paging: Paging::LongMode,
            cr3: 0x1000,
            cr4: 1 << 5,
        }
    }

    #[test]
    fn a_second_exit_reads_only_what_the_first_read() {
        let memory = Memory::default();
        let code = long_mode(&memory, &[0x66, 0x0F, 0xA2], 0);
        let mut cache = FetchCache::default();
        assert_eq!(
            cache.next_rip(Skipped::Cpuid, &code, 7, &memory),
            Some(code.rip + 3)
        );
        let walked = memory.reads.replace(0);
        assert_eq!(
            cache.next_rip(Skipped::Cpuid, &code, 7, &memory),
            Some(code.rip + 3)
        );
        assert!(
            memory.reads.get() < walked,
            "{} words, a walk read {walked}",
            memory.reads.get()
        );
    }

    #[test]
    fn any_change_to_what_was_read_makes_a_fresh_fetch() {
        let memory = Memory::default();
        let code = long_mode(&memory, &[0x0F, 0xA2], 0);
        let mut cache = FetchCache::default();
        assert_eq!(
            cache.next_rip(Skipped::Cpuid, &code, 1, &memory),
            Some(code.rip + 2)
        );
        // The code changes: now prefixed.
        memory.write(0x9FF0, &[0x2E, 0x0F, 0xA2]);
        assert_eq!(
            cache.next_rip(Skipped::Cpuid, &code, 1, &memory),
            Some(code.rip + 3)
        );
        // The PTE now maps another page, with a plain CPUID.
        memory.write(0xAFF0, &[0x0F, 0xA2]);
        memory.write(0x4008, &(0xA000u64 | 3).to_le_bytes());
        assert_eq!(
            cache.next_rip(Skipped::Cpuid, &code, 1, &memory),
            Some(code.rip + 2)
        );
        // Another exit, another generation.
        assert_eq!(cache.next_rip(Skipped::Hlt, &code, 1, &memory), None);
        assert_eq!(
            cache.next_rip(Skipped::Cpuid, &code, 2, &memory),
            Some(code.rip + 2)
        );
    }

    #[derive(Clone, Debug)]
    enum Change {
        Code { offset: u8, byte: u8 },
        Entry { level: u8, value: u16 },
        Generation,
    }

    fn change() -> impl Strategy<Value = Change> {
        prop_oneof![
            (
                0u8..16,
                proptest::sample::select(std::vec![0x0Fu8, 0xA2, 0x66, 0x2E, 0x90, 0x30])
            )
                .prop_map(|(offset, byte)| Change::Code { offset, byte }),
            (0u8..4, any::<u16>()).prop_map(|(level, value)| Change::Entry { level, value }),
            Just(Change::Generation),
        ]
    }

    proptest! {
        /// Whatever changes between exits, the cache answers what a fresh
        /// fetch and match would.
        #[test]
        fn the_cache_never_answers_what_a_fresh_fetch_would_not(
            offset in 0u64..16,
            changes in proptest::collection::vec(proptest::option::of(change()), 1..24),
        ) {
            let memory = Memory::default();
            let code = long_mode(&memory, &[0x66, 0x0F, 0xA2], offset);
            let mut cache = FetchCache::default();
            let mut generation = 1;
            let tables = [0x1000u64, 0x2000, 0x3010, 0x4008];
            for change in changes {
                match change {
                    Some(Change::Code { offset: at, byte }) => {
                        memory.write(0x9FF0 + offset + u64::from(at), &[byte]);
                    }
                    Some(Change::Entry { level, value }) => {
                        // Point the entry at one of the table or code pages,
                        // or make it not present.
                        let targets = [0x2000u64, 0x3000, 0x4000, 0x9000, 0xA000];
                        let entry = targets[usize::from(value) % targets.len()] | u64::from(value & 1) | 2;
                        memory.write(tables[usize::from(level)], &entry.to_le_bytes());
                    }
                    Some(Change::Generation) => generation += 1,
                    None => {}
                }
                let fresh = instruction::next_rip(Skipped::Cpuid, &code, None, || instruction::fetch(&memory, &code));
                prop_assert_eq!(cache.next_rip(Skipped::Cpuid, &code, generation, &memory), fresh);
            }
        }
    }
}
