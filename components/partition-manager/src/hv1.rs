//! A partition's Hv#1 configuration as the manager data carries it: the
//! words of `PartitionSetHv1` (`tessera_abi::vm::hv1`), which the manager
//! passes to the kernel as they are. Only the log line reads them.

use core::fmt;

use tessera_abi::vm::hv1::WORDS;

/// The feature bits `words` advertise: the bits set in CPUID leaf
/// `0x40000003` (the privilege mask in EAX:EBX, ECX, EDX; words 0 and 1)
/// and in leaf `0x40000004` EAX (the recommendations; word 2 bits 31:0).
/// The Requirements' minimum (`hv = []`) has 2: `AccessHypercallMsrs` and
/// `AccessVpIndex`.
pub const fn feature_count(words: &[u64; WORDS]) -> u32 {
    words[0].count_ones() + words[1].count_ones() + (words[2] as u32).count_ones()
}

/// `Hv#1 interface (N features)`, after `partition NAME: `.
#[derive(Clone, Copy, Debug)]
pub struct Hv1Line<'a>(pub &'a [u64; WORDS]);

impl fmt::Display for Hv1Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hv#1 interface ({} features)", feature_count(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn features_are_the_advertised_bits() {
        // AccessHypercallMsrs and AccessVpIndex; spinlock retries (word 2
        // bits 63:32) and the identity words do not count.
        let minimum = [1 << 5 | 1 << 6, 0, 0xFFFF_FFFF << 32, !0, !0, 0, !0, !0];
        assert_eq!(feature_count(&minimum), 2);
        assert_eq!(
            format!("{}", Hv1Line(&minimum)),
            "Hv#1 interface (2 features)"
        );
        // + relaxed timing (word 2 bit 5) and the crash MSRs (EDX bit 10).
        let more = [1 << 5 | 1 << 6, 1 << (32 + 10), 1 << 5, 0, 0, 0, 0, 0];
        assert_eq!(feature_count(&more), 4);
    }
}
