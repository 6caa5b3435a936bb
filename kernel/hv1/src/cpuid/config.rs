//! `Hv1Config`: everything a partition's Hv#1 CPUID leaves report.

use tlfs::cpuid::{
    HV_SPIN_WAIT_NEVER_NOTIFY, HvFeatureIdentificationEcx, HvFeatureIdentificationEdx,
    HvHardwareFeaturesEax, HvImplementationRecommendationsEax,
};
use tlfs::privilege::HvPartitionPrivilegeMask;

/// Leaf `0x40000005` EAX value "-1": no specific VP limit (Requirements §
/// Maximum Supported Virtual Processors).
pub const VP_LIMIT_UNLIMITED: u32 = u32::MAX;

/// The 12-byte hypervisor vendor ID of leaf `0x40000000` EBX, ECX, EDX.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VendorId(pub [u8; 12]);

impl VendorId {
    /// `"Microsoft Hv"` (TLFS md `feature-discovery.md` § Hypervisor CPUID
    /// Leaf Range - 0x40000000).
    ///
    /// The TLFS says the vendor ID is "only for reporting and diagnostic
    /// purposes", but guests do use it to detect Hyper-V (Linux's
    /// `ms_hyperv` platform detection compares it), so it is the default.
    pub const MICROSOFT: Self = Self(*b"Microsoft Hv");

    /// A vendor ID from a string of at most 12 bytes, padded with NULs;
    /// `None` if longer.
    #[must_use]
    pub const fn new(id: &str) -> Option<Self> {
        let bytes = id.as_bytes();
        if bytes.len() > 12 {
            return None;
        }
        let mut out = [0; 12];
        let mut i = 0;
        while i < bytes.len() {
            out[i] = bytes[i];
            i += 1;
        }
        Some(Self(out))
    }

    /// EBX, ECX, EDX: the bytes in order, little-endian in each register.
    #[must_use]
    pub const fn registers(&self) -> [u32; 3] {
        let b = &self.0;
        [
            u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
            u32::from_le_bytes([b[8], b[9], b[10], b[11]]),
        ]
    }
}

impl Default for VendorId {
    fn default() -> Self {
        Self::MICROSOFT
    }
}

/// Leaf `0x40000002`: the hypervisor's build and version.
///
/// TLFS md `feature-discovery.md` § Hypervisor System Identity; TLFS 6.0b
/// §2.4 for ECX/EDX. Requirements § Required Hypervisor CPUID Leaves marks
/// every register "Required: No … Used only for reporting and diagnostic
/// purposes".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SystemIdentity {
    /// EAX: build number.
    pub build_number: u32,
    /// EBX 31:16.
    pub major_version: u16,
    /// EBX 15:0.
    pub minor_version: u16,
    /// ECX: service pack.
    pub service_pack: u32,
    /// EDX 31:24.
    pub service_branch: u8,
    /// EDX 23:0 (higher bits are dropped).
    pub service_number: u32,
}

impl SystemIdentity {
    /// Tessera's own version, 0.1 (the workspace version), build 0.
    ///
    /// **Choice:** the leaf is diagnostic only (see above), so it reports
    /// the truth rather than imitating a Windows Server build; a
    /// deployment that needs a particular value can set one.
    pub const TESSERA: Self = Self {
        build_number: 0,
        major_version: 0,
        minor_version: 1,
        service_pack: 0,
        service_branch: 0,
        service_number: 0,
    };
}

/// A partition's Hv#1 interface as CPUID describes it.
///
/// [`Hv1Config::default`] is the minimal interface of Requirements §
/// Requirements for a Minimal HV#1 Interface — the privileges
/// `AccessHypercallMsrs` and `AccessVpIndex` and nothing else — plus the
/// relaxed-timing recommendation. Following Requirements § Required
/// Hypervisor CPUID Leaves ("it is generally recommended to return 0 for
/// all CPUID leaves except those that are marked as required … and for
/// those specific features that a conforming hypervisor chooses to
/// implement"), everything else is zero until a deployment turns it on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hv1Config {
    /// Leaf `0x40000000` EBX, ECX, EDX.
    pub vendor_id: VendorId,
    /// Leaf `0x40000002`.
    pub version: SystemIdentity,
    /// Leaf `0x40000003` EAX:EBX.
    pub privileges: HvPartitionPrivilegeMask,
    /// Leaf `0x40000003` ECX.
    pub features_ecx: HvFeatureIdentificationEcx,
    /// Leaf `0x40000003` EDX (bit 4 XMM fast input, bit 15 XMM fast output
    /// are also what [`HypercallPolicy`](crate::HypercallPolicy) enforces).
    pub features_edx: HvFeatureIdentificationEdx,
    /// Leaf `0x40000004` EAX.
    pub recommendations: HvImplementationRecommendationsEax,
    /// Leaf `0x40000004` EBX: recommended spinlock retries before
    /// `HvCallNotifyLongSpinWait` ([`HV_SPIN_WAIT_NEVER_NOTIFY`] = never).
    pub spinlock_retries: u32,
    /// Leaf `0x40000004` ECX bits 6:0: MAXPHYADDR (0 = not reported;
    /// values above 127 are truncated to 7 bits).
    pub implemented_physical_address_bits: u8,
    /// Leaf `0x40000005` EAX: maximum virtual processors (0 = not exposed,
    /// [`VP_LIMIT_UNLIMITED`] = no specific limit).
    pub max_virtual_processors: u32,
    /// Leaf `0x40000005` EBX: maximum logical processors (0 = not exposed).
    pub max_logical_processors: u32,
    /// Leaf `0x40000005` ECX: physical interrupt vectors for interrupt
    /// remapping (0 = not exposed).
    pub max_interrupt_remapping_vectors: u32,
    /// Leaf `0x40000006` EAX.
    pub hardware_features: HvHardwareFeaturesEax,
}

impl Default for Hv1Config {
    fn default() -> Self {
        Self {
            vendor_id: VendorId::MICROSOFT,
            version: SystemIdentity::TESSERA,
            privileges: HvPartitionPrivilegeMask::new()
                .with_access_hypercall_msrs(true)
                .with_access_vp_index(true),
            features_ecx: HvFeatureIdentificationEcx::new(),
            features_edx: HvFeatureIdentificationEdx::new(),
            // Requirements § Use Relaxed Timing: the guest then disables
            // its clock-interrupt and DPC watchdogs, which a shared,
            // preemptible VP would otherwise trip.
            recommendations: HvImplementationRecommendationsEax::new()
                .with_use_relaxed_timing(true),
            spinlock_retries: HV_SPIN_WAIT_NEVER_NOTIFY,
            implemented_physical_address_bits: 0,
            // 64: every VP fits the 64-bit processor masks of the non-Ex
            // hypercalls, and Windows up to 2008 R2 stops at 64 anyway
            // (Requirements § Maximum Supported Virtual Processors).
            max_virtual_processors: 64,
            max_logical_processors: 0,
            max_interrupt_remapping_vectors: 0,
            hardware_features: HvHardwareFeaturesEax::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_ids() {
        assert_eq!(VendorId::new("Microsoft Hv"), Some(VendorId::MICROSOFT));
        assert_eq!(VendorId::default(), VendorId::MICROSOFT);
        assert_eq!(VendorId::new("Tessera").unwrap().0, *b"Tessera\0\0\0\0\0");
        assert_eq!(VendorId::new("Microsoft Hv!"), None);
        assert_eq!(VendorId::new("").unwrap().registers(), [0, 0, 0]);
        assert_eq!(
            VendorId::MICROSOFT.registers(),
            [
                tlfs::cpuid::HV_CPUID_VENDOR_MICROSOFT_EBX,
                tlfs::cpuid::HV_CPUID_VENDOR_MICROSOFT_ECX,
                tlfs::cpuid::HV_CPUID_VENDOR_MICROSOFT_EDX,
            ]
        );
    }
}
