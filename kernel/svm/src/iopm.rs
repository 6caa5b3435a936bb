//! The I/O permission map (IOPM): which IN/OUT accesses exit when the
//! `IOIO_PROT` intercept is on.
//!
//! APM §15.10.1 ("I/O Permissions Map"): 12 KiB, 4 KiB-aligned,
//! physically contiguous (`IOPM_BASE_PA` at control-area `040h`). Bit *n*
//! intercepts port *n*. An access of *s* bytes at port *p* exits if any
//! of bits *p* … *p*+*s*−1 is set, so the map has 64 Ki + 3 bits: the
//! three bits after port `FFFFh` (byte `2000h`, bits 0–2) catch a 2- or
//! 4-byte access that starts at `FFFDh`–`FFFFh` and runs past the end of
//! the port space. The rest of the third page is unused.
//!
//! Confirmed by QEMU (`helper_svm_check_io`: it reads the 16-bit word at
//! `IOPM_BASE_PA + port / 8` and tests `((1 << size) - 1) << (port & 7)`,
//! which reaches byte `2000h` for port `FFFFh`) and Xen/Linux (`IOPM_SIZE`
//! 12 KiB). The "64K + 3 bits" wording is from memory of the APM;
//! **Unconfirmed** beyond QEMU's arithmetic.

use core::ops::RangeInclusive;

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::ioio::IoAccessSize;

/// Size of the map.
pub const IOPM_SIZE: usize = 0x3000;

/// Index of the first bit after port `FFFFh`.
const WRAP_BIT: u32 = 0x1_0000;

/// How many bits follow port `FFFFh`: a 4-byte access at `FFFFh` touches
/// three of them.
const WRAP_BITS: u32 = 3;

/// The I/O permission map (12 KiB).
#[derive(Clone, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C, align(4096))]
pub struct IoPermissionMap {
    bytes: [u8; IOPM_SIZE],
}

const _: () = assert!(size_of::<IoPermissionMap>() == IOPM_SIZE);
const _: () = assert!(((WRAP_BIT + WRAP_BITS - 1) / 8) < IOPM_SIZE as u32);

impl IoPermissionMap {
    /// A map that intercepts every port access (all bits set).
    #[must_use]
    pub const fn intercept_all() -> Self {
        Self {
            bytes: [0xFF; IOPM_SIZE],
        }
    }

    /// A map that passes every port through, except that accesses which
    /// run past port `FFFFh` still exit (the three extra bits stay set;
    /// see [`intercept_wraparound`](Self::intercept_wraparound)).
    #[must_use]
    pub const fn pass_through_all() -> Self {
        let mut map = Self {
            bytes: [0; IOPM_SIZE],
        };
        map.intercept_wraparound(true);
        map
    }

    /// Intercepts (`true`) or passes through (`false`) every port in
    /// `ports`.
    ///
    /// The bits after port `FFFFh` are not touched, even when `ports`
    /// ends at `FFFFh`: a multi-byte access that runs past the port space
    /// is governed by [`intercept_wraparound`](Self::intercept_wraparound).
    pub fn intercept(&mut self, ports: RangeInclusive<u16>, on: bool) {
        for port in ports {
            self.set_bit(u32::from(port), on);
        }
    }

    /// Intercepts (`true`) or passes through (`false`) the part of a 2- or
    /// 4-byte access that lies beyond port `FFFFh`.
    pub const fn intercept_wraparound(&mut self, on: bool) {
        let mut i = 0;
        while i < WRAP_BITS {
            self.set_bit(WRAP_BIT + i, on);
            i += 1;
        }
    }

    /// Whether an access of `size` bytes starting at `port` exits
    /// (assuming `IOIO_PROT` is on), checking every port it touches as
    /// the processor does.
    #[must_use]
    pub const fn is_intercepted(&self, port: u16, size: IoAccessSize) -> bool {
        let first = port as u32;
        let mut bit = first;
        while bit < first + size.bytes() {
            if self.bit(bit) {
                return true;
            }
            bit += 1;
        }
        false
    }

    /// The map's bytes, to copy into the frames `IOPM_BASE_PA` names.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; IOPM_SIZE] {
        &self.bytes
    }

    const fn bit(&self, index: u32) -> bool {
        self.bytes[(index / 8) as usize] & (1 << (index % 8)) != 0
    }

    const fn set_bit(&mut self, index: u32, on: bool) {
        let byte = (index / 8) as usize;
        let mask = 1_u8 << (index % 8);
        if on {
            self.bytes[byte] |= mask;
        } else {
            self.bytes[byte] &= !mask;
        }
    }
}

impl core::fmt::Debug for IoPermissionMap {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let set: u32 = self.bytes[..=(WRAP_BIT / 8) as usize]
            .iter()
            .map(|b| b.count_ones())
            .sum();
        f.debug_struct("IoPermissionMap")
            .field("bits_set", &set)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::boxed::Box;

    use super::*;
    use IoAccessSize::{Byte, Dword, Word};

    #[test]
    fn single_port_bits() {
        let mut map = Box::new(IoPermissionMap::pass_through_all());
        map.intercept(0x3F8..=0x3FF, true);
        // Port 0x3F8 is bit 0 of byte 0x7F.
        assert_eq!(map.as_bytes()[0x7F], 0xFF);
        assert!(map.is_intercepted(0x3F8, Byte));
        assert!(!map.is_intercepted(0x3F7, Byte));
        assert!(!map.is_intercepted(0x400, Dword));
        map.intercept(0x3F9..=0x3FF, false);
        assert_eq!(map.as_bytes()[0x7F], 0x01);
        assert!(!map.is_intercepted(0x3F9, Word));
    }

    #[test]
    fn multi_byte_access_spanning_ports() {
        let mut map = Box::new(IoPermissionMap::pass_through_all());
        map.intercept(0x71..=0x71, true);
        assert!(!map.is_intercepted(0x70, Byte));
        assert!(map.is_intercepted(0x70, Word), "0x70..0x71 touches 0x71");
        assert!(map.is_intercepted(0x6E, Dword), "0x6E..0x71");
        assert!(!map.is_intercepted(0x6D, Dword), "0x6D..0x70");
        assert!(!map.is_intercepted(0x72, Dword));
        // Across a byte boundary of the map: ports 0xCFE..0xD01.
        map.intercept(0xD00..=0xD00, true);
        assert!(map.is_intercepted(0xCFE, Dword));
        assert!(!map.is_intercepted(0xCFC, Dword));
    }

    #[test]
    fn accesses_past_port_ffff() {
        let mut map = Box::new(IoPermissionMap::pass_through_all());
        // The three wrap bits live in byte 0x2000 (the third page).
        assert_eq!(map.as_bytes()[0x2000], 0b111);
        assert!(!map.is_intercepted(0xFFFF, Byte));
        assert!(map.is_intercepted(0xFFFF, Word));
        assert!(map.is_intercepted(0xFFFD, Dword));
        assert!(!map.is_intercepted(0xFFFC, Dword), "ends at 0xFFFF");

        map.intercept_wraparound(false);
        assert!(!map.is_intercepted(0xFFFF, Dword));
        assert!(map.as_bytes().iter().all(|&b| b == 0));

        map.intercept(0xFFFF..=0xFFFF, true);
        assert_eq!(map.as_bytes()[0x1FFF], 0x80);
        assert!(map.is_intercepted(0xFFFF, Byte));
        assert!(map.is_intercepted(0xFFFC, Dword));
        assert_eq!(map.as_bytes()[0x2000], 0, "range does not touch wrap bits");
    }

    #[test]
    fn whole_port_space() {
        let mut map = Box::new(IoPermissionMap::pass_through_all());
        map.intercept(0..=0xFFFF, true);
        assert!(map.as_bytes()[..0x2000].iter().all(|&b| b == 0xFF));
        assert!(map.as_bytes()[0x2001..].iter().all(|&b| b == 0));
        map.intercept(0..=0xFFFF, false);
        assert!(map.as_bytes()[..0x2000].iter().all(|&b| b == 0));
        let all = Box::new(IoPermissionMap::intercept_all());
        assert!(all.is_intercepted(0, Byte));
        assert_eq!(all.as_bytes().len(), 12 * 1024);
    }
}
