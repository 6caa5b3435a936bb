//! The seeded stream an operation draws its choices from.

use rand_core::{Rng, SeedableRng};
use rand_xorshift::XorShiftRng;

/// Random choices for one operation of a run.
#[derive(Debug, Clone)]
pub struct Draw {
    stream: XorShiftRng,
}

/// Mixes the seed and the operation index into the stream's seed
/// (SplitMix64's finaliser, so neighbouring indices give unrelated
/// streams).
const fn mix(seed: u64, index: u64) -> u64 {
    let mut z = seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Values at the edges where checks go wrong: zero, one, all ones, powers
/// of two and their neighbours, sign boundaries.
const EDGES: [u64; 16] = [
    0,
    1,
    2,
    0x7F,
    0x80,
    0xFF,
    0xFFF,
    0x1000,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFFF,
    0x1_0000_0000,
    0x0000_7FFF_FFFF_FFFF,
    0xFFFF_8000_0000_0000,
    0x7FFF_FFFF_FFFF_FFFF,
    u64::MAX,
];

impl Draw {
    /// The stream of operation `index` of the run with `seed`.
    #[must_use]
    pub fn for_operation(seed: u64, index: u64) -> Self {
        Self {
            stream: XorShiftRng::seed_from_u64(mix(seed, index)),
        }
    }

    /// A uniformly random word.
    pub fn word(&mut self) -> u64 {
        self.stream.next_u64()
    }

    /// A number in `0..bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            return 0;
        }
        // Multiply-shift: unbiased enough for a fuzzer, and no loop.
        ((u128::from(self.word()) * u128::from(bound)) >> 64) as u64
    }

    /// An index into a slice of `len` elements (0 for an empty one).
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// A number in `range` (inclusive at both ends).
    pub fn between(&mut self, first: u64, last: u64) -> u64 {
        let (low, high) = if first <= last {
            (first, last)
        } else {
            (last, first)
        };
        match (high - low).checked_add(1) {
            Some(span) => low + self.below(span),
            None => self.word(),
        }
    }

    /// `true` with probability `numerator / denominator`.
    pub fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.below(denominator) < numerator
    }

    /// One element of `choices`, which must not be empty.
    ///
    /// # Panics
    ///
    /// If `choices` is empty.
    pub fn pick<T: Copy>(&mut self, choices: &[T]) -> T {
        assert!(!choices.is_empty(), "pick from nothing");
        choices[self.index(choices.len())]
    }

    /// Index `i` with probability `weights[i] / sum(weights)`.
    ///
    /// # Panics
    ///
    /// If every weight is 0.
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        assert!(total > 0, "weights that are all zero");
        let mut left = self.below(total);
        for (index, &weight) in weights.iter().enumerate() {
            if left < u64::from(weight) {
                return index;
            }
            left -= u64::from(weight);
        }
        unreachable!("left < total")
    }

    /// A word that is often an edge value, sometimes an edge plus or minus
    /// a little, and otherwise uniformly random.
    pub fn edgy(&mut self) -> u64 {
        match self.below(4) {
            0 => self.pick(&EDGES),
            1 => self
                .pick(&EDGES)
                .wrapping_add(self.between(0, 8))
                .wrapping_sub(4),
            2 => 1u64 << self.below(64),
            _ => self.word(),
        }
    }

    /// Fills `out` with random bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let bytes = self.word().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn first_words(seed: u64, index: u64) -> Vec<u64> {
        let mut draw = Draw::for_operation(seed, index);
        (0..4).map(|_| draw.word()).collect()
    }

    #[test]
    fn an_operation_replays_from_the_seed_and_its_index_alone() {
        assert_eq!(first_words(7, 1000), first_words(7, 1000));
        assert_ne!(first_words(7, 1000), first_words(7, 1001));
        assert_ne!(first_words(7, 1000), first_words(8, 1000));
        // Seed 0 and index 0 give a working stream too.
        assert_ne!(first_words(0, 0), [0; 4]);
    }

    #[test]
    fn bounded_draws_stay_in_bounds() {
        let mut draw = Draw::for_operation(1, 2);
        for bound in [1, 2, 3, 10, 1 << 40, u64::MAX] {
            for _ in 0..200 {
                assert!(draw.below(bound) < bound);
            }
        }
        assert_eq!(draw.below(0), 0);
        for _ in 0..200 {
            let value = draw.between(5, 9);
            assert!((5..=9).contains(&value));
            assert!((3..=4).contains(&draw.between(4, 3)));
        }
        let _ = draw.between(0, u64::MAX);
    }

    #[test]
    fn weights_choose_only_what_has_weight() {
        let mut draw = Draw::for_operation(3, 4);
        let mut seen = [0u32; 3];
        for _ in 0..3000 {
            seen[draw.weighted(&[1, 0, 2])] += 1;
        }
        assert_eq!(seen[1], 0);
        assert!(seen[0] > 500 && seen[2] > 1500, "{seen:?}");
    }

    #[test]
    fn chance_is_roughly_its_ratio() {
        let mut draw = Draw::for_operation(9, 9);
        let hits = (0..10_000).filter(|_| draw.chance(1, 4)).count();
        assert!((2000..3000).contains(&hits), "{hits}");
        assert!(!(0..100).any(|_| draw.chance(0, 4)));
    }

    #[test]
    fn fill_covers_odd_lengths() {
        let mut draw = Draw::for_operation(5, 5);
        let mut bytes = [0u8; 13];
        draw.fill(&mut bytes);
        assert!(bytes.iter().any(|&b| b != 0));
    }
}
