//! Branch-predictor isolation between partitions.
//!
//! A guest can train the indirect branch predictors, and what it trained
//! survives a world switch. The return stack buffer is refilled after every
//! #VMEXIT (`world_switch.s`); the indirect predictors are flushed with an
//! indirect branch prediction barrier (IBPB: a write of 1 to PRED_CMD, MSR
//! 49h) when a CPU goes from one partition's VP to another partition's,
//! where the CPU offers it (CPUID `8000_0008h` EBX bit 12; AMD, "Software
//! Techniques for Managing Speculation on AMD Processors"; Linux's
//! `X86_FEATURE_AMD_IBPB`). VPs of one partition trust each other, as
//! threads of one process do.

/// PRED_CMD, and the bit that issues the barrier.
pub const PRED_CMD: u32 = 0x49;
pub const PRED_CMD_IBPB: u64 = 1 << 0;

/// Whether CPUID `8000_0008h` EBX offers IBPB.
pub fn ibpb_offered(extended_8_ebx: u32) -> bool {
    extended_8_ebx & (1 << 12) != 0
}

/// Whether entering partition `next` on a CPU whose last guest was of
/// partition `previous` (by a partition's unique serial) needs a barrier.
pub fn needs_barrier(previous: Option<u64>, next: u64) -> bool {
    previous.is_some_and(|previous| previous != next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_barrier_between_partitions_only() {
        assert!(needs_barrier(Some(1), 2));
        assert!(
            !needs_barrier(Some(2), 2),
            "another VP of the same partition"
        );
        assert!(!needs_barrier(None, 2), "the CPU's first guest");
        assert!(ibpb_offered(1 << 12));
        assert!(!ibpb_offered(!(1 << 12)));
    }
}
