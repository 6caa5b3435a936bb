//! The MSR permission map (MSRPM): which RDMSR/WRMSR accesses exit when
//! the `MSR_PROT` intercept is on.
//!
//! APM §15.11 ("MSR Intercepts"): 8 KiB, 4 KiB-aligned, physically
//! contiguous (`MSRPM_BASE_PA` at control-area `048h`). Two bits per MSR —
//! the even bit intercepts reads, the odd bit writes — in three 2 KiB
//! vectors:
//!
//! | map bytes | MSRs |
//! | --- | --- |
//! | `0000h`–`07FFh` | `0000_0000h`–`0000_1FFFh` |
//! | `0800h`–`0FFFh` | `C000_0000h`–`C000_1FFFh` |
//! | `1000h`–`17FFh` | `C001_0000h`–`C001_1FFFh` |
//! | `1800h`–`1FFFh` | reserved |
//!
//! An MSR outside the three ranges has no bits and is **always
//! intercepted** while `MSR_PROT` is on — every Hyper-V synthetic MSR
//! (`4000_0000h`…) among them (`svm-on-qemu.md`). Layout confirmed by QEMU
//! (`helper_svm_check_msr`: `t1 = msr * 2 / 8` with base offsets 0, 2048,
//! 4096 bytes, and an unconditional exit for other MSRs), Linux
//! (`msrpm_ranges` 0, `C000_0000h`, `C001_0000h`, 2 KiB each) and Xen
//! (`MSRPM_SIZE` 8 KiB).

use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout};

/// Size of the map.
pub const MSRPM_SIZE: usize = 0x2000;

/// The first MSR of each range the map covers, with the byte offset of
/// its vector.
const RANGES: [(u32, usize); 3] = [
    (0x0000_0000, 0x0000),
    (0xC000_0000, 0x0800),
    (0xC001_0000, 0x1000),
];

/// MSRs per range.
const MSRS_PER_RANGE: u32 = 0x2000;

/// An MSR access direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MsrAccess {
    /// RDMSR.
    Read,
    /// WRMSR.
    Write,
}

impl MsrAccess {
    /// Decodes `EXITINFO1` of `VMEXIT_MSR`: 0 for RDMSR, 1 for WRMSR
    /// (APM §15.11; QEMU passes 0/1, and `svm-on-qemu.md` saw 1 for a
    /// write). `None` for any other value.
    #[must_use]
    pub const fn from_exit_info1(exit_info1: u64) -> Option<Self> {
        match exit_info1 {
            0 => Some(Self::Read),
            1 => Some(Self::Write),
            _ => None,
        }
    }
}

/// What the map says about one MSR access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MsrInterception {
    /// The access exits (its bit is set).
    Intercepted,
    /// The access goes to the hardware MSR (its bit is clear).
    PassedThrough,
    /// The MSR is outside the map's ranges: the access always exits while
    /// `MSR_PROT` is on, and no bit can change that.
    AlwaysIntercepted,
}

/// Where an MSR's read bit is: byte `byte`, bit `bit` of the map; its
/// write bit is `bit + 1` of the same byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MsrBitPosition {
    /// Byte offset in the map.
    pub byte: usize,
    /// Bit of the read intercept (0, 2, 4 or 6).
    pub bit: u8,
}

/// The MSR is outside the map's ranges (see [`MsrInterception`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsrOutsideMap(pub u32);

/// The MSR permission map (8 KiB).
#[derive(Clone, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C, align(4096))]
pub struct MsrPermissionMap {
    bytes: [u8; MSRPM_SIZE],
}

const _: () = assert!(size_of::<MsrPermissionMap>() == MSRPM_SIZE);

impl MsrPermissionMap {
    /// A map that intercepts every access (all bits set, as Linux
    /// initialises its maps).
    #[must_use]
    pub const fn intercept_all() -> Self {
        Self {
            bytes: [0xFF; MSRPM_SIZE],
        }
    }

    /// A map that passes every MSR in its ranges through.
    #[must_use]
    pub fn pass_through_all() -> Self {
        Self::new_zeroed()
    }

    /// The position of `msr`'s read bit, or `None` outside the ranges.
    #[must_use]
    pub const fn bit_position(msr: u32) -> Option<MsrBitPosition> {
        let mut i = 0;
        while i < RANGES.len() {
            let (base, offset) = RANGES[i];
            if msr >= base && msr - base < MSRS_PER_RANGE {
                let bit_index = (msr - base) as usize * 2;
                return Some(MsrBitPosition {
                    byte: offset + bit_index / 8,
                    bit: (bit_index % 8) as u8,
                });
            }
            i += 1;
        }
        None
    }

    /// Intercepts (`true`) or passes through (`false`) one direction of
    /// one MSR.
    ///
    /// # Errors
    ///
    /// [`MsrOutsideMap`] if the MSR has no bits (it is always
    /// intercepted).
    pub const fn intercept(
        &mut self,
        msr: u32,
        access: MsrAccess,
        on: bool,
    ) -> Result<(), MsrOutsideMap> {
        let Some(pos) = Self::bit_position(msr) else {
            return Err(MsrOutsideMap(msr));
        };
        let mask = 1_u8 << (pos.bit + Self::direction_bit(access));
        if on {
            self.bytes[pos.byte] |= mask;
        } else {
            self.bytes[pos.byte] &= !mask;
        }
        Ok(())
    }

    /// [`intercept`](Self::intercept) for RDMSR.
    ///
    /// # Errors
    ///
    /// [`MsrOutsideMap`] if the MSR has no bits.
    pub const fn intercept_read(&mut self, msr: u32, on: bool) -> Result<(), MsrOutsideMap> {
        self.intercept(msr, MsrAccess::Read, on)
    }

    /// [`intercept`](Self::intercept) for WRMSR.
    ///
    /// # Errors
    ///
    /// [`MsrOutsideMap`] if the MSR has no bits.
    pub const fn intercept_write(&mut self, msr: u32, on: bool) -> Result<(), MsrOutsideMap> {
        self.intercept(msr, MsrAccess::Write, on)
    }

    /// Whether an access exits (assuming `MSR_PROT` is on; with it off, no
    /// MSR access exits).
    #[must_use]
    pub const fn is_intercepted(&self, msr: u32, access: MsrAccess) -> MsrInterception {
        let Some(pos) = Self::bit_position(msr) else {
            return MsrInterception::AlwaysIntercepted;
        };
        if self.bytes[pos.byte] & (1 << (pos.bit + Self::direction_bit(access))) != 0 {
            MsrInterception::Intercepted
        } else {
            MsrInterception::PassedThrough
        }
    }

    /// The map's bytes, to copy into the frames `MSRPM_BASE_PA` names.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; MSRPM_SIZE] {
        &self.bytes
    }

    const fn direction_bit(access: MsrAccess) -> u8 {
        match access {
            MsrAccess::Read => 0,
            MsrAccess::Write => 1,
        }
    }
}

impl core::fmt::Debug for MsrPermissionMap {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let set: u32 = self.bytes.iter().map(|b| b.count_ones()).sum();
        f.debug_struct("MsrPermissionMap")
            .field("bits_set", &set)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::boxed::Box;

    use super::*;

    const TSC: u32 = 0x10;
    const EFER: u32 = 0xC000_0080;
    const VM_HSAVE_PA: u32 = 0xC001_0117;
    const HV_X64_MSR_GUEST_OS_ID: u32 = 0x4000_0000;

    fn pos(byte: usize, bit: u8) -> Option<MsrBitPosition> {
        Some(MsrBitPosition { byte, bit })
    }

    #[test]
    fn bit_positions() {
        // MSR 0x10: bits 0x20/0x21 of the first vector → byte 4, bits 0/1.
        assert_eq!(MsrPermissionMap::bit_position(TSC), pos(0x004, 0));
        // EFER: second vector (0x800) + 0x80 * 2 / 8 = 0x820, bits 0/1.
        assert_eq!(MsrPermissionMap::bit_position(EFER), pos(0x820, 0));
        // VM_HSAVE_PA: third vector (0x1000) + 0x117 * 2 / 8 = 0x1045,
        // remainder 6 → bits 6/7.
        assert_eq!(MsrPermissionMap::bit_position(VM_HSAVE_PA), pos(0x1045, 6));
        // Range ends.
        assert_eq!(MsrPermissionMap::bit_position(0x1FFF), pos(0x7FF, 6));
        assert_eq!(MsrPermissionMap::bit_position(0xC000_0000), pos(0x800, 0));
        assert_eq!(MsrPermissionMap::bit_position(0xC001_1FFF), pos(0x17FF, 6));
        // Just outside.
        for msr in [
            0x2000,
            0xBFFF_FFFF,
            0xC000_2000,
            0xC000_FFFF,
            0xC001_2000,
            u32::MAX,
        ] {
            assert_eq!(MsrPermissionMap::bit_position(msr), None, "{msr:#x}");
        }
        assert_eq!(MsrPermissionMap::bit_position(HV_X64_MSR_GUEST_OS_ID), None);
    }

    #[test]
    fn set_and_query() {
        let mut map = Box::new(MsrPermissionMap::pass_through_all());
        assert_eq!(
            map.is_intercepted(TSC, MsrAccess::Write),
            MsrInterception::PassedThrough
        );
        map.intercept_write(TSC, true).unwrap();
        assert_eq!(map.as_bytes()[4], 0b10);
        assert_eq!(
            map.is_intercepted(TSC, MsrAccess::Write),
            MsrInterception::Intercepted
        );
        assert_eq!(
            map.is_intercepted(TSC, MsrAccess::Read),
            MsrInterception::PassedThrough
        );

        map.intercept_read(VM_HSAVE_PA, true).unwrap();
        map.intercept_write(VM_HSAVE_PA, true).unwrap();
        assert_eq!(map.as_bytes()[0x1045], 0b1100_0000);

        map.intercept_read(EFER, true).unwrap();
        assert_eq!(map.as_bytes()[0x820], 0b01);
        map.intercept_read(EFER, false).unwrap();
        assert_eq!(map.as_bytes()[0x820], 0);

        let set: u32 = map.as_bytes().iter().map(|b| b.count_ones()).sum();
        assert_eq!(set, 3, "nothing else was touched");
    }

    #[test]
    fn outside_the_ranges_is_always_intercepted() {
        let mut map = Box::new(MsrPermissionMap::pass_through_all());
        assert_eq!(
            map.is_intercepted(HV_X64_MSR_GUEST_OS_ID, MsrAccess::Read),
            MsrInterception::AlwaysIntercepted
        );
        assert_eq!(
            map.intercept_read(HV_X64_MSR_GUEST_OS_ID, false),
            Err(MsrOutsideMap(HV_X64_MSR_GUEST_OS_ID))
        );
        assert_eq!(
            map.intercept_write(0x4000_0073, true),
            Err(MsrOutsideMap(0x4000_0073))
        );
        assert!(map.as_bytes().iter().all(|&b| b == 0));
    }

    #[test]
    fn intercept_all_then_open() {
        let mut map = Box::new(MsrPermissionMap::intercept_all());
        assert_eq!(
            map.is_intercepted(EFER, MsrAccess::Read),
            MsrInterception::Intercepted
        );
        map.intercept_read(0x1B, false).unwrap();
        assert_eq!(
            map.is_intercepted(0x1B, MsrAccess::Read),
            MsrInterception::PassedThrough
        );
        assert_eq!(
            map.is_intercepted(0x1B, MsrAccess::Write),
            MsrInterception::Intercepted
        );
        assert_eq!(map.as_bytes().len(), 8192);
    }

    #[test]
    fn exit_info1() {
        assert_eq!(MsrAccess::from_exit_info1(0), Some(MsrAccess::Read));
        assert_eq!(MsrAccess::from_exit_info1(1), Some(MsrAccess::Write));
        assert_eq!(MsrAccess::from_exit_info1(2), None);
    }
}
