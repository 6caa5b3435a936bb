//! A set of 256 small numbers: interrupt vectors (IRR, ISR, TMR) or VP
//! indices (the targets of an IPI).

/// A set of numbers `0..=255`, as the APIC's 256-bit registers hold them.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Bits256([u64; 4]);

/// A set of interrupt vectors: one of the 256-bit registers IRR, ISR, TMR.
pub type VectorSet = Bits256;

/// A set of VP indices (`0..=255`): the VPs an IPI or an I/O APIC message
/// reaches. A partition has at most [`MAX_VPS`] VPs.
pub type VpIndexSet = Bits256;

/// The most VPs the destination logic addresses: an xAPIC ID has 8 bits,
/// and 256 covers the 64 VPs Tessera's partitions have today.
pub const MAX_VPS: usize = 256;

impl core::fmt::Debug for Bits256 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl Bits256 {
    /// No member.
    pub const EMPTY: Self = Self([0; 4]);

    /// Every number `0..n` (`n` ≤ 256).
    #[must_use]
    pub fn first(n: usize) -> Self {
        let mut set = Self::EMPTY;
        for i in 0..n.min(256) {
            set.insert(i as u8);
        }
        set
    }

    /// Whether `n` is a member.
    #[must_use]
    #[inline]
    pub const fn contains(&self, n: u8) -> bool {
        self.0[(n / 64) as usize] & (1 << (n % 64)) != 0
    }

    /// Adds `n`; whether it was absent.
    #[inline]
    pub const fn insert(&mut self, n: u8) -> bool {
        let absent = !self.contains(n);
        self.0[(n / 64) as usize] |= 1 << (n % 64);
        absent
    }

    /// Removes `n`; whether it was present.
    #[inline]
    pub const fn remove(&mut self, n: u8) -> bool {
        let present = self.contains(n);
        self.0[(n / 64) as usize] &= !(1 << (n % 64));
        present
    }

    /// The largest member.
    #[must_use]
    #[inline]
    pub const fn highest(&self) -> Option<u8> {
        let mut word = 4;
        while word > 0 {
            word -= 1;
            let bits = self.0[word];
            if bits != 0 {
                return Some((word * 64 + 63 - bits.leading_zeros() as usize) as u8);
            }
        }
        None
    }

    /// Whether the set is empty.
    #[must_use]
    #[inline]
    pub const fn is_empty(&self) -> bool {
        self.0[0] | self.0[1] | self.0[2] | self.0[3] == 0
    }

    /// Number of members.
    #[must_use]
    pub const fn len(&self) -> u32 {
        self.0[0].count_ones()
            + self.0[1].count_ones()
            + self.0[2].count_ones()
            + self.0[3].count_ones()
    }

    /// Bits `32·index .. 32·index + 31` as a word: register `index` of the
    /// eight 32-bit registers the APIC shows for IRR, ISR and TMR.
    #[must_use]
    pub const fn word(&self, index: usize) -> u32 {
        if index >= 8 {
            return 0;
        }
        (self.0[index / 2] >> ((index % 2) * 32)) as u32
    }

    /// The members, in increasing order: one step per member and per
    /// word, not per number (a VP's posted vectors are taken at every
    /// entry after an IPI or a SynIC interrupt, measured: a scan of all 256
    /// numbers of two sets cost 5200 instructions of such an entry).
    pub fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        Members {
            words: self.0,
            word: 0,
        }
    }
}

/// [`Bits256::iter`]: the members left, lowest first.
struct Members {
    words: [u64; 4],
    word: usize,
}

impl Iterator for Members {
    type Item = u8;

    #[inline]
    fn next(&mut self) -> Option<u8> {
        while let Some(bits) = self.words.get_mut(self.word) {
            if *bits != 0 {
                let lowest = bits.trailing_zeros() as usize;
                *bits &= *bits - 1;
                return Some((self.word * 64 + lowest) as u8);
            }
            self.word += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_words_and_highest() {
        let mut set = Bits256::EMPTY;
        assert_eq!(set.highest(), None);
        assert!(set.insert(0x31));
        assert!(!set.insert(0x31));
        assert!(set.insert(0xFF));
        assert!(set.insert(0));
        assert_eq!(set.highest(), Some(0xFF));
        assert_eq!(set.word(1), 1 << 17);
        assert_eq!(set.word(7), 1 << 31);
        assert_eq!(set.word(0), 1);
        assert_eq!(set.word(8), 0);
        assert_eq!(set.len(), 3);
        assert!(set.remove(0xFF));
        assert!(!set.remove(0xFF));
        assert_eq!(set.highest(), Some(0x31));
        assert!(set.iter().eq([0, 0x31]));
        assert_eq!(Bits256::first(3).len(), 3);
        assert_eq!(Bits256::first(300).len(), 256);
    }

    /// `set.iter()` is every member in order, as the definition gives them.
    fn check_members(set: &Bits256) {
        assert!(
            set.iter().eq((0..=255_u8).filter(|&n| set.contains(n))),
            "{:x?}",
            set.0
        );
        assert_eq!(set.iter().count() as u32, set.len());
    }

    #[test]
    fn iter_is_every_member_in_order() {
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for set in [
            Bits256::EMPTY,
            Bits256::first(256),
            Bits256::first(64),
            Bits256::first(65),
        ] {
            check_members(&set);
        }
        for _ in 0..2000 {
            // Sparse and dense words alike.
            let sparse = next();
            check_members(&Bits256([
                next() & next(),
                next(),
                sparse & (sparse >> 7) & next(),
                next() | next(),
            ]));
            check_members(&Bits256([
                0,
                next() & next() & next(),
                0,
                1 << (next() % 64),
            ]));
        }
    }
}
