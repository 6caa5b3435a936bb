//! Access to one VP's SIM and SIEF pages, by aligned 64-bit words.
//!
//! The guest reads and writes these pages as RAM while the SynIC writes
//! them too, so every SynIC access is one atomic 64-bit operation: the
//! guest clears a slot's message type or a flag word with its own locked
//! instructions (TLFS md `inter-partition-communication.md` § Recommended
//! Message Handling, § Recommended Event Flag Handling), and the SynIC never
//! writes a word based on a stale read. The kernel backs [`SynicPages`]
//! with atomics on the VP's two page frames; tests back it with
//! [`MemoryPages`].

use tlfs::message::{HV_MESSAGE_SIZE, HvMessage};
use tlfs::synic::{HV_EVENT_FLAGS_BYTE_COUNT, HvSynicEventFlags};
use zerocopy::{FromBytes, IntoBytes};

use crate::sint::Sint;

/// Words per page.
pub const PAGE_WORDS: usize = tlfs::types::HV_PAGE_SIZE / 8;

/// Which of the VP's two pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SynicPage {
    /// The SIM page: one 256-byte message slot per SINT.
    Message,
    /// The SIEF page: 2048 event flags per SINT.
    EventFlags,
}

/// One VP's SIM and SIEF pages. `word` is a word index (0 to
/// [`PAGE_WORDS`] − 1); each call is one atomic access to that word.
///
/// Callers in this crate only ever pass words inside the page; an
/// implementation ignores (and reads 0 from) any other.
pub trait SynicPages {
    /// Reads a word.
    fn load(&self, page: SynicPage, word: usize) -> u64;

    /// Writes a word.
    fn store(&mut self, page: SynicPage, word: usize, value: u64);

    /// Replaces the word with `new` if it holds `current`; returns the
    /// value it held either way (`Ok` when replaced).
    ///
    /// # Errors
    ///
    /// `Err(actual)` when the word did not hold `current`.
    fn compare_exchange(
        &mut self,
        page: SynicPage,
        word: usize,
        current: u64,
        new: u64,
    ) -> Result<u64, u64>;

    /// ORs `bits` into the word and returns the value before.
    fn fetch_or(&mut self, page: SynicPage, word: usize, bits: u64) -> u64;
}

/// Both pages in plain memory, with the guest's side of the protocol
/// (reading and consuming messages, clearing flags) for tests and models.
#[derive(Clone, PartialEq, Eq)]
pub struct MemoryPages {
    message: [u64; PAGE_WORDS],
    event_flags: [u64; PAGE_WORDS],
}

impl core::fmt::Debug for MemoryPages {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let used = |page: &[u64]| page.iter().filter(|w| **w != 0).count();
        f.debug_struct("MemoryPages")
            .field("message_words_set", &used(&self.message))
            .field("event_flag_words_set", &used(&self.event_flags))
            .finish()
    }
}

impl Default for MemoryPages {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryPages {
    /// Two zeroed pages ("Upon virtual processor creation and reset, the
    /// SIM page is cleared to zero", and the SIEF page likewise).
    #[must_use]
    pub const fn new() -> Self {
        Self {
            message: [0; PAGE_WORDS],
            event_flags: [0; PAGE_WORDS],
        }
    }

    fn page(&self, page: SynicPage) -> &[u64; PAGE_WORDS] {
        match page {
            SynicPage::Message => &self.message,
            SynicPage::EventFlags => &self.event_flags,
        }
    }

    fn page_mut(&mut self, page: SynicPage) -> &mut [u64; PAGE_WORDS] {
        match page {
            SynicPage::Message => &mut self.message,
            SynicPage::EventFlags => &mut self.event_flags,
        }
    }

    /// The message in `sint`'s slot, as the guest reads it.
    #[must_use]
    pub fn message(&self, sint: Sint) -> HvMessage {
        let first = sint.index() * HV_MESSAGE_SIZE / 8;
        let words = &self.message[first..first + HV_MESSAGE_SIZE / 8];
        HvMessage::read_from_bytes(words.as_bytes()).unwrap_or_default()
    }

    /// The guest writes a whole slot (for example a test planting garbage).
    pub fn write_message(&mut self, sint: Sint, message: &HvMessage) {
        let first = sint.index() * HV_MESSAGE_SIZE / 8;
        for (i, chunk) in message.as_bytes().chunks_exact(8).enumerate() {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.message[first + i] = u64::from_le_bytes(word);
        }
    }

    /// The guest's recommended handling of a message: read it and set the
    /// slot's message type to `HvMessageTypeNone` (with a locked
    /// operation; the rest of the slot is left as it is). Returns the
    /// message, or `None` if the slot was empty.
    pub fn take_message(&mut self, sint: Sint) -> Option<HvMessage> {
        let message = self.message(sint);
        if message.header.message_type.0 == 0 {
            return None;
        }
        let first = sint.index() * HV_MESSAGE_SIZE / 8;
        self.message[first] &= !0xFFFF_FFFF;
        Some(message)
    }

    /// `sint`'s 2048 event flags, as the guest reads them.
    #[must_use]
    pub fn event_flags(&self, sint: Sint) -> HvSynicEventFlags {
        let first = sint.index() * HV_EVENT_FLAGS_BYTE_COUNT / 8;
        let words = &self.event_flags[first..first + HV_EVENT_FLAGS_BYTE_COUNT / 8];
        HvSynicEventFlags::read_from_bytes(words.as_bytes()).unwrap_or(HvSynicEventFlags {
            flags: [0; HV_EVENT_FLAGS_BYTE_COUNT],
        })
    }

    /// The guest clears flag `flag` of `sint` (its `LOCK AND`); returns
    /// whether it was set.
    pub fn clear_flag(&mut self, sint: Sint, flag: u16) -> bool {
        let word = sint.index() * HV_EVENT_FLAGS_BYTE_COUNT / 8 + usize::from(flag / 64);
        let bit = 1_u64 << (flag % 64);
        let Some(slot) = self.event_flags.get_mut(word) else {
            return false;
        };
        let was = *slot & bit != 0;
        *slot &= !bit;
        was
    }
}

impl SynicPages for MemoryPages {
    fn load(&self, page: SynicPage, word: usize) -> u64 {
        self.page(page).get(word).copied().unwrap_or(0)
    }

    fn store(&mut self, page: SynicPage, word: usize, value: u64) {
        if let Some(slot) = self.page_mut(page).get_mut(word) {
            *slot = value;
        }
    }

    fn compare_exchange(
        &mut self,
        page: SynicPage,
        word: usize,
        current: u64,
        new: u64,
    ) -> Result<u64, u64> {
        match self.page_mut(page).get_mut(word) {
            Some(slot) if *slot == current => {
                *slot = new;
                Ok(current)
            }
            Some(slot) => Err(*slot),
            None => Err(0),
        }
    }

    fn fetch_or(&mut self, page: SynicPage, word: usize, bits: u64) -> u64 {
        match self.page_mut(page).get_mut(word) {
            Some(slot) => {
                let old = *slot;
                *slot |= bits;
                old
            }
            None => 0,
        }
    }
}
