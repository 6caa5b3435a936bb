//! Scalar types that the rest of the TLFS is built from.

use bitfield_struct::bitfield;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Size of a hypervisor page (x64 4 KiB pages).
///
/// TLFS md `datatypes/hv_gpa_page_number.md` (`PAGE_SHIFT` is 12 for 4 KB
/// pages); `HV_PAGE_SIZE` is used by `HV_VP_ASSIST_PAGE`.
pub const HV_PAGE_SIZE: usize = 4096;

/// `PAGE_SHIFT`: a GPA page number is a GPA shifted right by this.
///
/// TLFS md `datatypes/hv_gpa_page_number.md` § Usage.
pub const HV_PAGE_SHIFT: u32 = 12;

/// `HV_PARTITION_ID`: 64-bit partition identifier.
///
/// TLFS md `datatypes/hv_partition_id.md`; TLFS 6.0b §4.2 (Partition IDs).
pub type HvPartitionId = u64;

/// `HV_PARTITION_ID_INVALID`: never refers to a real partition.
///
/// TLFS md `datatypes/hv_partition_id.md` § Constants.
pub const HV_PARTITION_ID_INVALID: HvPartitionId = 0;

/// `HV_PARTITION_ID_SELF` (`(HV_PARTITION_ID)-1`): the caller's own partition.
///
/// TLFS md `datatypes/hv_partition_id.md` § Constants.
pub const HV_PARTITION_ID_SELF: HvPartitionId = u64::MAX;

/// `HV_VP_INDEX`: index of a virtual processor within its partition.
///
/// TLFS md `datatypes/hv_vp_index.md`; `vp-properties.md` § Virtual
/// Processor Indices.
pub type HvVpIndex = u32;

/// `HV_ANY_VP` (`(HV_VP_INDEX)-1`): any virtual processor.
///
/// TLFS md `vp-properties.md` § Virtual Processor Indices.
pub const HV_ANY_VP: HvVpIndex = 0xFFFF_FFFF;

/// `HV_VP_INDEX_SELF` (`(HV_VP_INDEX)-2`): the calling virtual processor.
///
/// TLFS md `vp-properties.md` § Virtual Processor Indices.
pub const HV_VP_INDEX_SELF: HvVpIndex = 0xFFFF_FFFE;

/// `HV_GPA_PAGE_NUMBER`: a guest physical address shifted right by
/// [`HV_PAGE_SHIFT`].
///
/// TLFS md `datatypes/hv_gpa_page_number.md`.
pub type HvGpaPageNumber = u64;

/// `HV_GPA`: a guest physical address.
///
/// TLFS 6.0b §1.8 (Memory Address Space Types).
pub type HvGpa = u64;

/// `HV_GVA`: a guest virtual address.
///
/// TLFS md `datatypes/hv_gva.md`.
pub type HvGva = u64;

/// `HV_NANO100_TIME`: a time in 100 ns units of the partition reference
/// counter.
///
/// TLFS md `datatypes/hv_timer_message_payload.md`.
pub type HvNano100Time = u64;

/// `HV_VTL`: a virtual trust level, 0–15.
///
/// TLFS md `datatypes/hv_vtl.md`.
pub type HvVtl = u8;

/// `HV_INPUT_VTL`: the target VTL of a hypercall.
///
/// TLFS md `datatypes/hv_input_vtl.md`.
#[bitfield(u8)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvInputVtl {
    /// `TargetVtl` (bits 3:0): the target virtual trust level.
    #[bits(4)]
    pub target_vtl: u8,
    /// `UseTargetVtl` (bit 4): honour `target_vtl`; otherwise the caller's
    /// VTL (or all VTLs, depending on the hypercall) is meant.
    pub use_target_vtl: bool,
    /// `ReservedZ` (bits 7:5).
    #[bits(3)]
    __reserved_z: u8,
}

impl HvInputVtl {
    /// The RsvdZ bits 7:5.
    pub const RESERVED_MASK: u8 = 0xE0;
}

/// `HV_X64_SEGMENT_REGISTER`: segment register state (16 bytes).
///
/// TLFS md `datatypes/hv_x64_segment_register.md`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct HvX64SegmentRegister {
    /// `Base`.
    pub base: u64,
    /// `Limit` (ignored for long-mode segments).
    pub limit: u32,
    /// `Selector`.
    pub selector: u16,
    /// `Attributes`.
    pub attributes: HvX64SegmentAttributes,
}

const _: () = assert!(size_of::<HvX64SegmentRegister>() == 16);
const _: () = assert!(core::mem::offset_of!(HvX64SegmentRegister, limit) == 8);
const _: () = assert!(core::mem::offset_of!(HvX64SegmentRegister, selector) == 12);
const _: () = assert!(core::mem::offset_of!(HvX64SegmentRegister, attributes) == 14);

/// The `Attributes` word of [`HvX64SegmentRegister`].
///
/// TLFS md `datatypes/hv_x64_segment_register.md`.
#[bitfield(u16)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvX64SegmentAttributes {
    /// `SegmentType` (bits 3:0).
    #[bits(4)]
    pub segment_type: u8,
    /// `NonSystemSegment` (bit 4, the descriptor "S" bit).
    pub non_system_segment: bool,
    /// `DescriptorPrivilegeLevel` (bits 6:5).
    #[bits(2)]
    pub descriptor_privilege_level: u8,
    /// `Present` (bit 7).
    pub present: bool,
    /// `Reserved` (bits 11:8).
    #[bits(4)]
    __reserved: u8,
    /// `Available` (bit 12).
    pub available: bool,
    /// `Long` (bit 13).
    pub long: bool,
    /// `Default` (bit 14, the descriptor "D/B" bit). Renamed so that it does
    /// not shadow `Default::default`.
    pub default_big: bool,
    /// `Granularity` (bit 15).
    pub granularity: bool,
}

/// `HV_X64_TABLE_REGISTER`: GDTR/IDTR state (16 bytes).
///
/// TLFS md `datatypes/hv_x64_table_register.md`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct HvX64TableRegister {
    /// `Pad[3]`.
    pub pad: [u16; 3],
    /// `Limit`.
    pub limit: u16,
    /// `Base`.
    pub base: u64,
}

const _: () = assert!(size_of::<HvX64TableRegister>() == 16);
const _: () = assert!(core::mem::offset_of!(HvX64TableRegister, limit) == 6);
const _: () = assert!(core::mem::offset_of!(HvX64TableRegister, base) == 8);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_ids() {
        // vp-properties.md: HV_ANY_VP = (HV_VP_INDEX)-1, HV_VP_INDEX_SELF = -2.
        assert_eq!(HV_ANY_VP, 0xFFFF_FFFF);
        assert_eq!(HV_VP_INDEX_SELF, 0xFFFF_FFFE);
        assert_eq!(HV_PARTITION_ID_SELF, 0xFFFF_FFFF_FFFF_FFFF);
        assert_eq!(HV_PARTITION_ID_INVALID, 0);
    }

    #[test]
    fn input_vtl_bits() {
        // TargetVtl:4, UseTargetVtl:1, ReservedZ:3.
        let v = HvInputVtl::new()
            .with_target_vtl(2)
            .with_use_target_vtl(true);
        assert_eq!(v.into_bits(), 0x12);
        let v = HvInputVtl::from_bits(0x1F);
        assert_eq!(v.target_vtl(), 0xF);
        assert!(v.use_target_vtl());
    }

    #[test]
    fn segment_attributes_bits() {
        // A flat 64-bit code segment: type 0xB, S=1, DPL=0, P=1, L=1, G=1
        // -> 0xA09B (the classic descriptor attribute word).
        let a = HvX64SegmentAttributes::new()
            .with_segment_type(0xB)
            .with_non_system_segment(true)
            .with_present(true)
            .with_long(true)
            .with_granularity(true);
        assert_eq!(a.into_bits(), 0xA09B);
        let a = HvX64SegmentAttributes::from_bits(0x60);
        assert_eq!(a.descriptor_privilege_level(), 3);
        let a = HvX64SegmentAttributes::from_bits(0x4000);
        assert!(a.default_big());
    }
}
