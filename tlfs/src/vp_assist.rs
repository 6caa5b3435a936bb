//! The virtual processor assist page.
//!
//! TLFS md `datatypes/hv_vp_assist_page.md` and the types it uses
//! (`hv_vp_vtl_control.md`, `hv_nested_enlightenments_control.md`,
//! `hv_virtualization_fault_information.md`), `virtual-interrupts.md` § EOI
//! Assist; TLFS 6.0b §7.8.7.2. The MSR that places the page is
//! [`crate::msr::HvVpAssistPageMsr`].

use bitfield_struct::bitfield;
use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout};

use crate::types::{HV_PAGE_SIZE, HvGpa};
use tessera_open_enum::open_enum;

/// `HV_VIRTUAL_APIC_ASSIST`: the EOI assist word at offset 0.
///
/// TLFS md `virtual-interrupts.md` § EOI Assist (x64 Only).
#[bitfield(u32)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvVirtualApicAssist {
    /// No EOI Required (bit 0): set by the hypervisor when the guest may
    /// skip the EOI write.
    pub no_eoi_required: bool,
    /// RsvdZ (bits 31:1).
    #[bits(31)]
    __rsvd_z: u32,
}

open_enum! {
    name;
    /// `HV_VTL_ENTRY_REASON`.
    ///
    /// TLFS md `datatypes/hv_vp_vtl_control.md`.
    pub struct HvVtlEntryReason(u32);

    /// Reserved, not used.
    RESERVED = 0 => "HvVtlEntryReserved",
    /// A VTL call from a lower VTL.
    VTL_CALL = 1 => "HvVtlEntryVtlCall",
    /// An interrupt targeted to the VTL.
    INTERRUPT = 2 => "HvVtlEntryInterrupt",
    /// An intercept delivered via the intercept page.
    INTERCEPT = 3 => "HvVtlEntryIntercept",
}

/// The `VinaStatus` byte of [`HvVpVtlControl`].
///
/// TLFS md `datatypes/hv_vp_vtl_control.md`.
#[bitfield(u8)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvVinaStatus {
    /// `VinaAsserted` (bit 0): the VINA interrupt line is asserted.
    pub vina_asserted: bool,
    /// `VinaReservedZ` (bits 7:1).
    #[bits(7)]
    __reserved_z: u8,
}

/// `HV_VP_VTL_CONTROL` (x64 layout, 24 bytes).
///
/// TLFS md `datatypes/hv_vp_vtl_control.md`. The trailing 16 bytes are a
/// union: `VtlReturnX64Rax`/`VtlReturnX64Rcx` for a 64-bit VTL, or
/// `VtlReturnX86Eax`/`Ecx`/`Edx` (and a reserved word) for a 32-bit one;
/// the `vtl_return_x86_*` accessors read the second view.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct HvVpVtlControl {
    /// `EntryReason` (offset 0).
    pub entry_reason: HvVtlEntryReason,
    /// `VinaStatus` (offset 4).
    pub vina_status: HvVinaStatus,
    /// `ReservedZ00` (offset 5).
    pub reserved_z00: u8,
    /// `ReservedZ01` (offset 6).
    pub reserved_z01: u16,
    /// `VtlReturnX64Rax` (offset 8).
    pub vtl_return_x64_rax: u64,
    /// `VtlReturnX64Rcx` (offset 16).
    pub vtl_return_x64_rcx: u64,
}

const _: () = assert!(size_of::<HvVpVtlControl>() == 24);
const _: () = assert!(core::mem::offset_of!(HvVpVtlControl, vina_status) == 4);
const _: () = assert!(core::mem::offset_of!(HvVpVtlControl, vtl_return_x64_rax) == 8);
const _: () = assert!(core::mem::offset_of!(HvVpVtlControl, vtl_return_x64_rcx) == 16);

impl HvVpVtlControl {
    /// `VtlReturnX86Eax` (offset 8, 4 bytes).
    #[must_use]
    pub const fn vtl_return_x86_eax(&self) -> u32 {
        self.vtl_return_x64_rax as u32
    }

    /// `VtlReturnX86Ecx` (offset 12, 4 bytes).
    #[must_use]
    pub const fn vtl_return_x86_ecx(&self) -> u32 {
        (self.vtl_return_x64_rax >> 32) as u32
    }

    /// `VtlReturnX86Edx` (offset 16, 4 bytes).
    #[must_use]
    pub const fn vtl_return_x86_edx(&self) -> u32 {
        self.vtl_return_x64_rcx as u32
    }
}

/// The `Features` word of [`HvNestedEnlightenmentsControl`].
///
/// TLFS md `datatypes/hv_nested_enlightenments_control.md`.
#[bitfield(u32)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvNestedEnlightenmentsFeatures {
    /// `DirectHypercall` (bit 0).
    pub direct_hypercall: bool,
    /// `VirtualizationException` (bit 1).
    pub virtualization_exception: bool,
    /// `Reserved` (bits 31:2).
    #[bits(30)]
    __reserved: u32,
}

/// The `HypercallControls` word of [`HvNestedEnlightenmentsControl`].
///
/// TLFS md `datatypes/hv_nested_enlightenments_control.md`.
#[bitfield(u32)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvNestedEnlightenmentsHypercallControls {
    /// `InterPartitionCommunication` (bit 0).
    pub inter_partition_communication: bool,
    /// `Reserved` (bits 31:1).
    #[bits(31)]
    __reserved: u32,
}

/// `HV_NESTED_ENLIGHTENMENTS_CONTROL` (8 bytes).
///
/// TLFS md `datatypes/hv_nested_enlightenments_control.md`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct HvNestedEnlightenmentsControl {
    /// `Features`.
    pub features: HvNestedEnlightenmentsFeatures,
    /// `HypercallControls`.
    pub hypercall_controls: HvNestedEnlightenmentsHypercallControls,
}

const _: () = assert!(size_of::<HvNestedEnlightenmentsControl>() == 8);

/// `HV_VIRTUALIZATION_FAULT_INFORMATION` (16 bytes, 16-byte aligned in the
/// page).
///
/// TLFS md `datatypes/hv_virtualization_fault_information.md`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct HvVirtualizationFaultInformation {
    /// `Parameter0`.
    pub parameter0: u16,
    /// `Reserved0`.
    pub reserved0: u16,
    /// `Code`.
    pub code: u32,
    /// `Parameter1`.
    pub parameter1: u64,
}

const _: () = assert!(size_of::<HvVirtualizationFaultInformation>() == 16);

/// Bytes of [`HvVpAssistPage`] that the TLFS gives a meaning to.
const VP_ASSIST_DEFINED_BYTES: usize = 80;

/// `HV_VP_ASSIST_PAGE` (x64 layout, 4 KiB).
///
/// TLFS md `datatypes/hv_vp_assist_page.md`; TLFS 6.0b §7.8.7.2. Bytes from
/// offset 80 on are `ReservedZBytePadding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct HvVpAssistPage {
    /// `ApicAssist` (offset 0).
    pub apic_assist: HvVirtualApicAssist,
    /// `ReservedZ0` (offset 4).
    pub reserved_z0: u32,
    /// `VtlControl` (offset 8).
    pub vtl_control: HvVpVtlControl,
    /// `NestedEnlightenmentsControl` (offset 32).
    pub nested_enlightenments_control: HvNestedEnlightenmentsControl,
    /// `EnlightenVmEntry` (offset 40, `BOOLEAN`).
    pub enlighten_vm_entry: u8,
    /// `ReservedZ1[7]` (offset 41).
    pub reserved_z1: [u8; 7],
    /// `CurrentNestedVmcs` (offset 48).
    pub current_nested_vmcs: HvGpa,
    /// `SyntheticTimeUnhaltedTimerExpired` (offset 56, `BOOLEAN`).
    pub synthetic_time_unhalted_timer_expired: u8,
    /// `ReservedZ2[7]` (offset 57).
    pub reserved_z2: [u8; 7],
    /// `VirtualizationFaultInformation` (offset 64).
    pub virtualization_fault_information: HvVirtualizationFaultInformation,
    /// The rest of `ReservedZBytePadding[HV_PAGE_SIZE]`.
    pub reserved_z_padding: [u8; HV_PAGE_SIZE - VP_ASSIST_DEFINED_BYTES],
}

const _: () = assert!(size_of::<HvVpAssistPage>() == HV_PAGE_SIZE);
const _: () = assert!(core::mem::offset_of!(HvVpAssistPage, vtl_control) == 8);
const _: () = assert!(core::mem::offset_of!(HvVpAssistPage, nested_enlightenments_control) == 32);
const _: () = assert!(core::mem::offset_of!(HvVpAssistPage, enlighten_vm_entry) == 40);
const _: () = assert!(core::mem::offset_of!(HvVpAssistPage, current_nested_vmcs) == 48);
const _: () =
    assert!(core::mem::offset_of!(HvVpAssistPage, synthetic_time_unhalted_timer_expired) == 56);
const _: () =
    assert!(core::mem::offset_of!(HvVpAssistPage, virtualization_fault_information) == 64);
const _: () =
    assert!(core::mem::offset_of!(HvVpAssistPage, reserved_z_padding) == VP_ASSIST_DEFINED_BYTES);

impl Default for HvVpAssistPage {
    fn default() -> Self {
        Self::new_zeroed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eoi_assist_bit() {
        assert_eq!(
            HvVirtualApicAssist::new()
                .with_no_eoi_required(true)
                .into_bits(),
            1
        );
        let mut page = HvVpAssistPage::new_zeroed();
        page.apic_assist.set_no_eoi_required(true);
        // "The EOI Assist field resides at offset 0 of the overlay page".
        assert_eq!(&page.as_bytes()[0..4], &[1, 0, 0, 0]);
    }

    #[test]
    fn vtl_control_views() {
        let mut page = HvVpAssistPage::new_zeroed();
        page.vtl_control.entry_reason = HvVtlEntryReason::INTERRUPT;
        page.vtl_control.vina_status.set_vina_asserted(true);
        page.vtl_control.vtl_return_x64_rax = 0x2222_2222_1111_1111;
        page.vtl_control.vtl_return_x64_rcx = 0x4444_4444_3333_3333;
        let bytes = page.as_bytes();
        assert_eq!(&bytes[8..12], &2_u32.to_le_bytes());
        assert_eq!(bytes[12], 1);
        assert_eq!(page.vtl_control.vtl_return_x86_eax(), 0x1111_1111);
        assert_eq!(page.vtl_control.vtl_return_x86_ecx(), 0x2222_2222);
        assert_eq!(page.vtl_control.vtl_return_x86_edx(), 0x3333_3333);
        assert_eq!(HvVtlEntryReason::VTL_CALL.0, 1);
        assert_eq!(HvVtlEntryReason::INTERCEPT.0, 3);
    }

    #[test]
    fn nested_control_and_fault_info() {
        let mut page = HvVpAssistPage::new_zeroed();
        page.nested_enlightenments_control
            .features
            .set_direct_hypercall(true);
        page.nested_enlightenments_control
            .hypercall_controls
            .set_inter_partition_communication(true);
        page.synthetic_time_unhalted_timer_expired = 1;
        page.virtualization_fault_information.code = 0xAABB_CCDD;
        let bytes = page.as_bytes();
        assert_eq!(bytes[32], 1);
        assert_eq!(bytes[36], 1);
        assert_eq!(bytes[56], 1);
        assert_eq!(&bytes[68..72], &0xAABB_CCDD_u32.to_le_bytes());
    }
}
