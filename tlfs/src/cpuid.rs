//! The hypervisor CPUID leaves `0x40000000`–`0x4000000A`.
//!
//! TLFS md `feature-discovery.md` § Feature and Interface Discovery (x64);
//! TLFS 6.0b §2.3–§2.4. Where the Markdown page's rendered HTML table and
//! its commented-out source table differ, this module follows the rendered
//! table and says so on the field.
//!
//! The partition privilege mask reported in leaf `0x40000003` EAX:EBX is
//! [`crate::privilege::HvPartitionPrivilegeMask`].

use bitfield_struct::bitfield;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use tessera_open_enum::open_enum;

open_enum! {
    name;
    /// A hypervisor CPUID leaf (the EAX input of CPUID).
    ///
    /// TLFS md `feature-discovery.md` § Microsoft Hypervisor CPUID Leaves;
    /// TLFS 6.0b §2.4 (which also has `0x40000007` and `0x40000008`). The
    /// names are the TLFS headings.
    pub struct HvCpuidLeaf(u32);

    /// Maximum leaf and vendor ID signature.
    LEAF_RANGE = 0x4000_0000 => "Hypervisor CPUID Leaf Range",
    /// Interface signature (`Hv#1`).
    INTERFACE = 0x4000_0001 => "Hypervisor Vendor-Neutral Interface Identification",
    /// Build number and version.
    SYSTEM_IDENTITY = 0x4000_0002 => "Hypervisor System Identity",
    /// Privileges (EAX:EBX) and features (ECX, EDX).
    FEATURE_IDENTIFICATION = 0x4000_0003 => "Hypervisor Feature Identification",
    /// Recommendations for the guest.
    IMPLEMENTATION_RECOMMENDATIONS = 0x4000_0004 => "Implementation Recommendations",
    /// Scale limits.
    IMPLEMENTATION_LIMITS = 0x4000_0005 => "Hypervisor Implementation Limits",
    /// Hardware features in use by the hypervisor.
    HARDWARE_FEATURES = 0x4000_0006 => "Implementation Hardware Features",
    /// Root-partition CPU management features (TLFS 6.0b §2.4 only).
    CPU_MANAGEMENT_FEATURES = 0x4000_0007 => "Hypervisor CPU Management Features",
    /// Shared virtual memory features (TLFS 6.0b §2.4 only).
    SVM_FEATURES = 0x4000_0008 => "Hypervisor SVM Features",
    /// Features exposed when running nested.
    NESTED_FEATURE_IDENTIFICATION = 0x4000_0009 => "Nested Hypervisor Feature Identification",
    /// Nested virtualization optimizations.
    NESTED_VIRTUALIZATION_FEATURES = 0x4000_000A => "Hypervisor Nested Virtualization Features",
}

/// Leaf `0x40000000` EBX of a Microsoft hypervisor: `"Micr"`.
///
/// TLFS md `feature-discovery.md` § Hypervisor CPUID Leaf Range.
pub const HV_CPUID_VENDOR_MICROSOFT_EBX: u32 = 0x7263_694D;
/// Leaf `0x40000000` ECX of a Microsoft hypervisor: `"osof"`.
pub const HV_CPUID_VENDOR_MICROSOFT_ECX: u32 = 0x666F_736F;
/// Leaf `0x40000000` EDX of a Microsoft hypervisor: `"t Hv"`.
pub const HV_CPUID_VENDOR_MICROSOFT_EDX: u32 = 0x7648_2074;

/// The smallest maximum leaf (leaf `0x40000000` EAX) a guest may rely on
/// ("at least 0x40000005").
///
/// TLFS md `feature-discovery.md` § Hypervisor CPUID Leaf Range.
pub const HV_CPUID_MIN_MAX_LEAF: u32 = 0x4000_0005;

/// Leaf `0x40000001` EAX: the `Hv#1` interface signature.
///
/// TLFS md `feature-discovery.md` § Hypervisor Vendor-Neutral Interface
/// Identification.
pub const HV_CPUID_INTERFACE_SIGNATURE_HV1: u32 = 0x3123_7648;

/// CPUID leaf 1 ECX bit 31: a hypervisor is present.
///
/// TLFS md `feature-discovery.md` § Hypervisor Discovery.
pub const CPUID_1_ECX_HYPERVISOR_PRESENT: u32 = 1 << 31;

/// `HV_CPUID_RESULT`: the four registers of one CPUID leaf.
///
/// TLFS md `datatypes/hv_cpuid_result.md`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct HvCpuidResult {
    /// `Eax`.
    pub eax: u32,
    /// `Ebx`.
    pub ebx: u32,
    /// `Ecx`.
    pub ecx: u32,
    /// `Edx`.
    pub edx: u32,
}

const _: () = assert!(size_of::<HvCpuidResult>() == 16);

/// Leaf `0x40000002` EBX: main version.
///
/// TLFS md `feature-discovery.md` § Hypervisor System Identity; TLFS 6.0b
/// §2.4 (Hypervisor System Identity). (EAX is the build number.)
#[bitfield(u32)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvSystemIdentityEbx {
    /// Minor Version (bits 15:0).
    pub minor_version: u16,
    /// Major Version (bits 31:16).
    pub major_version: u16,
}

/// Leaf `0x40000002` EDX: service version. (ECX is the service pack.)
///
/// TLFS 6.0b §2.4 (Hypervisor System Identity); the Markdown page has ECX/EDX only in its
/// commented-out table.
#[bitfield(u32)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvSystemIdentityEdx {
    /// Service Number (bits 23:0).
    #[bits(24)]
    pub service_number: u32,
    /// Service Branch (bits 31:24).
    pub service_branch: u8,
}

/// Leaf `0x40000003` ECX: feature bits.
///
/// TLFS md `feature-discovery.md` § Hypervisor Feature Identification
/// (TLFS 6.0b §2.4 (Hypervisor Feature Identification) has ECX all reserved).
#[bitfield(u32)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvFeatureIdentificationEcx {
    /// Bits 4:0: reserved.
    #[bits(5)]
    __reserved0: u8,
    /// Bit 5: Invariant Mperf is available.
    pub invariant_mperf_available: bool,
    /// Bit 6: Supervisor shadow stack is available.
    pub supervisor_shadow_stack_available: bool,
    /// Bit 7: Architectural PMU is available.
    pub architectural_pmu_available: bool,
    /// Bit 8: Exception trap intercept is available.
    pub exception_trap_intercept_available: bool,
    /// Bits 31:9: reserved.
    #[bits(23)]
    __reserved9: u32,
}

/// Leaf `0x40000003` EDX: feature bits.
///
/// TLFS md `feature-discovery.md` § Hypervisor Feature Identification;
/// TLFS 6.0b §2.4 (Hypervisor Feature Identification). (Bits 20–26 are in the rendered Markdown table and in
/// 6.0b, not in the Markdown's commented-out table.)
#[bitfield(u32)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvFeatureIdentificationEdx {
    /// Bit 0: deprecated (previously: MWAIT available).
    pub mwait_available_deprecated: bool,
    /// Bit 1: guest debugging support is available.
    pub guest_debugging_available: bool,
    /// Bit 2: performance monitor support is available.
    pub performance_monitor_available: bool,
    /// Bit 3: physical CPU dynamic partitioning events are available.
    pub cpu_dynamic_partitioning_available: bool,
    /// Bit 4: hypercall input via XMM registers is available.
    pub xmm_registers_for_fast_hypercall_available: bool,
    /// Bit 5: a virtual guest idle state is available.
    pub guest_idle_available: bool,
    /// Bit 6: hypervisor sleep state is available.
    pub hypervisor_sleep_state_available: bool,
    /// Bit 7: querying NUMA distances is available.
    pub numa_distance_query_available: bool,
    /// Bit 8: determining timer frequencies is available.
    pub timer_frequencies_available: bool,
    /// Bit 9: injecting synthetic machine checks is available.
    pub synthetic_machine_check_available: bool,
    /// Bit 10: guest crash MSRs are available (`GuestCrashMsrsAvailable`).
    pub guest_crash_msrs_available: bool,
    /// Bit 11: debug MSRs are available.
    pub debug_msrs_available: bool,
    /// Bit 12: NPIEP is available.
    pub npiep_available: bool,
    /// Bit 13: `DisableHypervisorAvailable`.
    pub disable_hypervisor_available: bool,
    /// Bit 14: `ExtendedGvaRangesForFlushVirtualAddressListAvailable`.
    pub extended_gva_ranges_for_flush_virtual_address_list_available: bool,
    /// Bit 15: hypercall output via XMM registers is available.
    pub fast_hypercall_output_available: bool,
    /// Bit 16: reserved.
    __reserved16: bool,
    /// Bit 17: `SintPollingModeAvailable`.
    pub sint_polling_mode_available: bool,
    /// Bit 18: `HypercallMsrLockAvailable`.
    pub hypercall_msr_lock_available: bool,
    /// Bit 19: use direct synthetic timers.
    pub direct_synthetic_timers: bool,
    /// Bit 20: PAT register available for VSM.
    pub vsm_pat_register_available: bool,
    /// Bit 21: BNDCFGS register available for VSM.
    pub vsm_bndcfgs_register_available: bool,
    /// Bit 22: reserved.
    __reserved22: bool,
    /// Bit 23: synthetic time-unhalted timer available.
    pub synthetic_time_unhalted_timer_available: bool,
    /// Bits 25:24: reserved.
    #[bits(2)]
    __reserved24: u8,
    /// Bit 26: Intel's Last Branch Record (LBR) feature supported.
    pub lbr_available: bool,
    /// Bits 31:27: reserved.
    #[bits(5)]
    __reserved27: u8,
}

/// Leaf `0x40000004` EAX: implementation recommendations.
///
/// TLFS md `feature-discovery.md` § Implementation Recommendations; TLFS
/// 6.0b §2.4 (Implementation Recommendations).
#[bitfield(u32)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvImplementationRecommendationsEax {
    /// Bit 0: use a hypercall for address space switches (not MOV CR3).
    pub use_hypercall_for_address_space_switch: bool,
    /// Bit 1: use a hypercall for local TLB flushes.
    pub use_hypercall_for_local_flush: bool,
    /// Bit 2: use a hypercall for remote TLB flushes.
    pub use_hypercall_for_remote_flush: bool,
    /// Bit 3: use the EOI/ICR/TPR MSRs instead of the memory-mapped APIC.
    pub use_apic_msrs: bool,
    /// Bit 4: use the hypervisor MSR for system reset.
    pub use_reset_msr: bool,
    /// Bit 5: use relaxed timing (disable watchdogs).
    pub use_relaxed_timing: bool,
    /// Bit 6: use DMA remapping.
    pub use_dma_remapping: bool,
    /// Bit 7: use interrupt remapping.
    pub use_interrupt_remapping: bool,
    /// Bit 8: "Recommend using x2APIC MSRs" in the Markdown's
    /// commented-out table only; the rendered table and TLFS 6.0b say
    /// Reserved.
    pub use_x2apic_msrs: bool,
    /// Bit 9: deprecate AutoEOI.
    pub deprecate_auto_eoi: bool,
    /// Bit 10: use `HvCallSendSyntheticClusterIpi`.
    pub use_synthetic_cluster_ipi: bool,
    /// Bit 11: use the `…Ex` processor-set interfaces.
    pub use_ex_processor_masks: bool,
    /// Bit 12: the hypervisor is nested within a Hyper-V partition.
    pub nested: bool,
    /// Bit 13: use INT for MBEC system calls.
    pub use_int_for_mbec_system_calls: bool,
    /// Bit 14: a nested hypervisor should use the enlightened VMCS.
    pub use_enlightened_vmcs: bool,
    /// Bit 15: `UseSyncedTimeline`.
    pub use_synced_timeline: bool,
    /// Bit 16: reserved.
    __reserved16: bool,
    /// Bit 17: `UseDirectLocalFlushEntire` (toggle CR4.PGE).
    pub use_direct_local_flush_entire: bool,
    /// Bit 18: `NoNonArchitecturalCoreSharing`.
    pub no_non_architectural_core_sharing: bool,
    /// Bits 31:19: reserved.
    #[bits(13)]
    __reserved19: u16,
}

/// Leaf `0x40000004` EBX value: never notify about long spin waits.
///
/// TLFS md `feature-discovery.md` § Implementation Recommendations
/// ("0xFFFFFFFF indicates never notify"; the commented-out table says
/// "never to retry", and `vp-properties.md` § Guest Spinlocks says "A value
/// of 0 indicates that the guest OS should not notify").
pub const HV_SPIN_WAIT_NEVER_NOTIFY: u32 = 0xFFFF_FFFF;

/// Leaf `0x40000004` ECX.
///
/// TLFS md `feature-discovery.md` § Implementation Recommendations.
#[bitfield(u32)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvImplementationRecommendationsEcx {
    /// Bits 6:0: `ImplementedPhysicalAddressBits` (MAXPHYADDR; 0 = not
    /// reported).
    #[bits(7)]
    pub implemented_physical_address_bits: u8,
    /// Bits 31:7: reserved.
    #[bits(25)]
    __reserved: u32,
}

/// Leaf `0x40000006` EAX: hardware features in use.
///
/// TLFS md `feature-discovery.md` § Implementation Hardware Features (TLFS
/// 6.0b §2.4 (Implementation Hardware Features) stops at bit 9).
#[bitfield(u32)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvHardwareFeaturesEax {
    /// Bit 0: APIC overlay assist.
    pub apic_overlay_assist_in_use: bool,
    /// Bit 1: MSR bitmaps.
    pub msr_bitmaps_in_use: bool,
    /// Bit 2: architectural performance counters.
    pub architectural_performance_counters_in_use: bool,
    /// Bit 3: second level address translation.
    pub second_level_address_translation_in_use: bool,
    /// Bit 4: DMA remapping.
    pub dma_remapping_in_use: bool,
    /// Bit 5: interrupt remapping.
    pub interrupt_remapping_in_use: bool,
    /// Bit 6: a memory patrol scrubber is present.
    pub memory_patrol_scrubber_present: bool,
    /// Bit 7: DMA protection is in use.
    pub dma_protection_in_use: bool,
    /// Bit 8: HPET is requested.
    pub hpet_requested: bool,
    /// Bit 9: synthetic timers are volatile.
    pub synthetic_timers_volatile: bool,
    /// Bits 13:10: the hypervisor level of the current guest (0 if not
    /// nested).
    #[bits(4)]
    pub hypervisor_level: u8,
    /// Bit 14: physical destination mode required.
    pub physical_destination_mode_required: bool,
    /// Bit 15: use VMFUNC for alias map switch.
    pub use_vmfunc_for_alias_map_switch: bool,
    /// Bit 16: hardware memory zeroing.
    pub hardware_memory_zeroing_present: bool,
    /// Bit 17: Unrestricted Guest.
    pub unrestricted_guest_present: bool,
    /// Bit 18: resource allocation (RDT-A, PQOS-A).
    pub resource_allocation_present: bool,
    /// Bit 19: resource monitoring (RDT-M, PQOS-M).
    pub resource_monitoring_present: bool,
    /// Bit 20: guest virtual PMU.
    pub guest_virtual_pmu_present: bool,
    /// Bit 21: guest virtual LBR.
    pub guest_virtual_lbr_present: bool,
    /// Bit 22: guest virtual IPT.
    pub guest_virtual_ipt_present: bool,
    /// Bit 23: APIC emulation.
    pub apic_emulation_present: bool,
    /// Bit 24: the ACPI WDAT table is in use by the hypervisor.
    pub acpi_wdat_in_use: bool,
    /// Bits 31:25: reserved.
    #[bits(7)]
    __reserved: u8,
}

/// Leaf `0x40000007` EAX (root partition only).
///
/// TLFS 6.0b §2.4 (Hypervisor CPU Management Features) (not in the Markdown edition).
#[bitfield(u32)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvCpuManagementFeaturesEax {
    /// Bit 0: `StartLogicalProcessor`.
    pub start_logical_processor: bool,
    /// Bit 1: `CreateRootvirtualProcessor`.
    pub create_root_virtual_processor: bool,
    /// Bit 2: `PerformanceCounterSync`.
    pub performance_counter_sync: bool,
    /// Bits 30:3: reserved.
    #[bits(28)]
    __reserved: u32,
    /// Bit 31: `ReservedIdentityBit`.
    pub reserved_identity_bit: bool,
}

/// Leaf `0x40000007` EBX (root partition only).
///
/// TLFS 6.0b §2.4 (Hypervisor CPU Management Features).
#[bitfield(u32)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvCpuManagementFeaturesEbx {
    /// Bit 0: `ProcessorPowerManagement`.
    pub processor_power_management: bool,
    /// Bit 1: `MwaitIdleStates`.
    pub mwait_idle_states: bool,
    /// Bit 2: `LogicalProcessorIdling`.
    pub logical_processor_idling: bool,
    /// Bits 31:3: reserved.
    #[bits(29)]
    __reserved: u32,
}

/// Leaf `0x40000007` ECX (root partition only).
///
/// TLFS 6.0b §2.4 (Hypervisor CPU Management Features).
#[bitfield(u32)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvCpuManagementFeaturesEcx {
    /// Bit 0: `RemapGuestUncached`.
    pub remap_guest_uncached: bool,
    /// Bits 31:1: reserved.
    #[bits(31)]
    __reserved: u32,
}

/// Leaf `0x40000008` EAX: shared virtual memory.
///
/// TLFS 6.0b §2.4 (Hypervisor SVM Features) (not in the Markdown edition).
#[bitfield(u32)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvSvmFeaturesEax {
    /// Bit 0: `SvmSupported`.
    pub svm_supported: bool,
    /// Bits 10:1: `Reserved0`.
    #[bits(10)]
    __reserved0: u16,
    /// Bits 31:11: `MaxPasidSpacePasidCount`.
    #[bits(21)]
    pub max_pasid_space_pasid_count: u32,
}

/// Leaf `0x40000009` EAX: virtual MSR access when nested.
///
/// TLFS md `feature-discovery.md` § Nested Hypervisor Feature
/// Identification; TLFS 6.0b §2.4 (Nested Hypervisor Feature Identification). (Note: `AccessReenlightenmentControls`
/// is bit 12 here but bit 13 of `HV_PARTITION_PRIVILEGE_MASK`; both
/// sources agree on each position.)
#[bitfield(u32)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvNestedFeatureIdentificationEax {
    /// Bits 1:0: reserved.
    #[bits(2)]
    __reserved0: u8,
    /// Bit 2: `AccessSynicRegs`.
    pub access_synic_regs: bool,
    /// Bit 3: reserved.
    __reserved3: bool,
    /// Bit 4: `AccessIntrCtrlRegs`.
    pub access_intr_ctrl_regs: bool,
    /// Bit 5: `AccessHypercallMsrs`.
    pub access_hypercall_msrs: bool,
    /// Bit 6: `AccessVpIndex`.
    pub access_vp_index: bool,
    /// Bits 11:7: reserved.
    #[bits(5)]
    __reserved7: u8,
    /// Bit 12: `AccessReenlightenmentControls`.
    pub access_reenlightenment_controls: bool,
    /// Bits 31:13: reserved.
    #[bits(19)]
    __reserved13: u32,
}

/// Leaf `0x40000009` EDX: hypercall features when nested.
///
/// TLFS md `feature-discovery.md` § Nested Hypervisor Feature
/// Identification; TLFS 6.0b §2.4 (Nested Hypervisor Feature Identification).
#[bitfield(u32)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvNestedFeatureIdentificationEdx {
    /// Bits 3:0: reserved.
    #[bits(4)]
    __reserved0: u8,
    /// Bit 4: `XmmRegistersForFastHypercallAvailable`.
    pub xmm_registers_for_fast_hypercall_available: bool,
    /// Bits 14:5: reserved.
    #[bits(10)]
    __reserved5: u16,
    /// Bit 15: `FastHypercallOutputAvailable`.
    pub fast_hypercall_output_available: bool,
    /// Bit 16: reserved.
    __reserved16: bool,
    /// Bit 17: `SintPollingModeAvailable`.
    pub sint_polling_mode_available: bool,
    /// Bits 31:18: reserved.
    #[bits(14)]
    __reserved18: u16,
}

/// Leaf `0x4000000A` EAX: nested virtualization features.
///
/// TLFS md `feature-discovery.md` § Hypervisor Nested Virtualization
/// Features (the rendered table ends with "31-21 Reserved" although it
/// defines bits 21 and 22; the commented-out table says 31-23). TLFS 6.0b
/// §2.4 (Hypervisor Nested Virtualization Features) stops at bit 20.
#[bitfield(u32)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvNestedVirtualizationFeaturesEax {
    /// Bits 7:0: enlightened VMCS version (low).
    pub enlightened_vmcs_version_low: u8,
    /// Bits 15:8: enlightened VMCS version (high).
    pub enlightened_vmcs_version_high: u8,
    /// Bit 16: reserved.
    __reserved16: bool,
    /// Bit 17: direct virtual flush hypercalls.
    pub direct_virtual_flush: bool,
    /// Bit 18: `HvCallFlushGuestPhysicalAddressSpace` /
    /// `…AddressList` are supported.
    pub flush_guest_physical_hypercalls: bool,
    /// Bit 19: enlightened MSR bitmap.
    pub enlightened_msr_bitmap: bool,
    /// Bit 20: virtualization exceptions combined into the #PF class.
    pub combine_virtualization_exceptions: bool,
    /// Bit 21: non-zero `GuestIa32DebugCtl` (VMCS 0x2802) is supported.
    pub guest_debug_ctl: bool,
    /// Bit 22: enlightened TLB on AMD platforms.
    pub enlightened_npt_tlb: bool,
    /// Bits 31:23: reserved.
    #[bits(9)]
    __reserved23: u16,
}

/// Leaf `0x4000000A` EBX.
///
/// TLFS md `feature-discovery.md` § Hypervisor Nested Virtualization
/// Features.
#[bitfield(u32)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvNestedVirtualizationFeaturesEbx {
    /// Bit 0: `GuestPerfGlobalCtrl`/`HostPerfGlobalCtrl` in the
    /// enlightened VMCS.
    pub perf_global_ctrl: bool,
    /// Bits 31:1: reserved.
    #[bits(31)]
    __reserved: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        // "Micr" "osof" "t Hv" and "Hv#1" as little-endian register bytes.
        assert_eq!(&HV_CPUID_VENDOR_MICROSOFT_EBX.to_le_bytes(), b"Micr");
        assert_eq!(&HV_CPUID_VENDOR_MICROSOFT_ECX.to_le_bytes(), b"osof");
        assert_eq!(&HV_CPUID_VENDOR_MICROSOFT_EDX.to_le_bytes(), b"t Hv");
        assert_eq!(HV_CPUID_INTERFACE_SIGNATURE_HV1, 0x31237648);
        assert_eq!(&HV_CPUID_INTERFACE_SIGNATURE_HV1.to_le_bytes(), b"Hv#1");
        assert_eq!(HV_CPUID_MIN_MAX_LEAF, 0x40000005);
        assert_eq!(CPUID_1_ECX_HYPERVISOR_PRESENT, 0x8000_0000);
    }

    #[test]
    fn leaves() {
        assert_eq!(HvCpuidLeaf::LEAF_RANGE.0, 0x40000000);
        assert_eq!(HvCpuidLeaf::FEATURE_IDENTIFICATION.0, 0x40000003);
        assert_eq!(HvCpuidLeaf::IMPLEMENTATION_LIMITS.0, 0x40000005);
        assert_eq!(HvCpuidLeaf::NESTED_VIRTUALIZATION_FEATURES.0, 0x4000000A);
        assert_eq!(HvCpuidLeaf::ALL.len(), 11);
        assert_eq!(HvCpuidLeaf(0x4000_000B).name(), None);
    }

    #[test]
    fn system_identity() {
        // Version 10.0, service branch 0x12, service number 0x345678.
        let ebx = HvSystemIdentityEbx::from_bits(0x000A_0000);
        assert_eq!(ebx.major_version(), 10);
        assert_eq!(ebx.minor_version(), 0);
        let edx = HvSystemIdentityEdx::from_bits(0x1234_5678);
        assert_eq!(edx.service_branch(), 0x12);
        assert_eq!(edx.service_number(), 0x34_5678);
    }

    #[test]
    fn feature_identification_edx_bits() {
        let cases: &[(HvFeatureIdentificationEdx, u32)] = &[
            (
                HvFeatureIdentificationEdx::new().with_guest_debugging_available(true),
                1,
            ),
            (
                HvFeatureIdentificationEdx::new()
                    .with_xmm_registers_for_fast_hypercall_available(true),
                4,
            ),
            (
                HvFeatureIdentificationEdx::new().with_guest_idle_available(true),
                5,
            ),
            (
                HvFeatureIdentificationEdx::new().with_timer_frequencies_available(true),
                8,
            ),
            (
                HvFeatureIdentificationEdx::new().with_guest_crash_msrs_available(true),
                10,
            ),
            (
                HvFeatureIdentificationEdx::new().with_npiep_available(true),
                12,
            ),
            (
                HvFeatureIdentificationEdx::new().with_fast_hypercall_output_available(true),
                15,
            ),
            (
                HvFeatureIdentificationEdx::new().with_sint_polling_mode_available(true),
                17,
            ),
            (
                HvFeatureIdentificationEdx::new().with_hypercall_msr_lock_available(true),
                18,
            ),
            (
                HvFeatureIdentificationEdx::new().with_direct_synthetic_timers(true),
                19,
            ),
            (
                HvFeatureIdentificationEdx::new().with_vsm_bndcfgs_register_available(true),
                21,
            ),
            (
                HvFeatureIdentificationEdx::new()
                    .with_synthetic_time_unhalted_timer_available(true),
                23,
            ),
            (
                HvFeatureIdentificationEdx::new().with_lbr_available(true),
                26,
            ),
        ];
        for &(v, bit) in cases {
            assert_eq!(v.into_bits(), 1 << bit, "bit {bit}");
        }
        let ecx = HvFeatureIdentificationEcx::from_bits(1 << 8);
        assert!(ecx.exception_trap_intercept_available());
        assert_eq!(
            HvFeatureIdentificationEcx::new()
                .with_invariant_mperf_available(true)
                .into_bits(),
            1 << 5
        );
    }

    #[test]
    fn recommendations_bits() {
        let eax = HvImplementationRecommendationsEax::new()
            .with_use_apic_msrs(true)
            .with_use_relaxed_timing(true)
            .with_use_synthetic_cluster_ipi(true)
            .with_use_ex_processor_masks(true);
        // Bits 3, 5, 10, 11.
        assert_eq!(eax.into_bits(), 0x0000_0C28);
        let eax =
            HvImplementationRecommendationsEax::from_bits(1 << 18 | 1 << 17 | 1 << 14 | 1 << 12);
        assert!(eax.no_non_architectural_core_sharing());
        assert!(eax.use_direct_local_flush_entire());
        assert!(eax.use_enlightened_vmcs());
        assert!(eax.nested());
        assert!(!eax.deprecate_auto_eoi());
        let ecx = HvImplementationRecommendationsEcx::from_bits(0xFFFF_FFB0);
        assert_eq!(ecx.implemented_physical_address_bits(), 0x30);
    }

    #[test]
    fn hardware_features_bits() {
        let eax = HvHardwareFeaturesEax::from_bits(0x0000_0C08);
        assert!(eax.second_level_address_translation_in_use());
        assert_eq!(eax.hypervisor_level(), 3);
        assert_eq!(
            HvHardwareFeaturesEax::new()
                .with_acpi_wdat_in_use(true)
                .into_bits(),
            1 << 24
        );
        assert_eq!(
            HvHardwareFeaturesEax::new()
                .with_synthetic_timers_volatile(true)
                .into_bits(),
            1 << 9
        );
    }

    #[test]
    fn root_and_svm_leaves() {
        assert!(HvCpuManagementFeaturesEax::from_bits(0x8000_0000).reserved_identity_bit());
        assert!(HvCpuManagementFeaturesEbx::from_bits(4).logical_processor_idling());
        assert!(HvCpuManagementFeaturesEcx::from_bits(1).remap_guest_uncached());
        let svm = HvSvmFeaturesEax::from_bits(0xFFFF_F801);
        assert!(svm.svm_supported());
        assert_eq!(svm.max_pasid_space_pasid_count(), 0x1F_FFFF);
    }

    #[test]
    fn nested_leaves() {
        let eax = HvNestedFeatureIdentificationEax::from_bits(0x0000_1074);
        assert!(eax.access_synic_regs());
        assert!(eax.access_intr_ctrl_regs());
        assert!(eax.access_hypercall_msrs());
        assert!(eax.access_vp_index());
        assert!(eax.access_reenlightenment_controls());
        let edx = HvNestedFeatureIdentificationEdx::from_bits(0x0002_8010);
        assert!(edx.xmm_registers_for_fast_hypercall_available());
        assert!(edx.fast_hypercall_output_available());
        assert!(edx.sint_polling_mode_available());
        let eax = HvNestedVirtualizationFeaturesEax::from_bits(0x0042_0201);
        assert_eq!(eax.enlightened_vmcs_version_low(), 1);
        assert_eq!(eax.enlightened_vmcs_version_high(), 2);
        assert!(eax.direct_virtual_flush());
        assert!(eax.enlightened_npt_tlb());
        assert!(!eax.flush_guest_physical_hypercalls());
        assert!(HvNestedVirtualizationFeaturesEbx::from_bits(1).perf_global_ctrl());
    }
}
