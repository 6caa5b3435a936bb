//! What a partition may call: the advertised hypercalls, the granted
//! privileges and the advertised XMM fast-call features.

use tlfs::HypercallCode;
use tlfs::privilege::HvPartitionPrivilegeMask;

use super::table::{self, CALLS};
use crate::cpuid::Hv1Config;

/// A set of hypercalls from [`table::CALLS`] (bit *i* is `CALLS[i]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HypercallSet(u128);

impl HypercallSet {
    /// No call.
    pub const EMPTY: Self = Self(0);

    /// Every call in the table.
    #[must_use]
    pub const fn all() -> Self {
        let n = CALLS.len();
        if n == table::MAX_CALLS {
            Self(u128::MAX)
        } else {
            Self((1 << n) - 1)
        }
    }

    /// This set plus `code`; unchanged if `code` is not in the table.
    #[must_use]
    pub fn with(self, code: HypercallCode) -> Self {
        match table::lookup(code) {
            Some((index, _)) => Self(self.0 | 1 << index),
            None => self,
        }
    }

    /// This set without `code`.
    #[must_use]
    pub fn without(self, code: HypercallCode) -> Self {
        match table::lookup(code) {
            Some((index, _)) => Self(self.0 & !(1 << index)),
            None => self,
        }
    }

    /// Whether the table entry at `index` is in the set.
    #[must_use]
    pub const fn contains_index(self, index: usize) -> bool {
        index < table::MAX_CALLS && self.0 & (1 << index) != 0
    }

    /// Whether `code` is in the set.
    #[must_use]
    pub fn contains(self, code: HypercallCode) -> bool {
        table::lookup(code).is_some_and(|(index, _)| self.contains_index(index))
    }
}

/// The partition configuration the decoder checks every call against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HypercallPolicy {
    /// Calls the partition was told about. Others get
    /// `HV_STATUS_INVALID_HYPERCALL_CODE`.
    pub advertised: HypercallSet,
    /// The partition's privileges (CPUID `0x40000003` EAX:EBX). An
    /// advertised call whose privilege is missing gets
    /// `HV_STATUS_ACCESS_DENIED`.
    pub privileges: HvPartitionPrivilegeMask,
    /// CPUID `0x40000003` EDX bit 4: XMM fast hypercall input.
    pub xmm_fast_input: bool,
    /// CPUID `0x40000003` EDX bit 15: fast hypercall output (XMM).
    pub xmm_fast_output: bool,
}

impl HypercallPolicy {
    /// The policy a guest reading `config`'s CPUID leaves is entitled to.
    ///
    /// - `HvCallFlushVirtualAddressSpace`/`List`: when either
    ///   `UseHypercallForLocalFlush` or `UseHypercallForRemoteFlush` is
    ///   recommended (TLFS 6.0b §17 Appendix A names
    ///   "UseHypercallFor\[Local\]\[Remote\]Flush" for both).
    /// - `…Ex`: when `UseExProcessorMasks` is recommended (TLFS md
    ///   `hypercalls/HvCallFlushVirtualAddressSpaceEx.md`: "The following
    ///   checks should be used to infer the availability of this
    ///   hypercall: UseExProcessorMasks must be indicated").
    /// - `HvCallSendSyntheticClusterIpi`: when `UseSyntheticClusterIpi`
    ///   (leaf `0x40000004` EAX bit 10) is recommended; its `…Ex` form when
    ///   `UseExProcessorMasks` is too (TLFS md
    ///   `hypercalls/HvCallSendSyntheticClusterIpiEx.md`: "ExProcessorMasks
    ///   must be indicated").
    /// - `HvCallNotifyLongSpinWait`: always. It is advisory and only ever
    ///   returns success; the spinlock retry count (CPUID `0x40000004` EBX)
    ///   tells the guest when to call it, and the TLFS texts disagree on
    ///   which value means "never" (see the crate docs).
    /// - `HvCallPostMessage`, `HvCallSignalEvent`,
    ///   `HvExtCallQueryCapabilities`: always; their privilege
    ///   (`PostMessages`, `SignalEvents`, `EnableExtendedHypercalls`) is
    ///   what grants them, and its absence is `HV_STATUS_ACCESS_DENIED`
    ///   (the pages' Return Values).
    #[must_use]
    pub fn from_config(config: &Hv1Config) -> Self {
        let rec = config.recommendations;
        let mut advertised = HypercallSet::EMPTY
            .with(HypercallCode::NOTIFY_LONG_SPIN_WAIT)
            .with(HypercallCode::POST_MESSAGE)
            .with(HypercallCode::SIGNAL_EVENT)
            .with(HypercallCode::EXT_QUERY_CAPABILITIES);
        if rec.use_hypercall_for_local_flush() || rec.use_hypercall_for_remote_flush() {
            advertised = advertised
                .with(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE)
                .with(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST);
        }
        if rec.use_ex_processor_masks() {
            advertised = advertised
                .with(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE_EX)
                .with(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST_EX);
        }
        if rec.use_synthetic_cluster_ipi() {
            advertised = advertised.with(HypercallCode::SEND_SYNTHETIC_CLUSTER_IPI);
            if rec.use_ex_processor_masks() {
                advertised = advertised.with(HypercallCode::SEND_SYNTHETIC_CLUSTER_IPI_EX);
            }
        }
        Self {
            advertised,
            privileges: config.privileges,
            xmm_fast_input: config
                .features_edx
                .xmm_registers_for_fast_hypercall_available(),
            xmm_fast_output: config.features_edx.fast_hypercall_output_available(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations() {
        let set = HypercallSet::EMPTY.with(HypercallCode::SIGNAL_EVENT);
        assert!(set.contains(HypercallCode::SIGNAL_EVENT));
        assert!(!set.contains(HypercallCode::POST_MESSAGE));
        // Codes outside the table never enter the set.
        assert_eq!(set.with(HypercallCode(0x1234)), set);
        assert!(!HypercallSet::all().contains(HypercallCode(0x1234)));
        assert!(
            !set.without(HypercallCode::SIGNAL_EVENT)
                .contains(HypercallCode::SIGNAL_EVENT)
        );
        for spec in CALLS {
            assert!(HypercallSet::all().contains(spec.code));
        }
        assert!(!HypercallSet::all().contains_index(CALLS.len()));
        assert!(!HypercallSet::all().contains_index(table::MAX_CALLS));
    }

    #[test]
    fn from_default_config() {
        let policy = HypercallPolicy::from_config(&Hv1Config::default());
        // The default recommends no flush hypercalls.
        assert!(
            !policy
                .advertised
                .contains(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE)
        );
        assert!(
            !policy
                .advertised
                .contains(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST_EX)
        );
        assert!(policy.advertised.contains(HypercallCode::SIGNAL_EVENT));
        assert!(
            policy
                .advertised
                .contains(HypercallCode::NOTIFY_LONG_SPIN_WAIT)
        );
        assert!(!policy.xmm_fast_input);
        assert!(!policy.xmm_fast_output);
    }

    #[test]
    fn from_config_with_flush_recommendations() {
        let mut config = Hv1Config::default();
        config.recommendations = config
            .recommendations
            .with_use_hypercall_for_remote_flush(true);
        let policy = HypercallPolicy::from_config(&config);
        assert!(
            policy
                .advertised
                .contains(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE)
        );
        assert!(
            policy
                .advertised
                .contains(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST)
        );
        assert!(
            !policy
                .advertised
                .contains(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE_EX)
        );

        config.recommendations = config.recommendations.with_use_ex_processor_masks(true);
        config.features_edx = config
            .features_edx
            .with_xmm_registers_for_fast_hypercall_available(true);
        let policy = HypercallPolicy::from_config(&config);
        assert!(
            policy
                .advertised
                .contains(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE_EX)
        );
        assert!(
            policy
                .advertised
                .contains(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST_EX)
        );
        assert!(policy.xmm_fast_input);
    }
}
