//! `HV_PARTITION_PRIVILEGE_MASK`: which synthetic MSRs and hypercalls a
//! partition may use. A guest reads it from CPUID leaf `0x40000003` (bits
//! 31:0 in EAX, 63:32 in EBX).
//!
//! TLFS md `datatypes/hv_partition_privilege_mask.md`,
//! `partition-properties.md` § Partition Privilege Flags; TLFS 6.0b §4.2 (Partition Privilege Flags).

use bitfield_struct::bitfield;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `HV_PARTITION_PRIVILEGE_MASK`.
///
/// Bit positions follow the C bit-field declaration (least significant bit
/// first) in TLFS md `datatypes/hv_partition_privilege_mask.md`, which
/// matches TLFS 6.0b §4.2 (Partition Privilege Flags) except for bit 12: 6.0b names it
/// `AccessDebugRegs`, the Markdown edition `Reserved`. It is named here so
/// that a value read from either edition can be described.
#[bitfield(u64)]
#[derive(PartialEq, Eq, Hash, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvPartitionPrivilegeMask {
    /// `AccessVpRunTimeReg` (bit 0): `HV_X64_MSR_VP_RUNTIME`.
    pub access_vp_run_time_reg: bool,
    /// `AccessPartitionReferenceCounter` (bit 1): `HV_X64_MSR_TIME_REF_COUNT`.
    pub access_partition_reference_counter: bool,
    /// `AccessSynicRegs` (bit 2): SCONTROL through EOM, SINT0–SINT15.
    pub access_synic_regs: bool,
    /// `AccessSyntheticTimerRegs` (bit 3): STIMER0_CONFIG through
    /// STIMER3_COUNT.
    pub access_synthetic_timer_regs: bool,
    /// `AccessIntrCtrlRegs` (bit 4): the EOI, ICR and TPR MSRs.
    pub access_intr_ctrl_regs: bool,
    /// `AccessHypercallMsrs` (bit 5): GUEST_OS_ID and HYPERCALL.
    pub access_hypercall_msrs: bool,
    /// `AccessVpIndex` (bit 6): VP_INDEX.
    pub access_vp_index: bool,
    /// `AccessResetReg` (bit 7): the reset MSR.
    pub access_reset_reg: bool,
    /// `AccessStatsReg` (bit 8): the statistics page MSRs.
    pub access_stats_reg: bool,
    /// `AccessPartitionReferenceTsc` (bit 9): the reference TSC.
    pub access_partition_reference_tsc: bool,
    /// `AccessGuestIdleReg` (bit 10): the guest idle MSR.
    pub access_guest_idle_reg: bool,
    /// `AccessFrequencyRegs` (bit 11): TSC and APIC frequency MSRs.
    pub access_frequency_regs: bool,
    /// `AccessDebugRegs` (bit 12; TLFS 6.0b only, `Reserved` in the
    /// Markdown edition): the guest debugging MSRs.
    pub access_debug_regs: bool,
    /// `AccessReenlightenmentControls` (bit 13).
    pub access_reenlightenment_controls: bool,
    /// Bit 14, reserved.
    __reserved14: bool,
    /// `AccessTscInvariantControls` (bit 15): `HV_X64_MSR_TSC_INVARIANT_CONTROL`
    /// (`0x40000118`). Reserved in both TLFS editions; named by Linux's
    /// `hyperv-tlfs.h` (`HV_ACCESS_TSC_INVARIANT`), which Microsoft
    /// maintains, and used by Hyper-V and Linux's KVM.
    pub access_tsc_invariant_controls: bool,
    /// `Reserved1` (bits 31:16).
    #[bits(16)]
    __reserved1: u32,
    /// `CreatePartitions` (bit 32).
    pub create_partitions: bool,
    /// `AccessPartitionId` (bit 33).
    pub access_partition_id: bool,
    /// `AccessMemoryPool` (bit 34).
    pub access_memory_pool: bool,
    /// `Reserved` (bit 35).
    __reserved35: bool,
    /// `PostMessages` (bit 36): `HvCallPostMessage`.
    pub post_messages: bool,
    /// `SignalEvents` (bit 37): `HvCallSignalEvent`.
    pub signal_events: bool,
    /// `CreatePort` (bit 38).
    pub create_port: bool,
    /// `ConnectPort` (bit 39).
    pub connect_port: bool,
    /// `AccessStats` (bit 40).
    pub access_stats: bool,
    /// `Reserved2` (bits 42:41).
    #[bits(2)]
    __reserved2: u8,
    /// `Debugging` (bit 43).
    pub debugging: bool,
    /// `CpuManagement` (bit 44).
    pub cpu_management: bool,
    /// `Reserved` ×3 (bits 47:45).
    #[bits(3)]
    __reserved45: u8,
    /// `AccessVSM` (bit 48).
    pub access_vsm: bool,
    /// `AccessVpRegisters` (bit 49): `HvCallGetVpRegisters` /
    /// `HvCallSetVpRegisters`.
    pub access_vp_registers: bool,
    /// `Reserved` ×2 (bits 51:50).
    #[bits(2)]
    __reserved50: u8,
    /// `EnableExtendedHypercalls` (bit 52).
    pub enable_extended_hypercalls: bool,
    /// `StartVirtualProcessor` (bit 53).
    pub start_virtual_processor: bool,
    /// `Reserved3` (bits 63:54).
    #[bits(10)]
    __reserved3: u16,
}

impl HvPartitionPrivilegeMask {
    /// The bits the Markdown edition marks reserved (including bit 12),
    /// except bit 15 (`AccessTscInvariantControls`, defined since).
    pub const RESERVED_MASK: u64 = 0xFFCC_E608_FFFF_5000;

    /// The mask from CPUID `0x40000003` EAX (bits 31:0) and EBX (63:32).
    #[must_use]
    pub const fn from_cpuid(eax: u32, ebx: u32) -> Self {
        Self::from_bits(((ebx as u64) << 32) | eax as u64)
    }

    /// The value CPUID `0x40000003` returns in EAX.
    #[must_use]
    pub const fn cpuid_eax(self) -> u32 {
        self.into_bits() as u32
    }

    /// The value CPUID `0x40000003` returns in EBX.
    #[must_use]
    pub const fn cpuid_ebx(self) -> u32 {
        (self.into_bits() >> 32) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_positions() {
        // Hand-counted from the C declaration.
        let cases: &[(HvPartitionPrivilegeMask, u32)] = &[
            (
                HvPartitionPrivilegeMask::new().with_access_vp_run_time_reg(true),
                0,
            ),
            (
                HvPartitionPrivilegeMask::new().with_access_synic_regs(true),
                2,
            ),
            (
                HvPartitionPrivilegeMask::new().with_access_synthetic_timer_regs(true),
                3,
            ),
            (
                HvPartitionPrivilegeMask::new().with_access_hypercall_msrs(true),
                5,
            ),
            (
                HvPartitionPrivilegeMask::new().with_access_vp_index(true),
                6,
            ),
            (
                HvPartitionPrivilegeMask::new().with_access_partition_reference_tsc(true),
                9,
            ),
            (
                HvPartitionPrivilegeMask::new().with_access_frequency_regs(true),
                11,
            ),
            (
                HvPartitionPrivilegeMask::new().with_access_reenlightenment_controls(true),
                13,
            ),
            (
                HvPartitionPrivilegeMask::new().with_access_tsc_invariant_controls(true),
                15,
            ),
            (
                HvPartitionPrivilegeMask::new().with_create_partitions(true),
                32,
            ),
            (
                HvPartitionPrivilegeMask::new().with_access_memory_pool(true),
                34,
            ),
            (HvPartitionPrivilegeMask::new().with_post_messages(true), 36),
            (HvPartitionPrivilegeMask::new().with_signal_events(true), 37),
            (HvPartitionPrivilegeMask::new().with_connect_port(true), 39),
            (HvPartitionPrivilegeMask::new().with_access_stats(true), 40),
            (HvPartitionPrivilegeMask::new().with_debugging(true), 43),
            (
                HvPartitionPrivilegeMask::new().with_cpu_management(true),
                44,
            ),
            (HvPartitionPrivilegeMask::new().with_access_vsm(true), 48),
            (
                HvPartitionPrivilegeMask::new().with_access_vp_registers(true),
                49,
            ),
            (
                HvPartitionPrivilegeMask::new().with_enable_extended_hypercalls(true),
                52,
            ),
            (
                HvPartitionPrivilegeMask::new().with_start_virtual_processor(true),
                53,
            ),
        ];
        for &(mask, bit) in cases {
            assert_eq!(mask.into_bits(), 1 << bit, "bit {bit}");
        }
    }

    #[test]
    fn reserved_mask_covers_exactly_the_unnamed_bits() {
        let named: u64 = 0x0000_0000_0000_AFFF // bits 0-11, 13, 15
            | 1 << 32 | 1 << 33 | 1 << 34
            | 0xF << 36 | 1 << 40
            | 1 << 43 | 1 << 44
            | 1 << 48 | 1 << 49
            | 1 << 52 | 1 << 53;
        assert_eq!(HvPartitionPrivilegeMask::RESERVED_MASK, !named);
    }

    #[test]
    fn cpuid_split() {
        // A typical guest: hypercall MSRs, VP index, SynIC, timers, ref
        // counter/TSC in EAX; PostMessages and SignalEvents in EBX.
        let mask = HvPartitionPrivilegeMask::from_cpuid(0x0000_026E, 0x0000_0030);
        assert!(mask.access_partition_reference_counter());
        assert!(mask.access_partition_reference_tsc());
        assert!(!mask.access_vp_run_time_reg());
        assert!(mask.post_messages());
        assert!(mask.signal_events());
        assert!(!mask.create_partitions());
        assert_eq!(mask.cpuid_eax(), 0x0000_026E);
        assert_eq!(mask.cpuid_ebx(), 0x0000_0030);
        assert_eq!(mask.into_bits(), 0x0000_0030_0000_026E);
    }
}
