//! Where the manager puts what it creates: capability slots for its
//! partitions, memory regions and VPs, and addresses in its region window.

use tessera_abi::{CSPACE_SLOTS, REGION_WINDOW, slot};

/// Free capability slots, handed out from the top of the capability space
/// down (the manifest fills slots from 4 up). Slots the manifest is known
/// to use are marked at the start; a slot that turns out to be occupied
/// anyway is [`Slots::mark`]ed and the next one taken.
#[derive(Clone, Debug)]
pub struct Slots {
    used: u64,
}

impl Slots {
    /// Every slot free except the kernel's (0-3) and the bits of `used`
    /// (bit `s` for slot `s`: what init filled).
    pub const fn new(used: u64) -> Self {
        Self {
            used: used | ((1 << slot::FIRST_GRANTED) - 1),
        }
    }

    /// Marks `slot` as in use.
    pub fn mark(&mut self, slot: u32) {
        if slot < CSPACE_SLOTS {
            self.used |= 1 << slot;
        }
    }

    /// Gives `slot` back.
    pub fn free(&mut self, slot: u32) {
        if (slot::FIRST_GRANTED..CSPACE_SLOTS).contains(&slot) {
            self.used &= !(1 << slot);
        }
    }

    /// The highest free slot, now marked in use; `None` if none is left.
    pub fn take(&mut self) -> Option<u32> {
        let slot = (0..CSPACE_SLOTS)
            .rev()
            .find(|slot| self.used & (1 << slot) == 0)?;
        self.mark(slot);
        Some(slot)
    }
}

/// Where the manager data is mapped (read-only) to be read in place:
/// the start of the region window.
pub const MANAGER_DATA_VIEW: u64 = REGION_WINDOW.start;

/// Room for the manager data: the partitions' memory is mapped after it.
/// Manager data is at most 4 GiB (its length is a `u32`).
pub const MANAGER_DATA_ROOM: u64 = 4 << 30;

/// Addresses in the region window for the partitions' memory, one after
/// the other (2 MiB aligned) after the manager data's room.
#[derive(Clone, Debug)]
pub struct Window {
    next: u64,
}

impl Default for Window {
    fn default() -> Self {
        Self {
            next: REGION_WINDOW.start + MANAGER_DATA_ROOM,
        }
    }
}

impl Window {
    /// The address for `bytes` more bytes; `None` if the window is full.
    pub fn take(&mut self, bytes: u64) -> Option<u64> {
        const ALIGN: u64 = 2 << 20;
        let at = self.next;
        let end = at.checked_add(bytes.checked_add(ALIGN - 1)? & !(ALIGN - 1))?;
        if end > REGION_WINDOW.end {
            return None;
        }
        self.next = end;
        Some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_come_from_the_top_and_skip_used_ones() {
        let mut slots = Slots::new(1 << 63 | 1 << 61);
        assert_eq!(slots.take(), Some(62));
        assert_eq!(slots.take(), Some(60));
        slots.mark(59);
        assert_eq!(slots.take(), Some(58));
        slots.free(60);
        assert_eq!(slots.take(), Some(60));
    }

    #[test]
    fn the_kernel_slots_are_never_handed_out() {
        let mut slots = Slots::new(0);
        let taken: alloc::vec::Vec<u32> = core::iter::from_fn(|| slots.take()).collect();
        assert_eq!(taken.len(), 60);
        assert_eq!(taken.last(), Some(&4));
        slots.free(2);
        assert_eq!(slots.take(), None);
    }

    #[test]
    fn window_addresses_do_not_overlap_and_stay_inside() {
        let mut window = Window::default();
        let first = window.take(1).unwrap();
        assert_eq!(first, REGION_WINDOW.start + MANAGER_DATA_ROOM);
        let second = window.take(4 << 20).unwrap();
        assert_eq!(second, first + (2 << 20));
        assert_eq!(window.take(0).unwrap(), second + (4 << 20));
        // The manager data (at most 4 GiB) fits before the partitions.
        assert!(MANAGER_DATA_VIEW + u64::from(u32::MAX) < first);
        assert_eq!(window.take(REGION_WINDOW.end - REGION_WINDOW.start), None);
    }
}
