//! A VP's SIM and SIEF frames as the SynIC model's pages: the two host
//! pages the kernel holds for the VP, read and written by atomic words
//! through the physical map, since the guest writes them concurrently.
use crate::memory::physical_to_virtual;
use core::sync::atomic::{AtomicU64, Ordering};
use tessera_synic::pages::{PAGE_WORDS, SynicPage, SynicPages};

/// A VP's SIM and SIEF frames (host physical addresses; 0: none), held
/// for the VP's life and charged to its payer. The guest reaches them
/// while SIMP and SIEFP lay them over its GPA space; the kernel writes
/// them by atomic words (`tessera_synic::pages`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SynicFrames {
    pub message: u64,
    pub event_flags: u64,
}

impl SynicFrames {
    fn frame(&self, page: SynicPage) -> u64 {
        match page {
            SynicPage::Message => self.message,
            SynicPage::EventFlags => self.event_flags,
        }
    }

    fn word(&self, page: SynicPage, word: usize) -> Option<&AtomicU64> {
        let frame = self.frame(page);
        if frame == 0 || word >= PAGE_WORDS {
            return None;
        }
        let address = physical_to_virtual(frame + 8 * word as u64);
        // `frame` is a page the kernel took for this VP and gives back only
        // after `Synic::take_pages` removed it from the model
        // (`release_vp`), reached through the physical map; `word` is
        // inside the page and 8-byte aligned. The guest writes the page
        // concurrently, which is why every access is atomic.
        // SAFETY: by the argument just above.
        Some(unsafe { &*address.as_ptr::<AtomicU64>() })
    }
}

impl SynicPages for SynicFrames {
    fn load(&self, page: SynicPage, word: usize) -> u64 {
        self.word(page, word)
            .map_or(0, |w| w.load(Ordering::SeqCst))
    }

    fn store(&mut self, page: SynicPage, word: usize, value: u64) {
        if let Some(w) = self.word(page, word) {
            w.store(value, Ordering::SeqCst);
        }
    }

    fn compare_exchange(
        &mut self,
        page: SynicPage,
        word: usize,
        current: u64,
        new: u64,
    ) -> Result<u64, u64> {
        match self.word(page, word) {
            Some(w) => w.compare_exchange(current, new, Ordering::SeqCst, Ordering::SeqCst),
            None => Err(0),
        }
    }

    fn fetch_or(&mut self, page: SynicPage, word: usize, bits: u64) -> u64 {
        self.word(page, word)
            .map_or(0, |w| w.fetch_or(bits, Ordering::SeqCst))
    }
}

/// Clears one of a VP's SynIC frames (0: none).
pub(super) fn zero_frame(frame: u64) {
    if frame == 0 {
        return;
    }
    // A page the kernel holds for a VP's SynIC, through the physical
    // map; the guest may write it meanwhile, which only races with a page
    // it is being told is cleared.
    // SAFETY: by the argument just above.
    unsafe {
        core::ptr::write_bytes(physical_to_virtual(frame).as_mut_ptr::<u8>(), 0, 4096);
    }
}
