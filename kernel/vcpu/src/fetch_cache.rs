//! The last two instructions a VP's exits measured without NRIP save, kept
//! with everything each measurement read, so that the next exit at either
//! place re-reads those few words instead of walking the guest's page
//! tables and the nested ones again. Two, because exits come in pairs
//! that alternate: a self-IPI's ICR write and its handler's EOI write each
//! missed a one-entry cache on every round.
//!
//! A measurement depends on: the exit, the code state (RIP, CS base and
//! attributes, CR0, CR3, CR4, EFER: `CodeState::of` reads nothing else),
//! the guest page-table entries the walk read, the nested translations of
//! the pages it read them from, and the instruction bytes. The cache keeps
//! the first two as its key, raw, the partition's TLB generation for the
//! nested translations (every change that takes a translation away bumps
//! it), and the locations and values of the entries and bytes. An entry is
//! used only if every one of those is unchanged — then a fresh fetch would
//! read the same words from the same places and measure the same length —
//! so it never answers what a fresh fetch would not. A guest that rewrites
//! or remaps its code just misses it.
//!
//! The hit is the hot path of every CPUID, hypercall and MSR exit on a CPU
//! without NRIP save, so it is kept small: the key is the VMCB's own fields
//! compared raw (no code state is worked out), and the words to re-read are
//! one flat list. Only the most recent entry is checked there; the other
//! one on the (out-of-line) miss path, before a fresh measurement, which
//! becomes the most recent and moves the previous one to second place.
use crate::guest_walk::{self, GuestPhysical};
use crate::instruction::{self, CodeState, Fetched, MAX_LENGTH, Skipped};
use core::cell::Cell;
use tessera_svm::save_area::VmcbSaveArea;

/// Guest memory by location: where a GPA lives now, and the word there.
pub trait Locations: GuestPhysical {
    /// The host location of `gpa`: an address, linear within a page
    /// (the kernel's is where it maps the byte, so `word` needs no
    /// arithmetic), valid until the partition's TLB generation changes.
    fn locate(&self, gpa: u64) -> Option<u64>;
    /// The aligned word at `location`.
    fn word(&self, location: u64) -> u64;
}

/// The most entries a walk reads (4-level long mode).
const MAX_ENTRIES: usize = 4;
/// A 15-byte instruction spans at most 3 aligned words.
const CODE_WORDS: usize = 3;
const MAX_WORDS: usize = MAX_ENTRIES + CODE_WORDS;
// `Measurement::words_changed` spells out every count up to this.
const _: () = assert!(MAX_WORDS == 7);

/// What a measurement was made for: every input of `CodeState::of`, raw,
/// the exit and the TLB generation. Any difference, even in a bit the
/// measurement would not have read, is a miss.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Key {
    rip: u64,
    cs_base: u64,
    cr0: u64,
    cr3: u64,
    cr4: u64,
    efer: u64,
    /// CS's attributes (bits 15:0) and the exit's instruction plus one
    /// (bits 23:16): never 0, so the empty cache's key matches nothing.
    attributes_and_exit: u64,
    generation: u64,
}

impl Key {
    #[inline(always)]
    fn of(skipped: Skipped, save: &VmcbSaveArea, generation: u64) -> Self {
        Self {
            rip: save.rip,
            cs_base: save.cs.base,
            cr0: save.cr0,
            cr3: save.cr3,
            cr4: save.cr4,
            efer: save.efer,
            attributes_and_exit: attributes_and_exit(skipped, save),
            generation,
        }
    }

    /// The bits in which this key and the one `Key::of` would make from
    /// the same inputs differ (0: it matches), read straight from the
    /// save area: no key is built and there is no branch per field.
    #[inline(always)]
    fn difference(&self, skipped: Skipped, save: &VmcbSaveArea, generation: u64) -> u64 {
        (self.rip ^ save.rip)
            | (self.cs_base ^ save.cs.base)
            | (self.cr0 ^ save.cr0)
            | (self.cr3 ^ save.cr3)
            | (self.cr4 ^ save.cr4)
            | (self.efer ^ save.efer)
            | (self.attributes_and_exit ^ attributes_and_exit(skipped, save))
            | (self.generation ^ generation)
    }
}

#[inline(always)]
fn attributes_and_exit(skipped: Skipped, save: &VmcbSaveArea) -> u64 {
    u64::from(save.cs.attrib.into_bits()) | (skipped as u64 + 1) << 16
}

/// A word a measurement read: where, which of its bits, their value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Word {
    location: u64,
    mask: u64,
    value: u64,
}

/// The last two measurements (see the module documentation): `recent`
/// checked on the hot path, `previous` before a fresh fetch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FetchCache {
    recent: Measurement,
    previous: Measurement,
}

/// One measurement and what it read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Measurement {
    key: Key,
    /// The page-table entries the walk read (whole words), then the words
    /// that hold the instruction (it lies in one page; longer ones are not
    /// kept), masked to its bytes.
    words: [Word; MAX_WORDS],
    word_count: usize,
    /// The instruction's length, and the mask that wraps IP at the code
    /// size (`CodeState::advanced`); both follow from the key and bytes.
    length: u64,
    ip_mask: u64,
}

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

/// IP wraps at the code size: the mask `CodeState::advanced` applies.
fn ip_mask(bits: u32) -> u64 {
    match bits {
        16 => 0xFFFF,
        32 => 0xFFFF_FFFF,
        _ => u64::MAX,
    }
}

impl FetchCache {
    /// Where RIP goes past `skipped` at the guest state `save` on a CPU
    /// without NRIP save (`instruction::next_rip` with the fetch), re-using
    /// a recent measurement where nothing it read has changed.
    /// `generation` is the partition's TLB generation now.
    #[inline(always)]
    pub fn next_rip(
        &mut self,
        skipped: Skipped,
        save: &VmcbSaveArea,
        generation: u64,
        memory: &impl Locations,
    ) -> Option<u64> {
        match self.hit(skipped, save, generation, memory) {
            Some(next) => Some(next),
            None => self.measure(skipped, save, generation, memory),
        }
    }

    /// [`FetchCache::next_rip`] if the most recent measurement still
    /// holds, else `None` (then [`FetchCache::measure`] tries the other
    /// one, then measures). Apart, so that a caller's hot path never
    /// merges the hit with the measurement.
    #[inline(always)]
    pub fn hit(
        &self,
        skipped: Skipped,
        save: &VmcbSaveArea,
        generation: u64,
        memory: &impl Locations,
    ) -> Option<u64> {
        self.recent.hit(skipped, save, generation, memory)
    }

    /// What [`FetchCache::next_rip`] does when the most recent measurement
    /// misses: the previous one if it still holds, else a fresh fetch and
    /// match, remembered as the most recent when everything it read can be
    /// found again.
    #[cold]
    #[inline(never)]
    pub fn measure(
        &mut self,
        skipped: Skipped,
        save: &VmcbSaveArea,
        generation: u64,
        memory: &impl Locations,
    ) -> Option<u64> {
        if let Some(next) = self.previous.hit(skipped, save, generation, memory) {
            return Some(next);
        }
        let (next, fresh) = Measurement::take(skipped, save, generation, memory)?;
        if let Some(fresh) = fresh {
            self.previous = self.recent;
            self.recent = fresh;
        }
        Some(next)
    }
}

impl Measurement {
    /// Where RIP goes past the instruction if this measurement still holds
    /// (everything it read is unchanged), else `None`.
    #[inline(always)]
    fn hit(
        &self,
        skipped: Skipped,
        save: &VmcbSaveArea,
        generation: u64,
        memory: &impl Locations,
    ) -> Option<u64> {
        // The key first, on its own: its eight differences then need no
        // registers while the words are read.
        if self.key.difference(skipped, save, generation) != 0 || self.words_changed(memory) != 0 {
            return None;
        }
        Some(save.rip.wrapping_add(self.length) & self.ip_mask)
    }

    /// The bits in which the kept words now differ from what the
    /// measurement read (0: none changed). One straight line per count,
    /// without a loop or a branch per word: this runs on every hit.
    #[inline(always)]
    fn words_changed(&self, memory: &impl Locations) -> u64 {
        let words = &self.words;
        let changed = |index: usize| {
            let word = &words[index];
            (memory.word(word.location) & word.mask) ^ word.value
        };
        match self.word_count {
            1 => changed(0),
            2 => changed(0) | changed(1),
            3 => changed(0) | changed(1) | changed(2),
            4 => changed(0) | changed(1) | changed(2) | changed(3),
            5 => changed(0) | changed(1) | changed(2) | changed(3) | changed(4),
            6 => changed(0) | changed(1) | changed(2) | changed(3) | changed(4) | changed(5),
            7 => {
                changed(0)
                    | changed(1)
                    | changed(2)
                    | changed(3)
                    | changed(4)
                    | changed(5)
                    | changed(6)
            }
            // An empty cache (its key matches nothing anyway).
            _ => u64::MAX,
        }
    }

    /// A fresh fetch and match: the next RIP, and the measurement when
    /// everything it read can be found again.
    fn take(
        skipped: Skipped,
        save: &VmcbSaveArea,
        generation: u64,
        memory: &impl Locations,
    ) -> Option<(u64, Option<Self>)> {
        // Built here, not by the caller, so the hit keeps nothing of it.
        let key = Key::of(skipped, save, generation);
        let code = &CodeState::of(save);
        let start = code.cs_base.wrapping_add(code.rip);
        let recorder = Recorder {
            memory,
            reads: Cell::new([(0, 0); MAX_ENTRIES]),
            count: Cell::new(0),
        };
        let page =
            guest_walk::translate(&recorder, code.paging, code.cr3, code.cr4, start & !0xFFF);
        let full_fetch = || {
            let fetched = instruction::fetch(memory, code);
            let length = instruction::length(skipped, fetched.as_slice(), code.bits == 64)?;
            Some((code.advanced(u64::from(length)), None))
        };
        let Some(page) = page else {
            return full_fetch();
        };
        // The bytes on this page, at most an instruction's worth. An
        // instruction that ends on it has the length a full fetch would
        // find: `instruction::length` reads only the prefixes and opcode,
        // all within that length, so the bytes past the page cannot change
        // it. Only one that may run into the next page takes the full
        // fetch, and is not kept. (Code near a page's end, such as a
        // WRMSR in the last 14 bytes, used to miss the cache on every exit.)
        let on_page = (0x1000 - (start & 0xFFF) as usize).min(MAX_LENGTH);
        let mut fetched = Fetched::default();
        if memory.read_bytes(page | (start & 0xFFF), &mut fetched.bytes[..on_page]) {
            fetched.count = on_page;
        }
        let Some(length) = instruction::length(skipped, fetched.as_slice(), code.bits == 64) else {
            return if on_page < MAX_LENGTH {
                full_fetch()
            } else {
                None
            };
        };
        let next = code.advanced(u64::from(length));
        let entry_count = recorder.count.get();
        if entry_count > MAX_ENTRIES {
            return Some((next, None));
        }
        let mut words = [Word::default(); MAX_WORDS];
        for (slot, &(gpa, value)) in words.iter_mut().zip(&recorder.reads.get()[..entry_count]) {
            let Some(location) = memory.locate(gpa) else {
                return Some((next, None));
            };
            *slot = Word {
                location,
                mask: u64::MAX,
                value,
            };
        }
        let Some(first) = memory.locate(page | (start & 0xFFF)) else {
            return Some((next, None));
        };
        // The instruction's bytes, by the aligned words that hold them.
        let code_words = &mut words[entry_count..];
        let mut used = 0;
        for (index, &byte) in fetched.bytes[..usize::from(length)].iter().enumerate() {
            let at = first + index as u64;
            let slot = ((at & !7) - (first & !7)) as usize / 8;
            let shift = (at & 7) * 8;
            code_words[slot].location = at & !7;
            code_words[slot].mask |= 0xFF << shift;
            code_words[slot].value |= u64::from(byte) << shift;
            used = slot + 1;
        }
        let measurement = Self {
            key,
            words,
            word_count: entry_count + used,
            length: u64::from(length),
            ip_mask: ip_mask(code.bits),
        };
        Some((next, Some(measurement)))
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
    /// 0x1000..0x4000, with `bytes` at 0x40_1FF0 + `offset`: the guest
    /// state of a VP at them.
    fn long_mode(memory: &Memory, bytes: &[u8], offset: u64) -> VmcbSaveArea {
        memory.write(0x1000, &(0x2000u64 | 3).to_le_bytes());
        memory.write(0x2000, &(0x3000u64 | 3).to_le_bytes());
        memory.write(0x3000 + 2 * 8, &(0x4000u64 | 3).to_le_bytes());
        memory.write(0x4008, &(0x9000u64 | 3).to_le_bytes());
        memory.write(0x9FF0 + offset, bytes);
        let mut save = VmcbSaveArea {
            rip: 0x40_1FF0 + offset,
            cr0: 1 << 31 | 1,
            cr3: 0x1000,
            cr4: 1 << 5,
            efer: 1 << 12 | 1 << 10 | 1 << 8,
            ..Default::default()
        };
        save.cs.attrib = save.cs.attrib.with_l(true).with_p(true).with_s(true);
        let code = CodeState::of(&save);
        assert_eq!((code.bits, code.paging), (64, Paging::LongMode));
        save
    }

    /// Two exits of `skipped` at `code` in TLB `generation` both find the
    /// instruction `length` bytes long, and the second reads fewer words
    /// than the first (it was kept).
    fn second_exit_reads_less(
        cache: &mut FetchCache,
        memory: &Memory,
        code: &VmcbSaveArea,
        skipped: Skipped,
        generation: u64,
        length: u64,
    ) {
        memory.reads.set(0);
        for exit in 0..2 {
            let walked = memory.reads.replace(0);
            assert_eq!(
                cache.next_rip(skipped, code, generation, memory),
                Some(code.rip + length)
            );
            if exit == 1 {
                assert!(
                    memory.reads.get() < walked,
                    "{} words, a walk read {walked}",
                    memory.reads.get()
                );
            }
        }
    }

    #[test]
    fn a_second_exit_reads_only_what_the_first_read() {
        let memory = Memory::default();
        let code = long_mode(&memory, &[0x66, 0x0F, 0xA2], 0);
        second_exit_reads_less(
            &mut FetchCache::default(),
            &memory,
            &code,
            Skipped::Cpuid,
            7,
            3,
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

    #[test]
    fn two_alternating_exits_both_hit_and_both_see_changes() {
        let memory = Memory::default();
        // WRMSR at 0x40_1FF0 and, 8 bytes on, another WRMSR (prefixed).
        let first = long_mode(&memory, &[0x0F, 0x30], 0);
        memory.write(0x9FF8, &[0x2E, 0x0F, 0x30]);
        let second = VmcbSaveArea {
            rip: first.rip + 8,
            ..first
        };
        let mut cache = FetchCache::default();
        // The cache's answer for a WRMSR at `save` in TLB `generation`
        // must be `length` bytes on.
        let check = |cache: &mut FetchCache, save: &VmcbSaveArea, generation, length| {
            assert_eq!(
                cache.next_rip(Skipped::Wrmsr, save, generation, &memory),
                Some(save.rip + length),
                "at {:#x}, generation {generation}",
                save.rip
            );
        };
        for _ in 0..2 {
            check(&mut cache, &first, 3, 2);
            check(&mut cache, &second, 3, 3);
        }
        let walked = {
            memory.reads.set(0);
            check(&mut FetchCache::default(), &first, 3, 2);
            memory.reads.replace(0)
        };
        check(&mut cache, &first, 3, 2);
        check(&mut cache, &second, 3, 3);
        let reads = memory.reads.get();
        assert!(reads < 2 * walked, "{reads} reads, a walk read {walked}");
        // The older entry's code changes: measured again, not answered.
        memory.write(0x9FF0, &[0x3E, 0x0F, 0x30]);
        check(&mut cache, &first, 3, 3);
        // And the other entry's generation is checked as well.
        check(&mut cache, &second, 4, 3);
        memory.write(0x9FF8, &[0x0F, 0x30, 0x90]);
        check(&mut cache, &first, 4, 3);
        check(&mut cache, &second, 4, 2);
    }

    #[test]
    fn an_instruction_ending_a_page_is_kept_and_one_crossing_it_is_measured() {
        let memory = Memory::default();
        // A WRMSR in the page's last two bytes: kept, so the second exit
        // reads less than the first.
        let code = long_mode(&memory, &[0x0F, 0x30], 0xE);
        let mut cache = FetchCache::default();
        second_exit_reads_less(&mut cache, &memory, &code, Skipped::Wrmsr, 5, 2);
        // A change to it is still seen.
        memory.write(0x9FFE, &[0x2E, 0x0F]);
        assert_eq!(cache.next_rip(Skipped::Wrmsr, &code, 5, &memory), None);
        // A prefixed WRMSR whose opcode's last byte is on the next page
        // (mapped at 0xA000): the full fetch measures it.
        memory.write(0x4010, &(0xA000u64 | 3).to_le_bytes());
        memory.write(0x9FFE, &[0x2E, 0x0F]);
        memory.write(0xA000, &[0x30]);
        let mut cache = FetchCache::default();
        for _ in 0..2 {
            assert_eq!(
                cache.next_rip(Skipped::Wrmsr, &code, 6, &memory),
                Some(code.rip + 3)
            );
        }
        // And its last byte changed on the next page is seen too.
        memory.write(0xA000, &[0x31]);
        assert_eq!(cache.next_rip(Skipped::Wrmsr, &code, 6, &memory), None);
    }

    #[derive(Clone, Debug)]
    enum Change {
        Code {
            offset: u8,
            byte: u8,
        },
        Entry {
            level: u8,
            value: u16,
        },
        Generation,
        /// RIP moves by this much (wrapping).
        Rip(i8),
        /// CS turns 64-bit, 32-bit or 16-bit (compatibility mode).
        CodeSize(u8),
        /// CR3 points at another table (a table or code page here).
        Cr3(u8),
        /// The exit is another instruction's.
        Exit(bool),
    }

    fn change() -> impl Strategy<Value = Change> {
        prop_oneof![
            (
                0u8..16,
                proptest::sample::select(std::vec![
                    0x0Fu8, 0xA2, 0x66, 0x2E, 0x90, 0x30, 0x01, 0xD9
                ])
            )
                .prop_map(|(offset, byte)| Change::Code { offset, byte }),
            (0u8..4, any::<u16>()).prop_map(|(level, value)| Change::Entry { level, value }),
            Just(Change::Generation),
            (-3i8..=3).prop_map(Change::Rip),
            (0u8..3).prop_map(Change::CodeSize),
            (0u8..3).prop_map(Change::Cr3),
            any::<bool>().prop_map(Change::Exit),
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
            let mut save = long_mode(&memory, &[0x66, 0x0F, 0xA2], offset);
            let mut cache = FetchCache::default();
            let mut generation = 1;
            let mut skipped = Skipped::Cpuid;
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
                    Some(Change::Rip(delta)) => {
                        save.rip = save.rip.wrapping_add_signed(i64::from(delta));
                    }
                    Some(Change::CodeSize(size)) => {
                        save.cs.attrib = save.cs.attrib.with_l(size == 0).with_db(size == 1);
                    }
                    Some(Change::Cr3(root)) => save.cr3 = [0x1000, 0x2000, 0x9000][usize::from(root)],
                    Some(Change::Exit(cpuid)) => {
                        skipped = if cpuid { Skipped::Cpuid } else { Skipped::Vmmcall };
                    }
                    None => {}
                }
                let code = CodeState::of(&save);
                let fresh = instruction::next_rip(skipped, &code, None, || instruction::fetch(&memory, &code));
                prop_assert_eq!(cache.next_rip(skipped, &save, generation, &memory), fresh);
            }
        }
    }
}
