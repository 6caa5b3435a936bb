//! What Tessera implements of the CPUID-advertised Hv#1 interface, so that
//! a partition is told exactly that
//! ([`Hv1Config::validate_implemented`](super::Hv1Config::validate_implemented)).
//!
//! When a feature gains an implementation (the SynIC, synthetic timers, the
//! APIC MSRs, the reference TSC page), its bits move into these masks.

use core::fmt;

use tlfs::cpuid::{
    HvFeatureIdentificationEcx, HvFeatureIdentificationEdx, HvImplementationRecommendationsEax,
};
use tlfs::privilege::HvPartitionPrivilegeMask;

/// Privileges whose MSRs or hypercalls Tessera implements:
///
/// | bit | privilege | implemented by |
/// | --- | --- | --- |
/// | 0 | AccessVpRunTimeReg | `HV_X64_MSR_VP_RUNTIME` ([`synthetic_msr`](crate::synthetic_msr)) |
/// | 2 | AccessSynicRegs | SCONTROL–EOM, SINT0–15: stored by the kernel (`kernel/src/vm/synic.rs`), validated by the `synic` component the manifest routes them to |
/// | 3 | AccessSyntheticTimerRegs | STIMER0–3 CONFIG/COUNT, answered and run by the kernel (`tessera_synic::timer`) |
/// | 1 | AccessPartitionReferenceCounter | `HV_X64_MSR_TIME_REF_COUNT` (Requirements § Partition Reference Time Enlightenment: "A hypervisor that provides this privilege must provide the HV_X64_MSR_TIME_REF_COUNT MSR") |
/// | 5 | AccessHypercallMsrs | `GUEST_OS_ID`, `HYPERCALL` |
/// | 6 | AccessVpIndex | `VP_INDEX` |
/// | 7 | AccessResetReg | `HV_X64_MSR_RESET` |
/// | 9 | AccessPartitionReferenceTsc | `HV_X64_MSR_REFERENCE_TSC` and the reference TSC overlay page (Requirements: "The hypervisor must provide the HV_X64_MSR_REFERENCE_TSC MSR and allow mapping the reference TSC page") |
/// | 11 | AccessFrequencyRegs | `HV_X64_MSR_TSC_FREQUENCY`, `HV_X64_MSR_APIC_FREQUENCY` ([`time::frequencies`](crate::time::frequencies)) |
/// | 4 | AccessIntrCtrlRegs | `HV_X64_MSR_EOI`, `HV_X64_MSR_ICR`, `HV_X64_MSR_TPR` (`tessera_lapic::hv`, served by the kernel for a VP with a local APIC) |
/// | 15 | AccessTscInvariantControls | `HV_X64_MSR_TSC_INVARIANT_CONTROL` ([`time::tsc_invariant`](crate::time::tsc_invariant)) |
/// | 52 | EnableExtendedHypercalls | `HvExtCallQueryCapabilities` ([`dispatch`](mod@crate::dispatch)) |
/// | 36 | PostMessages | `HvCallPostMessage` (decoded here; completed by the kernel's SynIC, `kernel/src/vm/synic_ipc.rs`) |
/// | 37 | SignalEvents | `HvCallSignalEvent` (likewise) |
///
/// Not implemented, so never advertised: AccessStatsReg
/// (8), AccessGuestIdleReg (10), AccessReenlightenmentControls (13),
/// ConnectPort (39), Debugging (43), AccessVSM (48), AccessVpRegisters (49),
/// StartVirtualProcessor (53).
pub const IMPLEMENTED_PRIVILEGES: HvPartitionPrivilegeMask = HvPartitionPrivilegeMask::new()
    .with_access_vp_run_time_reg(true)
    .with_access_partition_reference_counter(true)
    .with_access_synic_regs(true)
    .with_access_synthetic_timer_regs(true)
    .with_access_intr_ctrl_regs(true)
    .with_access_hypercall_msrs(true)
    .with_access_vp_index(true)
    .with_access_reset_reg(true)
    .with_access_partition_reference_tsc(true)
    .with_access_frequency_regs(true)
    .with_access_tsc_invariant_controls(true)
    .with_enable_extended_hypercalls(true)
    .with_post_messages(true)
    .with_signal_events(true);

/// Leaf `0x40000003` ECX: nothing (every bit reports a processor feature
/// passed through to the partition, which Tessera does not do).
pub const IMPLEMENTED_FEATURES_ECX: HvFeatureIdentificationEcx = HvFeatureIdentificationEcx::new();

/// Leaf `0x40000003` EDX: XMM fast input (4) and output (15) — the
/// decoder; guest crash MSRs (10) and `HypercallMsrLockAvailable` (18) —
/// [`synthetic_msr`](crate::synthetic_msr);
/// `ExtendedGvaRangesForFlushVirtualAddressListAvailable` (14) — the flush
/// calls, which flush the whole address space for that format;
/// `TimerFrequenciesAvailable` (8) — the frequency MSRs;
/// `DirectSyntheticTimers` (19) — direct-mode synthetic timers
/// (`tessera_synic::timer`).
pub const IMPLEMENTED_FEATURES_EDX: HvFeatureIdentificationEdx = HvFeatureIdentificationEdx::new()
    .with_direct_synthetic_timers(true)
    .with_xmm_registers_for_fast_hypercall_available(true)
    .with_timer_frequencies_available(true)
    .with_guest_crash_msrs_available(true)
    .with_extended_gva_ranges_for_flush_virtual_address_list_available(true)
    .with_fast_hypercall_output_available(true)
    .with_hypercall_msr_lock_available(true);

/// Leaf `0x40000004` EAX: the flush hypercalls for local (1) and remote (2)
/// flushes and with `HV_VP_SET`s (11), the APIC MSRs (3), the reset MSR (4),
/// the synthetic cluster IPI calls (10), and relaxed
/// timing (5, a promise that needs no code: Requirements § Use Relaxed
/// Timing).
pub const IMPLEMENTED_RECOMMENDATIONS: HvImplementationRecommendationsEax =
    HvImplementationRecommendationsEax::new()
        .with_use_hypercall_for_local_flush(true)
        .with_use_hypercall_for_remote_flush(true)
        .with_use_apic_msrs(true)
        .with_use_reset_msr(true)
        .with_use_synthetic_cluster_ipi(true)
        .with_use_relaxed_timing(true)
        .with_use_ex_processor_masks(true);

/// Privileges whose MSRs or hypercalls Tessera models in pure code but the
/// kernel does not serve yet: none now (PostMessages and SignalEvents
/// moved to [`IMPLEMENTED_PRIVILEGES`] when the kernel's SynIC took
/// `HvCallPostMessage` and `HvCallSignalEvent`, issue 14). A bit here
/// passes [`Hv1Config::validate_modelled`](super::Hv1Config::validate_modelled),
/// never [`Hv1Config::validate_implemented`](super::Hv1Config::validate_implemented).
pub const MODELLED_PRIVILEGES: HvPartitionPrivilegeMask = HvPartitionPrivilegeMask::new();

/// Leaf `0x40000003` EDX bits modelled but not served: none now.
pub const MODELLED_FEATURES_EDX: HvFeatureIdentificationEdx = HvFeatureIdentificationEdx::new();

/// Leaf `0x40000004` EAX bits modelled but not served: none now (the
/// SynIC's are privileges).
pub const MODELLED_RECOMMENDATIONS: HvImplementationRecommendationsEax =
    HvImplementationRecommendationsEax::new();

/// A CPUID register that advertises Hv#1 functionality.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CpuidRegister {
    /// Leaf `0x40000003` EAX:EBX, `HV_PARTITION_PRIVILEGE_MASK`.
    Privileges,
    /// Leaf `0x40000003` ECX.
    FeaturesEcx,
    /// Leaf `0x40000003` EDX.
    FeaturesEdx,
    /// Leaf `0x40000004` EAX.
    Recommendations,
}

/// `HV_PARTITION_PRIVILEGE_MASK` bit names (TLFS md
/// `datatypes/hv_partition_privilege_mask.md`).
const PRIVILEGE_NAMES: &[(u32, &str)] = &[
    (0, "AccessVpRunTimeReg"),
    (1, "AccessPartitionReferenceCounter"),
    (2, "AccessSynicRegs"),
    (3, "AccessSyntheticTimerRegs"),
    (4, "AccessIntrCtrlRegs"),
    (5, "AccessHypercallMsrs"),
    (6, "AccessVpIndex"),
    (7, "AccessResetReg"),
    (8, "AccessStatsReg"),
    (9, "AccessPartitionReferenceTsc"),
    (10, "AccessGuestIdleReg"),
    (11, "AccessFrequencyRegs"),
    (13, "AccessReenlightenmentControls"),
    (15, "AccessTscInvariantControls"),
    (32, "CreatePartitions"),
    (33, "AccessPartitionId"),
    (34, "AccessMemoryPool"),
    (36, "PostMessages"),
    (37, "SignalEvents"),
    (38, "CreatePort"),
    (39, "ConnectPort"),
    (40, "AccessStats"),
    (43, "Debugging"),
    (44, "CpuManagement"),
    (48, "AccessVSM"),
    (49, "AccessVpRegisters"),
    (52, "EnableExtendedHypercalls"),
    (53, "StartVirtualProcessor"),
];

/// Leaf `0x40000003` ECX bit names (TLFS md `feature-discovery.md`).
const ECX_NAMES: &[(u32, &str)] = &[
    (5, "InvariantMperfAvailable"),
    (6, "SupervisorShadowStackAvailable"),
    (7, "ArchitecturalPmuAvailable"),
    (8, "ExceptionTrapInterceptAvailable"),
];

/// Leaf `0x40000003` EDX bit names (TLFS md `feature-discovery.md`).
const EDX_NAMES: &[(u32, &str)] = &[
    (0, "MwaitAvailable (deprecated)"),
    (1, "GuestDebuggingAvailable"),
    (2, "PerformanceMonitorsAvailable"),
    (3, "CpuDynamicPartitioningAvailable"),
    (4, "XmmRegistersForFastHypercallAvailable"),
    (5, "GuestIdleAvailable"),
    (6, "HypervisorSleepStateAvailable"),
    (7, "NumaDistanceQueryAvailable"),
    (8, "TimerFrequenciesAvailable"),
    (9, "SyntheticMachineCheckAvailable"),
    (10, "GuestCrashMsrsAvailable"),
    (11, "DebugMsrsAvailable"),
    (12, "NpiepAvailable"),
    (13, "DisableHypervisorAvailable"),
    (14, "ExtendedGvaRangesForFlushVirtualAddressListAvailable"),
    (15, "FastHypercallOutputAvailable"),
    (17, "SintPollingModeAvailable"),
    (18, "HypercallMsrLockAvailable"),
    (19, "DirectSyntheticTimers"),
    (20, "VsmPatRegisterAvailable"),
    (21, "VsmBndcfgsRegisterAvailable"),
    (23, "SyntheticTimeUnhaltedTimerAvailable"),
    (26, "LbrAvailable"),
];

/// Leaf `0x40000004` EAX bit names (TLFS md `feature-discovery.md`).
const RECOMMENDATION_NAMES: &[(u32, &str)] = &[
    (0, "UseHypercallForAddressSpaceSwitch"),
    (1, "UseHypercallForLocalFlush"),
    (2, "UseHypercallForRemoteFlush"),
    (3, "UseApicMsrs"),
    (4, "UseResetMsr"),
    (5, "UseRelaxedTiming"),
    (6, "UseDmaRemapping"),
    (7, "UseInterruptRemapping"),
    (8, "UseX2ApicMsrs"),
    (9, "DeprecateAutoEoi"),
    (10, "UseSyntheticClusterIpi"),
    (11, "UseExProcessorMasks"),
    (12, "Nested"),
    (13, "UseIntForMbecSystemCalls"),
    (14, "UseEnlightenedVmcs"),
    (15, "UseSyncedTimeline"),
    (17, "UseDirectLocalFlushEntire"),
    (18, "NoNonArchitecturalCoreSharing"),
];

impl CpuidRegister {
    /// The TLFS name of bit `bit`, or `None` for a reserved bit.
    #[must_use]
    pub fn bit_name(self, bit: u32) -> Option<&'static str> {
        let names = match self {
            Self::Privileges => PRIVILEGE_NAMES,
            Self::FeaturesEcx => ECX_NAMES,
            Self::FeaturesEdx => EDX_NAMES,
            Self::Recommendations => RECOMMENDATION_NAMES,
        };
        names.iter().find(|(b, _)| *b == bit).map(|(_, name)| *name)
    }
}

impl fmt::Display for CpuidRegister {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Privileges => "CPUID.40000003:EAX:EBX (partition privileges)",
            Self::FeaturesEcx => "CPUID.40000003:ECX",
            Self::FeaturesEdx => "CPUID.40000003:EDX",
            Self::Recommendations => "CPUID.40000004:EAX (recommendations)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(
            IMPLEMENTED_PRIVILEGES.into_bits(),
            1 << 52 | 1 << 37 | 1 << 36 | 1 << 15 | 1 << 11 | 1 << 9 | 0b1111_1111
        );
        assert_eq!(
            IMPLEMENTED_FEATURES_EDX.into_bits(),
            1 << 4 | 1 << 8 | 1 << 10 | 1 << 14 | 1 << 15 | 1 << 18 | 1 << 19
        );
        assert_eq!(
            IMPLEMENTED_RECOMMENDATIONS.into_bits(),
            1 << 1 | 1 << 2 | 1 << 3 | 1 << 4 | 1 << 5 | 1 << 10 | 1 << 11
        );
        assert_eq!(IMPLEMENTED_FEATURES_ECX.into_bits(), 0);
    }

    #[test]
    fn names_match_the_tlfs_types() {
        // Each named bit is a bit the tlfs bitfield names (not reserved).
        for &(bit, name) in PRIVILEGE_NAMES {
            assert_eq!(
                HvPartitionPrivilegeMask::RESERVED_MASK & (1 << bit),
                0,
                "{name}"
            );
        }
        assert_eq!(CpuidRegister::Privileges.bit_name(36), Some("PostMessages"));
        assert_eq!(CpuidRegister::Privileges.bit_name(12), None);
        assert_eq!(
            CpuidRegister::FeaturesEdx.bit_name(10),
            Some("GuestCrashMsrsAvailable")
        );
        assert_eq!(CpuidRegister::FeaturesEdx.bit_name(16), None);
        assert_eq!(
            CpuidRegister::Recommendations.bit_name(11),
            Some("UseExProcessorMasks")
        );
        assert_eq!(
            HvFeatureIdentificationEdx::new()
                .with_hypercall_msr_lock_available(true)
                .into_bits(),
            1 << 18
        );
    }
}
