//! `EXITINFO1` of an IOIO intercept (`VMEXIT_IOIO`, `7Bh`).
//!
//! APM §15.10.2 ("IN and OUT Behavior"), Figure 15-2 (EXITINFO1 for IOIO
//! intercept):
//!
//! | bits | field |
//! | --- | --- |
//! | 0 | `TYPE`: 1 = IN, 0 = OUT |
//! | 1 | reserved |
//! | 2 | `STR`: string instruction (INS/OUTS) |
//! | 3 | `REP`: REP prefix |
//! | 6:4 | `SZ8`, `SZ16`, `SZ32`: operand size, one-hot |
//! | 9:7 | `A16`, `A32`, `A64`: address size, one-hot |
//! | 12:10 | `SEG`: effective segment of a string instruction (decode assists) |
//! | 15:13 | reserved |
//! | 31:16 | `PORT` |
//!
//! Bits 0–9 and the port: confirmed by Linux (`SVM_IOIO_*`), QEMU
//! (`SVM_IOIO_*`; TCG builds the value this way) and Xen (`ioio_info_t`).
//! `SEG` at 12:10: Xen only (its `io` view of `exitinfo1`);
//! **Unconfirmed** by a second source. `EXITINFO2` holds the RIP of the
//! next instruction.

use bitfield_struct::bitfield;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// The raw `EXITINFO1` of an IOIO intercept.
#[bitfield(u64)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct IoioExitInfo {
    /// `TYPE` (bit 0): 1 for IN, 0 for OUT.
    pub is_in: bool,
    #[bits(1)]
    __reserved0: u8,
    /// `STR` (bit 2).
    pub string: bool,
    /// `REP` (bit 3).
    pub rep: bool,
    /// `SZ8`/`SZ16`/`SZ32` (bits 6:4), one-hot.
    #[bits(3)]
    pub size_bits: u8,
    /// `A16`/`A32`/`A64` (bits 9:7), one-hot.
    #[bits(3)]
    pub address_size_bits: u8,
    /// `SEG` (bits 12:10): 0 ES, 1 CS, 2 SS, 3 DS, 4 FS, 5 GS.
    #[bits(3)]
    pub segment: u8,
    #[bits(3)]
    __reserved1: u8,
    /// `PORT` (bits 31:16).
    pub port: u16,
    #[bits(32)]
    __reserved2: u32,
}

/// The operand size of a port access; also the number of consecutive
/// ports it touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IoAccessSize {
    /// One byte (`SZ8`).
    Byte = 1,
    /// Two bytes (`SZ16`).
    Word = 2,
    /// Four bytes (`SZ32`).
    Dword = 4,
}

impl IoAccessSize {
    /// The size in bytes (1, 2 or 4).
    #[must_use]
    pub const fn bytes(self) -> u32 {
        self as u32
    }
}

/// The address size of a string port access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IoAddressSize {
    /// 16-bit addressing (`A16`).
    A16,
    /// 32-bit addressing (`A32`).
    A32,
    /// 64-bit addressing (`A64`).
    A64,
}

/// A decoded IOIO intercept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IoAccess {
    /// The first port accessed.
    pub port: u16,
    /// IN (`true`) or OUT (`false`).
    pub is_in: bool,
    /// The operand size.
    pub size: IoAccessSize,
    /// INS/OUTS.
    pub string: bool,
    /// REP prefix.
    pub rep: bool,
    /// The address size, if the processor reported one.
    pub address_size: Option<IoAddressSize>,
    /// The effective segment (meaningful for string instructions with
    /// decode assists only).
    pub segment: u8,
}

/// Why an IOIO `EXITINFO1` could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoioDecodeError {
    /// `SZ8`/`SZ16`/`SZ32` is not exactly one bit (the raw bits 6:4).
    Size(u8),
    /// More than one of `A16`/`A32`/`A64` is set (the raw bits 9:7).
    AddressSize(u8),
}

impl IoioExitInfo {
    /// Reserved bits (1, 15:13, 63:32).
    pub const RESERVED_MASK: u64 = 0xFFFF_FFFF_0000_E002;

    /// Decodes the fields.
    ///
    /// Reserved bits are ignored. The address size is `None` when no
    /// `A*` bit is set.
    ///
    /// # Errors
    ///
    /// [`IoioDecodeError`] when the size or address-size bits are not
    /// one-hot.
    pub const fn decode(self) -> Result<IoAccess, IoioDecodeError> {
        let size = match self.size_bits() {
            0b001 => IoAccessSize::Byte,
            0b010 => IoAccessSize::Word,
            0b100 => IoAccessSize::Dword,
            other => return Err(IoioDecodeError::Size(other)),
        };
        let address_size = match self.address_size_bits() {
            0 => None,
            0b001 => Some(IoAddressSize::A16),
            0b010 => Some(IoAddressSize::A32),
            0b100 => Some(IoAddressSize::A64),
            other => return Err(IoioDecodeError::AddressSize(other)),
        };
        Ok(IoAccess {
            port: self.port(),
            is_in: self.is_in(),
            size,
            string: self.string(),
            rep: self.rep(),
            address_size,
            segment: self.segment(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_byte_to_the_serial_port() {
        // OUT DX, AL to 0x3F8 from 64-bit code: SZ8 (bit 4), A64 (bit 9).
        let raw = IoioExitInfo::from_bits((0x3F8 << 16) | (1 << 4) | (1 << 9));
        let access = raw.decode().unwrap();
        assert_eq!(access.port, 0x3F8);
        assert!(!access.is_in);
        assert_eq!(access.size, IoAccessSize::Byte);
        assert_eq!(access.address_size, Some(IoAddressSize::A64));
        assert!(!access.string && !access.rep);
    }

    #[test]
    fn rep_insw() {
        // REP INSW from port 0x1F0 with 32-bit addressing, segment ES.
        let raw = (0x1F0 << 16) | 1 | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8);
        let access = IoioExitInfo::from_bits(raw).decode().unwrap();
        assert_eq!(access.port, 0x1F0);
        assert!(access.is_in && access.string && access.rep);
        assert_eq!(access.size, IoAccessSize::Word);
        assert_eq!(access.size.bytes(), 2);
        assert_eq!(access.address_size, Some(IoAddressSize::A32));
        assert_eq!(access.segment, 0);
    }

    #[test]
    fn dword_in_and_segment() {
        let raw = (0xCFC << 16) | 1 | (1 << 6) | (1 << 7) | (3 << 10);
        let access = IoioExitInfo::from_bits(raw).decode().unwrap();
        assert_eq!(access.size, IoAccessSize::Dword);
        assert_eq!(access.address_size, Some(IoAddressSize::A16));
        assert_eq!(access.segment, 3);
        assert_eq!(access.port, 0xCFC);
    }

    #[test]
    fn rejects_bad_sizes() {
        assert_eq!(
            IoioExitInfo::from_bits(0x3F8 << 16).decode(),
            Err(IoioDecodeError::Size(0))
        );
        assert_eq!(
            IoioExitInfo::from_bits((0x3F8 << 16) | (0b011 << 4)).decode(),
            Err(IoioDecodeError::Size(0b011))
        );
        assert_eq!(
            IoioExitInfo::from_bits((1 << 4) | (0b110 << 7)).decode(),
            Err(IoioDecodeError::AddressSize(0b110))
        );
    }

    #[test]
    fn reserved_mask_matches_the_fields() {
        let all_fields = IoioExitInfo::new()
            .with_is_in(true)
            .with_string(true)
            .with_rep(true)
            .with_size_bits(7)
            .with_address_size_bits(7)
            .with_segment(7)
            .with_port(0xFFFF)
            .into_bits();
        assert_eq!(all_fields, !IoioExitInfo::RESERVED_MASK);
    }
}
