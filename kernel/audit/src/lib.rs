//! The checks behind the kernel's audit (`kernel/src/audit`), kept free of
//! hardware and of the kernel's types so that `cargo test` can show they
//! catch what they are for:
//!
//! - [`nested`]: a partition's nested page table against what its
//!   mappings and overlay pages say it should map;
//! - [`Frames`]: where every physical frame is, and whether that adds up.
#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

pub mod nested;

/// Where the frames are: free, the kernel's own, or held by an object on
/// a component's behalf.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Frames {
    pub total: u64,
    pub free: u64,
    pub kernel: u64,
    pub domains: u64,
    pub regions: u64,
    pub partitions: u64,
}

impl Frames {
    /// Every frame is in exactly one place: none leaked (in use, held by
    /// nothing) and none counted twice.
    #[must_use]
    pub fn balanced(&self) -> bool {
        let placed = [
            self.free,
            self.kernel,
            self.domains,
            self.regions,
            self.partitions,
        ]
        .iter()
        .try_fold(0u64, |sum, &n| sum.checked_add(n));
        placed == Some(self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_balance_only_when_every_frame_is_placed() {
        let frames = Frames {
            total: 100,
            free: 60,
            kernel: 20,
            domains: 10,
            regions: 7,
            partitions: 3,
        };
        assert!(frames.balanced());
        assert!(!Frames { free: 59, ..frames }.balanced(), "a leaked frame");
        assert!(
            !Frames {
                regions: 8,
                ..frames
            }
            .balanced(),
            "a frame twice"
        );
        assert!(
            !Frames {
                free: u64::MAX,
                ..frames
            }
            .balanced()
        );
    }
}
