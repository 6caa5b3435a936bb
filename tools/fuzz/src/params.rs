//! The run parameters of an in-guest or in-component fuzzer: seed,
//! operation count and flags.
//!
//! A Tessera component or guest has no command line, so xtask writes the
//! parameters into the image itself: the fuzzer embeds a [`ParamBlock`]
//! (a static whose initial value starts with [`MAGIC`] and lands in the
//! image's data), and [`patch`] finds that magic in the built ELF file and
//! overwrites the words after it. No rebuild per seed, and the image that
//! ran is the image that replays.

use core::sync::atomic::{AtomicU64, Ordering};

/// The two words the block starts with; nothing else in an image holds
/// them (checked by [`patch`]: exactly one occurrence).
pub const MAGIC: [u64; 2] = [
    u64::from_le_bytes(*b"TSFUZZ01"),
    u64::from_le_bytes(*b"RUNPARAM"),
];

/// Words in a block: the magic, then the seed, the operation count and
/// the flags.
pub const WORDS: usize = 5;

/// Flags (word 4).
pub mod flags {
    /// Print every operation before it runs (slow; for pinning down the
    /// operation that ended a run, such as a kernel fault).
    pub const TRACE: u64 = 1 << 0;
}

/// What a run does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    pub seed: u64,
    pub operations: u64,
    pub flags: u64,
}

impl Params {
    #[must_use]
    pub const fn trace(&self) -> bool {
        self.flags & flags::TRACE != 0
    }
}

/// What an image runs with when xtask did not patch it (one booted by
/// `cargo xtask run`): seed 1, a thousand operations.
pub const DEFAULTS: Params = Params {
    seed: 1,
    operations: 1000,
    flags: 0,
};

/// The block a fuzzer embeds, as a static: atomics, so the compiler reads
/// the words from memory (which xtask may have changed) instead of folding
/// in their initial values.
#[derive(Debug)]
pub struct ParamBlock([AtomicU64; WORDS]);

impl ParamBlock {
    /// A block holding `defaults` (what an image that xtask did not patch
    /// runs with, such as one booted by `cargo xtask run`).
    #[must_use]
    pub const fn new(defaults: Params) -> Self {
        Self([
            AtomicU64::new(MAGIC[0]),
            AtomicU64::new(MAGIC[1]),
            AtomicU64::new(defaults.seed),
            AtomicU64::new(defaults.operations),
            AtomicU64::new(defaults.flags),
        ])
    }

    /// The parameters this image was given.
    pub fn read(&self) -> Params {
        Params {
            seed: self.0[2].load(Ordering::Relaxed),
            operations: self.0[3].load(Ordering::Relaxed),
            flags: self.0[4].load(Ordering::Relaxed),
        }
    }
}

/// Why an image could not be given its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchError {
    /// The image holds no parameter block.
    NoBlock,
    /// The image holds more than one, so which to patch is unclear.
    SeveralBlocks,
}

impl core::fmt::Display for PatchError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::NoBlock => "the image has no fuzzer parameter block",
            Self::SeveralBlocks => "the image has more than one fuzzer parameter block",
        })
    }
}

fn magic_bytes() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&MAGIC[0].to_le_bytes());
    bytes[8..].copy_from_slice(&MAGIC[1].to_le_bytes());
    bytes
}

/// Writes `params` into the one parameter block of `image` (an ELF file
/// whose data holds the block's initial value).
///
/// # Errors
///
/// [`PatchError`] when there is no block or more than one.
pub fn patch(image: &mut [u8], params: Params) -> Result<(), PatchError> {
    let magic = magic_bytes();
    let mut found = image
        .windows(magic.len())
        .enumerate()
        .filter(|(_, window)| *window == magic)
        .map(|(at, _)| at);
    let at = found.next().ok_or(PatchError::NoBlock)?;
    if found.next().is_some() {
        return Err(PatchError::SeveralBlocks);
    }
    let start = at + magic.len();
    let words = [params.seed, params.operations, params.flags];
    let end = start + words.len() * 8;
    if end > image.len() {
        return Err(PatchError::NoBlock);
    }
    for (chunk, word) in image[start..end].chunks_mut(8).zip(words) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn image_with(blocks: usize) -> Vec<u8> {
        let mut image = std::vec![0xAAu8; 100];
        for _ in 0..blocks {
            image.extend_from_slice(&magic_bytes());
            image.extend_from_slice(&[0u8; 24]);
            image.extend_from_slice(&[0x55u8; 7]);
        }
        image
    }

    #[test]
    fn the_block_reads_what_it_was_made_with() {
        let defaults = Params {
            seed: 3,
            operations: 1000,
            flags: flags::TRACE,
        };
        let block = ParamBlock::new(defaults);
        assert_eq!(block.read(), defaults);
        assert!(block.read().trace());
    }

    #[test]
    fn patching_writes_the_words_after_the_magic() {
        let mut image = image_with(1);
        let params = Params {
            seed: 0x1122_3344_5566_7788,
            operations: 1_000_000,
            flags: 0,
        };
        patch(&mut image, params).unwrap();
        let start = 100 + 16;
        assert_eq!(&image[start..start + 8], &params.seed.to_le_bytes());
        assert_eq!(&image[start + 8..start + 16], &1_000_000u64.to_le_bytes());
        assert_eq!(&image[start + 16..start + 24], &[0; 8]);
        assert_eq!(&image[start + 24..], &[0x55; 7]);
        assert_eq!(&image[..100], &[0xAA; 100][..]);
    }

    #[test]
    fn an_image_without_or_with_two_blocks_is_refused() {
        let params = Params {
            seed: 1,
            operations: 1,
            flags: 0,
        };
        assert_eq!(patch(&mut image_with(0), params), Err(PatchError::NoBlock));
        assert_eq!(
            patch(&mut image_with(2), params),
            Err(PatchError::SeveralBlocks)
        );
        let mut cut = magic_bytes().to_vec();
        cut.extend_from_slice(&[0; 10]);
        assert_eq!(patch(&mut cut, params), Err(PatchError::NoBlock));
    }
}
