//! A segment register as the VMCB state save area stores it.
//!
//! APM Table B-2 (`ES` at `400h` … `TR` at `490h`): each segment register,
//! and each of the descriptor-table registers `GDTR`/`IDTR`, occupies 16
//! bytes — selector, attributes, limit, base. Layout confirmed by Linux
//! (`struct vmcb_seg`), QEMU (`struct vmcb_seg`) and Xen (`struct
//! segment_register`).

use bitfield_struct::bitfield;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// The attribute word of a [`VmcbSegment`]: the descriptor's attribute
/// bits in the VMCB's packed 12-bit form.
///
/// Bits 7:0 are descriptor bits 47:40 (type, S, DPL, P) and bits 11:8 are
/// descriptor bits 55:52 (AVL, L, D/B, G). Bit positions confirmed by
/// Linux (`SVM_SELECTOR_*_SHIFT`); QEMU's own consistency checks use the
/// same positions (`CS.L` and `CS.D` both set is rejected, see
/// `svm-on-qemu.md`). The upper four bits are reserved.
#[bitfield(u16)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct SegmentAttributes {
    /// Segment type (bits 3:0; for code, bit 3 set and bit 1 = readable;
    /// for data, bit 1 = writable).
    #[bits(4)]
    pub segment_type: u8,
    /// S (bit 4): code or data segment (1) rather than a system segment.
    pub s: bool,
    /// DPL (bits 6:5).
    #[bits(2)]
    pub dpl: u8,
    /// P (bit 7): present.
    pub p: bool,
    /// AVL (bit 8): available to software.
    pub avl: bool,
    /// L (bit 9): 64-bit code segment.
    pub l: bool,
    /// D/B (bit 10): default operand size 32 bits.
    pub db: bool,
    /// G (bit 11): limit granularity 4 KiB.
    pub g: bool,
    /// Reserved (bits 15:12).
    #[bits(4)]
    __reserved: u8,
}

impl SegmentAttributes {
    /// Bits of the attribute word that the VMCB format reserves.
    pub const RESERVED_MASK: u16 = 0xF000;
}

/// A segment or descriptor-table register in the state save area (16
/// bytes).
///
/// APM Table B-2. For `GDTR` and `IDTR` only `limit` and `base` are used.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct VmcbSegment {
    /// Selector (offset 0).
    pub selector: u16,
    /// Attributes in packed form (offset 2).
    pub attrib: SegmentAttributes,
    /// Limit, already expanded by the granularity bit (offset 4).
    pub limit: u32,
    /// Base address (offset 8).
    pub base: u64,
}

const _: () = assert!(size_of::<VmcbSegment>() == 16);
const _: () = assert!(core::mem::offset_of!(VmcbSegment, selector) == 0);
const _: () = assert!(core::mem::offset_of!(VmcbSegment, attrib) == 2);
const _: () = assert!(core::mem::offset_of!(VmcbSegment, limit) == 4);
const _: () = assert!(core::mem::offset_of!(VmcbSegment, base) == 8);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_mode_code_segment_attributes() {
        // A 64-bit ring-0 code segment: type 0xB (execute/read, accessed),
        // S, P, L — the descriptor's 0x9B access byte and L bit.
        let attrib = SegmentAttributes::new()
            .with_segment_type(0xB)
            .with_s(true)
            .with_dpl(0)
            .with_p(true)
            .with_l(true);
        assert_eq!(attrib.into_bits(), 0x029B);
        assert!(!attrib.db(), "CS.L with CS.D is an invalid guest state");
    }

    #[test]
    fn flat_data_segment_attributes() {
        // The classic 0xC093 flat 4 GiB data segment (G, D/B, P, S, RW).
        let attrib = SegmentAttributes::from_bits(0x0C93);
        assert_eq!(attrib.segment_type(), 0x3);
        assert!(attrib.s() && attrib.p() && attrib.db() && attrib.g());
        assert_eq!(attrib.dpl(), 0);
        assert_eq!(attrib.into_bits() & SegmentAttributes::RESERVED_MASK, 0);
    }

    #[test]
    fn segment_bytes() {
        let seg = VmcbSegment {
            selector: 0x10,
            attrib: SegmentAttributes::from_bits(0x0C93),
            limit: 0xFFFF_FFFF,
            base: 0x1122_3344_5566_7788,
        };
        let bytes = seg.as_bytes();
        assert_eq!(&bytes[0..2], &[0x10, 0x00]);
        assert_eq!(&bytes[2..4], &[0x93, 0x0C]);
        assert_eq!(&bytes[4..8], &[0xFF; 4]);
        assert_eq!(&bytes[8..16], &0x1122_3344_5566_7788_u64.to_le_bytes());
    }
}
