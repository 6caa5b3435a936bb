//! The hypercall input value (RCX) and hypercall result value (RAX).

use bitfield_struct::bitfield;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use super::HypercallCode;
use crate::status::HvStatus;

/// The 64-bit *hypercall input value* (RCX on x64, EDX:EAX on x86).
///
/// TLFS md `hypercall-interface.md` § Hypercall Inputs:
///
/// | bits  | field |
/// | ----- | ----- |
/// | 15:0  | Call Code |
/// | 16    | Fast |
/// | 26:17 | Variable header size (QWORDs) |
/// | 30:27 | RsvdZ |
/// | 31    | Is Nested |
/// | 43:32 | Rep Count |
/// | 47:44 | RsvdZ |
/// | 59:48 | Rep Start Index |
/// | 63:60 | RsvdZ |
///
/// TLFS 6.0b §3.7 draws a different split: variable header size 25:17 (9
/// bits), Is Nested at bit 26, RsvdZ 31:27. This type follows the Markdown
/// edition (newer, and what Windows and Linux guests use); the difference
/// only matters for a guest that sets bit 26 or bit 31.
///
/// Every raw value converts; [`reserved_bits`](Self::reserved_bits) tells
/// whether a guest set an RsvdZ bit (which the TLFS answers with
/// `HV_STATUS_INVALID_HYPERCALL_INPUT`).
#[bitfield(u64)]
#[derive(PartialEq, Eq, Hash, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HypercallInputValue {
    /// Call Code (bits 15:0): which hypercall is requested.
    #[bits(16)]
    pub call_code: HypercallCode,
    /// Fast (bit 16): register-based calling convention.
    pub fast: bool,
    /// Variable header size (bits 26:17), in 8-byte units.
    #[bits(10)]
    pub variable_header_size: u16,
    /// RsvdZ (bits 30:27).
    #[bits(4)]
    __rsvd_z0: u8,
    /// Is Nested (bit 31): to be handled by the L0 hypervisor.
    pub is_nested: bool,
    /// Rep Count (bits 43:32): total number of reps (zero for simple calls).
    #[bits(12)]
    pub rep_count: u16,
    /// RsvdZ (bits 47:44).
    #[bits(4)]
    __rsvd_z1: u8,
    /// Rep Start Index (bits 59:48) (zero for simple calls).
    #[bits(12)]
    pub rep_start_index: u16,
    /// RsvdZ (bits 63:60).
    #[bits(4)]
    __rsvd_z2: u8,
}

impl HypercallInputValue {
    /// The RsvdZ bits: 30:27, 47:44 and 63:60.
    pub const RESERVED_MASK: u64 = 0xF000_F000_7800_0000;

    /// The RsvdZ bits that are set (zero if none).
    #[must_use]
    pub const fn reserved_bits(self) -> u64 {
        self.into_bits() & Self::RESERVED_MASK
    }

    /// `true` if any RsvdZ bit is set.
    #[must_use]
    pub const fn has_reserved_bits(self) -> bool {
        self.reserved_bits() != 0
    }
}

/// The 64-bit *hypercall result value* (RAX on x64, EDX:EAX on x86).
///
/// TLFS md `hypercall-interface.md` § Hypercall Outputs; TLFS 6.0b §3.8:
///
/// | bits  | field |
/// | ----- | ----- |
/// | 15:0  | Result (`HV_STATUS`) |
/// | 31:16 | Rsvd (callers ignore) |
/// | 43:32 | Reps completed |
/// | 63:44 | Rsvd (callers ignore) |
///
/// (The Markdown table prints the last row as "RsvdZ 63-40", overlapping
/// Reps completed; TLFS 6.0b gives 63:44 and a 20-bit width, which this
/// type follows.)
#[bitfield(u64)]
#[derive(PartialEq, Eq, Hash, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HypercallResultValue {
    /// Result (bits 15:0): success or failure.
    #[bits(16)]
    pub result: HvStatus,
    /// Rsvd (bits 31:16).
    #[bits(16)]
    __rsvd0: u16,
    /// Reps completed (bits 43:32): total, not relative to the rep start
    /// index.
    #[bits(12)]
    pub reps_completed: u16,
    /// Rsvd (bits 63:44).
    #[bits(20)]
    __rsvd1: u32,
}

impl HypercallResultValue {
    /// The reserved bits: 31:16 and 63:44.
    pub const RESERVED_MASK: u64 = 0xFFFF_F000_FFFF_0000;

    /// The reserved bits that are set (zero if none). A hypervisor should
    /// return zero here; a caller must ignore them.
    #[must_use]
    pub const fn reserved_bits(self) -> u64 {
        self.into_bits() & Self::RESERVED_MASK
    }

    /// `true` if any reserved bit is set.
    #[must_use]
    pub const fn has_reserved_bits(self) -> bool {
        self.reserved_bits() != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_fields_to_bits() {
        // HvCallFlushVirtualAddressList (0x0003), rep count 25, start 20,
        // variable header 2 QWORDs, nested:
        //   0x0003 | 2 << 17 | 1 << 31 | 25 << 32 | 20 << 48
        let v = HypercallInputValue::new()
            .with_call_code(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST)
            .with_variable_header_size(2)
            .with_is_nested(true)
            .with_rep_count(25)
            .with_rep_start_index(20);
        assert_eq!(v.into_bits(), 0x0014_0019_8004_0003);
        assert!(!v.has_reserved_bits());

        // Fast HvCallSignalEvent: 0x005D | 1 << 16.
        let v = HypercallInputValue::new()
            .with_call_code(HypercallCode::SIGNAL_EVENT)
            .with_fast(true);
        assert_eq!(v.into_bits(), 0x0000_0000_0001_005D);
    }

    #[test]
    fn input_bits_to_fields() {
        // Every field at its maximum: code 0xFFFF, fast, varhdr 0x3FF,
        // nested, rep count 0xFFF, rep start 0xFFF; no reserved bit.
        let v = HypercallInputValue::from_bits(0x0FFF_0FFF_87FF_FFFF);
        assert_eq!(v.call_code(), HypercallCode(0xFFFF));
        assert!(v.fast());
        assert_eq!(v.variable_header_size(), 0x3FF);
        assert!(v.is_nested());
        assert_eq!(v.rep_count(), 0xFFF);
        assert_eq!(v.rep_start_index(), 0xFFF);
        assert_eq!(v.reserved_bits(), 0);

        let v = HypercallInputValue::from_bits(0x0000_0001_0001_0050);
        assert_eq!(v.call_code(), HypercallCode::GET_VP_REGISTERS);
        assert!(v.fast());
        assert_eq!(v.rep_count(), 1);
        assert_eq!(v.rep_start_index(), 0);
        assert!(!v.is_nested());
    }

    #[test]
    fn input_reserved_bits() {
        // Exactly the RsvdZ bits, one at a time.
        for bit in (27..=30).chain(44..=47).chain(60..=63) {
            let v = HypercallInputValue::from_bits(1 << bit);
            assert_eq!(v.reserved_bits(), 1 << bit, "bit {bit}");
        }
        // No field bit is reserved.
        for bit in (0..=26).chain([31]).chain(32..=43).chain(48..=59) {
            let v = HypercallInputValue::from_bits(1 << bit);
            assert!(!v.has_reserved_bits(), "bit {bit}");
        }
        // Reserved bits survive a round trip through the type.
        assert_eq!(
            HypercallInputValue::from_bits(u64::MAX).into_bits(),
            u64::MAX
        );
    }

    #[test]
    fn unknown_code_in_input_value() {
        let v = HypercallInputValue::from_bits(0x0000_0000_0000_1234);
        assert_eq!(v.call_code().name(), None);
        assert_eq!(v.call_code().0, 0x1234);
    }

    #[test]
    fn result_fields() {
        // INVALID_HYPERCALL_INPUT (3) after 10 reps: 3 | 10 << 32.
        let r = HypercallResultValue::new()
            .with_result(HvStatus::INVALID_HYPERCALL_INPUT)
            .with_reps_completed(10);
        assert_eq!(r.into_bits(), 0x0000_000A_0000_0003);

        let r = HypercallResultValue::from_bits(0x0000_0FFF_0000_0018);
        assert_eq!(r.result(), HvStatus::INVALID_SYNIC_STATE);
        assert_eq!(r.reps_completed(), 0xFFF);
        assert!(!r.has_reserved_bits());

        let r = HypercallResultValue::from_bits(0x0000_1000_0001_0000);
        assert_eq!(r.reserved_bits(), 0x0000_1000_0001_0000);
        assert_eq!(r.reps_completed(), 0);
        assert_eq!(r.result(), HvStatus::SUCCESS);
    }
}
