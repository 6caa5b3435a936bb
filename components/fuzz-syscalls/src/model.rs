//! What the fuzzer believes its capability slots hold, learnt from the
//! calls that succeeded. It only keeps the fuzzer out of calls that would
//! block it for good (a wait on its own endpoint, which nobody calls) or
//! end its judging (the verdict capability): where it is unsure, it says
//! [`Kind::Unknown`], and blocking calls avoid that slot.

use tessera_rt::abi::CSPACE_SLOTS;

/// What a slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Empty,
    /// An endpoint this fuzzer made (it may receive on it, and nobody
    /// calls it), or a copy of one.
    OwnEndpoint,
    Notification,
    Memory,
    Domain,
    Thread,
    Partition,
    Vp,
    /// The manifest's slots, and anything the fuzzer cannot be sure of.
    Unknown,
}

/// Slots the manifest fills, which the fuzzer never deletes: its domain,
/// thread, console, verdict and the partner's endpoint.
pub const PROTECTED: u32 = 5;
/// The partner's endpoint (`connects`, CALL and GRANT).
pub const PARTNER: u32 = 4;
/// The verdict capability, which the audit needs.
pub const VERDICT: u32 = 3;

/// The fuzzer's belief about each of its slots.
#[derive(Debug)]
pub struct Slots {
    kinds: [Kind; CSPACE_SLOTS as usize],
    /// Which slot each slot was derived from (revoking a slot empties
    /// what was derived from it).
    parent: [Option<u8>; CSPACE_SLOTS as usize],
}

impl Default for Slots {
    fn default() -> Self {
        Self::new()
    }
}

impl Slots {
    pub fn new() -> Self {
        let mut kinds = [Kind::Empty; CSPACE_SLOTS as usize];
        for kind in &mut kinds[..PROTECTED as usize] {
            *kind = Kind::Unknown;
        }
        Self {
            kinds,
            parent: [None; CSPACE_SLOTS as usize],
        }
    }

    pub fn kind(&self, slot: u64) -> Kind {
        usize::try_from(slot)
            .ok()
            .and_then(|s| self.kinds.get(s).copied())
            .unwrap_or(Kind::Empty)
    }

    fn set(&mut self, slot: u64, kind: Kind, parent: Option<u64>) {
        if let Some(index) = usize::try_from(slot)
            .ok()
            .filter(|&s| s >= PROTECTED as usize && s < self.kinds.len())
        {
            self.kinds[index] = kind;
            self.parent[index] = parent.and_then(|p| u8::try_from(p).ok());
        }
    }

    /// A new object's capability landed in `slot`.
    pub fn created(&mut self, slot: u64, kind: Kind) {
        self.set(slot, kind, None);
    }

    /// `to` received a copy of `from`.
    pub fn derived(&mut self, from: u64, to: u64) {
        let kind = self.kind(from);
        self.set(to, kind, Some(from));
    }

    /// Something may have arrived in `slot`.
    pub fn maybe(&mut self, slot: u64) {
        if self.kind(slot) == Kind::Empty {
            self.set(slot, Kind::Unknown, None);
        }
    }

    pub fn deleted(&mut self, slot: u64) {
        self.set(slot, Kind::Empty, None);
        // What was derived from it keeps its object, under another
        // parent the fuzzer does not track.
        self.forget_children(slot, Kind::Unknown);
    }

    pub fn revoked(&mut self, slot: u64) {
        self.forget_children(slot, Kind::Unknown);
    }

    fn forget_children(&mut self, slot: u64, to: Kind) {
        let Ok(slot) = u8::try_from(slot) else { return };
        for index in 0..self.kinds.len() {
            if self.parent[index] == Some(slot) {
                self.parent[index] = None;
                if self.kinds[index] != Kind::Empty {
                    self.kinds[index] = to;
                }
                self.forget_children(index as u64, to);
            }
        }
    }

    /// Whether a wait on `slot` (endpoint or notification) returns at
    /// once: the fuzzer's own endpoints and notifications would block.
    pub fn wait_returns(&self, slot: u64) -> bool {
        !matches!(
            self.kind(slot),
            Kind::OwnEndpoint | Kind::Notification | Kind::Unknown
        ) || slot >= u64::from(CSPACE_SLOTS)
    }

    /// Whether a call on `slot` returns: the partner answers, and what is
    /// no endpoint fails at once.
    pub fn call_returns(&self, slot: u64) -> bool {
        slot == u64::from(PARTNER) || self.wait_returns(slot)
    }

    /// An empty slot for something new: the first one at or after
    /// `from` (wrapping), or `from` itself if none is empty.
    pub fn empty_from(&self, from: u64) -> u64 {
        let count = u64::from(CSPACE_SLOTS - PROTECTED);
        let start = from.saturating_sub(u64::from(PROTECTED)) % count;
        (0..count)
            .map(|step| u64::from(PROTECTED) + (start + step) % count)
            .find(|&slot| self.kind(slot) == Kind::Empty)
            .unwrap_or(from)
    }

    /// The slots the fuzzer may have filled.
    pub fn fuzz_slots() -> core::ops::Range<u32> {
        PROTECTED..CSPACE_SLOTS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_avoid_what_could_block() {
        let mut slots = Slots::new();
        assert!(slots.wait_returns(10));
        slots.created(10, Kind::OwnEndpoint);
        assert!(!slots.wait_returns(10));
        slots.derived(10, 11);
        slots.derived(11, 12);
        assert!(!slots.wait_returns(12));
        slots.revoked(10);
        assert_eq!(slots.kind(11), Kind::Unknown);
        assert_eq!(slots.kind(12), Kind::Unknown);
        assert!(!slots.wait_returns(12));
        slots.deleted(12);
        assert!(slots.wait_returns(12));
        assert!(!slots.wait_returns(3), "the manifest's slots are unknown");
        assert!(slots.call_returns(u64::from(PARTNER)));
        assert!(slots.wait_returns(1 << 40));
        assert_eq!(slots.empty_from(10), 12, "10 and 11 hold something");
        assert_eq!(slots.empty_from(1), 5, "never a protected slot");
        assert_eq!(slots.empty_from(63), 63);
        for slot in Slots::fuzz_slots() {
            slots.created(u64::from(slot), Kind::Memory);
        }
        assert_eq!(slots.empty_from(20), 20, "none empty: the one asked for");
        slots.created(2, Kind::Memory);
        assert_eq!(slots.kind(2), Kind::Unknown, "protected slots stay unknown");
    }
}
