//! Value layouts of the synthetic MSRs that are not SynIC or timer
//! registers.

use bitfield_struct::bitfield;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `HV_X64_MSR_HYPERCALL`.
///
/// TLFS md `hypercall-interface.md` § Establishing the Hypercall Interface
/// (x86/x64); TLFS 6.0b §3.13.
#[bitfield(u64)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvX64MsrHypercall {
    /// Enable hypercall page (bit 0). Stays zero while the guest OS ID is
    /// zero.
    pub enable: bool,
    /// Locked (bit 1): the MSR is immutable until system reset (if
    /// `HypercallMsrLockAvailable`).
    pub locked: bool,
    /// RsvdP (bits 11:2): ignore on read, preserve on write.
    #[bits(10)]
    __rsvd_p: u16,
    /// Hypercall GPFN (bits 63:12): GPA page number of the hypercall page.
    #[bits(52)]
    pub gpn: u64,
}

/// `HV_X64_MSR_VP_ASSIST_PAGE`.
///
/// TLFS md `vp-properties.md` § Virtual Processor Assist Page (On x64
/// Platforms); TLFS 6.0b §7.8.7.1.
#[bitfield(u64)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvVpAssistPageMsr {
    /// Enable (bit 0).
    pub enable: bool,
    /// RsvdP (bits 11:1).
    #[bits(11)]
    __rsvd_p: u16,
    /// Page PFN (bits 63:12).
    #[bits(52)]
    pub gpn: u64,
}

/// `HV_X64_MSR_REFERENCE_TSC`.
///
/// TLFS md `timers.md` § Reference Time Stamp Counter (TSC) Page Register;
/// TLFS 6.0b §12.7 (Reference TSC Page MSR).
#[bitfield(u64)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvReferenceTscMsr {
    /// Enable (bit 0).
    pub enable: bool,
    /// RsvdP (bits 11:1).
    #[bits(11)]
    __rsvd_p: u16,
    /// GPA Page Number (bits 63:12).
    #[bits(52)]
    pub gpn: u64,
}

/// `HV_CRASH_CTL_REG_CONTENTS` (`HV_X64_MSR_CRASH_CTL`).
///
/// TLFS md `datatypes/hv_crash_ctl_reg_contents.md`. TLFS 6.0b §4.3 (Guest Crash Enlightenment Data Structure) has
/// only `CrashMessage` (62) and `CrashNotify` (63) over 62 reserved bits;
/// the Markdown edition adds `PreOSId` and `NoCrashDump`.
#[bitfield(u64)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvCrashCtlRegContents {
    /// `Reserved` (bits 57:0).
    #[bits(58)]
    __reserved: u64,
    /// `PreOSId` (bits 60:58): crash occurred in the pre-OS environment.
    #[bits(3)]
    pub pre_os_id: u8,
    /// `NoCrashDump` (bit 61): a crash dump will not be captured.
    pub no_crash_dump: bool,
    /// `CrashMessage` (bit 62): P3 is the message GPA, P4 its length.
    pub crash_message: bool,
    /// `CrashNotify` (bit 63): log the crash parameter registers.
    pub crash_notify: bool,
}

/// `HV_X64_MSR_EOI` value.
///
/// TLFS md `virtual-interrupts.md` § HV_X64_MSR_EOI.
#[bitfield(u64)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvX64MsrEoi {
    /// EOI value (bits 31:0).
    pub eoi_value: u32,
    /// RsvdZ (bits 63:32).
    __rsvd_z: u32,
}

/// `HV_X64_MSR_ICR` value: the APIC ICR high and low words in one MSR.
///
/// TLFS md `virtual-interrupts.md` § HV_X64_MSR_ICR.
#[bitfield(u64)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvX64MsrIcr {
    /// ICR low value (bits 31:0).
    pub icr_low: u32,
    /// ICR high value (bits 63:32).
    pub icr_high: u32,
}

/// `HV_X64_MSR_TPR` value.
///
/// TLFS md `virtual-interrupts.md` § HV_X64_MSR_TPR.
#[bitfield(u64)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvX64MsrTpr {
    /// TPR value (bits 7:0).
    pub tpr_value: u8,
    /// RsvdZ (bits 63:8).
    #[bits(56)]
    __rsvd_z: u64,
}

/// `HV_X64_MSR_NPIEP_CONFIG_CONTENTS` (`HV_X64_MSR_NPIEP_CONFIG`).
///
/// TLFS 6.0b §8.12; TLFS md `datatypes/hv_x64_msr_npiep_config_contents.md`.
#[bitfield(u64)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvX64MsrNpiepConfig {
    /// `PreventSgdt` (bit 0).
    pub prevent_sgdt: bool,
    /// `PreventSidt` (bit 1).
    pub prevent_sidt: bool,
    /// `PreventSldt` (bit 2).
    pub prevent_sldt: bool,
    /// `PreventStr` (bit 3).
    pub prevent_str: bool,
    /// `Reserved` (bits 63:4).
    #[bits(60)]
    __reserved: u64,
}

/// `HV_REENLIGHTENMENT_CONTROL` (`HV_X64_MSR_REENLIGHTENMENT_CONTROL`).
///
/// TLFS md `nested-virtualization.md` § Live Migration Notification.
#[bitfield(u64)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvReenlightenmentControl {
    /// `Vector` (bits 7:0).
    pub vector: u8,
    /// `RsvdZ1` (bits 15:8).
    __rsvd_z1: u8,
    /// `Enabled` (bit 16).
    pub enabled: bool,
    /// `RsvdZ2` (bits 31:17).
    #[bits(15)]
    __rsvd_z2: u16,
    /// `TargetVp` (bits 63:32).
    pub target_vp: u32,
}

/// `HV_TSC_EMULATION_CONTROL` (`HV_X64_MSR_TSC_EMULATION_CONTROL`).
///
/// TLFS md `nested-virtualization.md` § TSC Emulation.
#[bitfield(u64)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvTscEmulationControl {
    /// `Enabled` (bit 0).
    pub enabled: bool,
    /// `RsvdZ` (bits 63:1).
    #[bits(63)]
    __rsvd_z: u64,
}

/// `HV_TSC_EMULATION_STATUS` (`HV_X64_MSR_TSC_EMULATION_STATUS`).
///
/// TLFS md `nested-virtualization.md` § TSC Emulation.
#[bitfield(u64)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvTscEmulationStatus {
    /// `InProgress` (bit 0).
    pub in_progress: bool,
    /// `RsvdP1` (bits 63:1).
    #[bits(63)]
    __rsvd_p1: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypercall_msr_bits() {
        // Page at GPA 0x7FFF_F000, enabled and locked.
        let v = HvX64MsrHypercall::new()
            .with_enable(true)
            .with_locked(true)
            .with_gpn(0x7_FFFF);
        assert_eq!(v.into_bits(), 0x0000_0000_7FFF_F003);
        let v = HvX64MsrHypercall::from_bits(0x0000_0001_0000_0FFD);
        assert!(v.enable());
        assert!(!v.locked());
        assert_eq!(v.gpn(), 0x10_0000);
        // RsvdP bits are preserved.
        assert_eq!(v.into_bits() & 0xFFC, 0xFFC);
    }

    #[test]
    fn page_msrs() {
        let v = HvVpAssistPageMsr::new().with_enable(true).with_gpn(0xABCDE);
        assert_eq!(v.into_bits(), 0x0000_0000_ABCD_E001);
        let r = HvReferenceTscMsr::from_bits(0x0000_0000_0010_0001);
        assert!(r.enable());
        assert_eq!(r.gpn(), 0x100);
    }

    #[test]
    fn crash_ctl_bits() {
        // CrashNotify | CrashMessage = bits 63 and 62.
        let v = HvCrashCtlRegContents::new()
            .with_crash_notify(true)
            .with_crash_message(true);
        assert_eq!(v.into_bits(), 0xC000_0000_0000_0000);
        let v = HvCrashCtlRegContents::from_bits(0x3C00_0000_0000_0000);
        assert_eq!(v.pre_os_id(), 0x7);
        assert!(v.no_crash_dump());
        assert!(!v.crash_message());
        assert!(!v.crash_notify());
    }

    #[test]
    fn apic_msrs() {
        let icr = HvX64MsrIcr::from_bits(0x0000_0003_0000_40FE);
        assert_eq!(icr.icr_high(), 3);
        assert_eq!(icr.icr_low(), 0x40FE);
        assert_eq!(HvX64MsrTpr::new().with_tpr_value(0xA0).into_bits(), 0xA0);
        assert_eq!(HvX64MsrEoi::from_bits(0x1_0000_0000).eoi_value(), 0);
    }

    #[test]
    fn nested_and_npiep_bits() {
        let r = HvReenlightenmentControl::new()
            .with_vector(0x40)
            .with_enabled(true)
            .with_target_vp(2);
        assert_eq!(r.into_bits(), 0x0000_0002_0001_0040);
        assert!(HvX64MsrNpiepConfig::from_bits(0b1010).prevent_sidt());
        assert!(HvX64MsrNpiepConfig::from_bits(0b1010).prevent_str());
        assert!(HvTscEmulationControl::from_bits(1).enabled());
        assert!(HvTscEmulationStatus::from_bits(1).in_progress());
    }
}
