//! GUIDs as VMBus sends them, and the device interface GUIDs Linux's
//! drivers match on.
//!
//! A GUID travels as Linux's `guid_t` built by `GUID_INIT(a, b, c, d0..d7)`:
//! `a` as 4 little-endian bytes, `b` and `c` as 2 little-endian bytes
//! each, then `d0..d7` as they are. The text form
//! `aaaaaaaa-bbbb-cccc-d0d1-d2d3d4d5d6d7` names the same fields.

use core::fmt;

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// A GUID in its wire layout.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(transparent)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// The all-zero GUID.
    pub const ZERO: Self = Self([0; 16]);

    /// The GUID `a-b-c-d[0..2]-d[2..8]` (`GUID_INIT`).
    #[must_use]
    pub const fn from_fields(a: u32, b: u16, c: u16, d: [u8; 8]) -> Self {
        let a = a.to_le_bytes();
        let b = b.to_le_bytes();
        let c = c.to_le_bytes();
        Self([
            a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d[0], d[1], d[2], d[3], d[4], d[5],
            d[6], d[7],
        ])
    }

    /// The first field.
    #[must_use]
    pub const fn data1(&self) -> u32 {
        u32::from_le_bytes([self.0[0], self.0[1], self.0[2], self.0[3]])
    }

    /// The second field.
    #[must_use]
    pub const fn data2(&self) -> u16 {
        u16::from_le_bytes([self.0[4], self.0[5]])
    }

    /// The third field.
    #[must_use]
    pub const fn data3(&self) -> u16 {
        u16::from_le_bytes([self.0[6], self.0[7]])
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.0[8..];
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            self.data1(),
            self.data2(),
            self.data3(),
            d[0],
            d[1],
            d[2],
            d[3],
            d[4],
            d[5],
            d[6],
            d[7]
        )
    }
}

/// Interface GUIDs (the offer's `if_type`) that Linux 6.1's `hv_utils`
/// driver binds (`drivers/hv/hv_util.c`, `id_table`; values from
/// `include/linux/hyperv.h`).
pub mod interface {
    use super::Guid;

    /// The shutdown IC, `{0e0b6031-5213-4934-818b-38d90ced39db}`
    /// (`HV_SHUTDOWN_GUID`).
    pub const SHUTDOWN: Guid = Guid::from_fields(
        0x0e0b_6031,
        0x5213,
        0x4934,
        [0x81, 0x8b, 0x38, 0xd9, 0x0c, 0xed, 0x39, 0xdb],
    );

    /// The time synchronisation IC, `{9527e630-d0ae-497b-adce-e80ab0175caf}`
    /// (`HV_TS_GUID`).
    pub const TIMESYNC: Guid = Guid::from_fields(
        0x9527_e630,
        0xd0ae,
        0x497b,
        [0xad, 0xce, 0xe8, 0x0a, 0xb0, 0x17, 0x5c, 0xaf],
    );

    /// The heartbeat IC, `{57164f39-9115-4e78-ab55-382f3bd5422d}`
    /// (`HV_HEART_BEAT_GUID`).
    pub const HEARTBEAT: Guid = Guid::from_fields(
        0x5716_4f39,
        0x9115,
        0x4e78,
        [0xab, 0x55, 0x38, 0x2f, 0x3b, 0xd5, 0x42, 0x2d],
    );

    /// The key-value pair IC, `{a9a0f4e7-5a45-4d96-b827-8a841e8c03e6}`
    /// (`HV_KVP_GUID`; not offered by Tessera).
    pub const KVP: Guid = Guid::from_fields(
        0xa9a0_f4e7,
        0x5a45,
        0x4d96,
        [0xb8, 0x27, 0x8a, 0x84, 0x1e, 0x8c, 0x03, 0xe6],
    );
}

/// Instance GUIDs (the offer's `if_instance`) Tessera gives its ICs. Any
/// value works for Linux, which binds on the interface; shutdown and time
/// sync use the instances OpenVMM's ICs have (`hyperv_ic_protocol`), the
/// heartbeat's is Tessera's own.
pub mod instance {
    use super::Guid;

    /// The shutdown IC's instance, `{b6650ff7-33bc-4840-8048-e0676786f393}`.
    pub const SHUTDOWN: Guid = Guid::from_fields(
        0xb665_0ff7,
        0x33bc,
        0x4840,
        [0x80, 0x48, 0xe0, 0x67, 0x67, 0x86, 0xf3, 0x93],
    );

    /// The time synchronisation IC's instance,
    /// `{2dd1ce17-079e-403c-b352-a1921ee207ee}`.
    pub const TIMESYNC: Guid = Guid::from_fields(
        0x2dd1_ce17,
        0x079e,
        0x403c,
        [0xb3, 0x52, 0xa1, 0x92, 0x1e, 0xe2, 0x07, 0xee],
    );

    /// The heartbeat IC's instance, `{fd149e91-82e0-4a7d-afa6-2a4166cbd7c0}`.
    pub const HEARTBEAT: Guid = Guid::from_fields(
        0xfd14_9e91,
        0x82e0,
        0x4a7d,
        [0xaf, 0xa6, 0x2a, 0x41, 0x66, 0xcb, 0xd7, 0xc0],
    );
}
