//! The synthetic interrupt controller (SynIC): its registers, the SINT
//! index, event flags and the event flags (SIEF) page, and the port and
//! connection identifiers that messages and events travel through.
//!
//! TLFS md `inter-partition-communication.md` § SynIC Registers and § SynIC
//! Event Flags; TLFS 6.0b §11.8–§11.10. The MSR *numbers* are in
//! [`crate::msr`].

use bitfield_struct::bitfield;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `HV_SYNIC_SINT_COUNT`: synthetic interrupt sources per VP.
///
/// TLFS 6.0b §11.10 (Synthetic Interrupt Sources); TLFS md `datatypes/hv_synic_sint_index.md`.
pub const HV_SYNIC_SINT_COUNT: usize = 16;

/// `HV_SYNIC_SINT_INDEX`: a SINT number, valid 0–15.
///
/// TLFS md `datatypes/hv_synic_sint_index.md`.
pub type HvSynicSintIndex = u32;

/// The SynIC version that SVERSION reports ("for the first version of the
/// hypervisor, the value is 0x00000001").
///
/// TLFS 6.0b §11.8 (SVERSION Register).
pub const HV_SYNIC_VERSION_1: u32 = 0x0000_0001;

/// `HV_EVENT_FLAGS_COUNT`: event flags per SINT.
///
/// TLFS md `datatypes/hv_synic_event_flags.md`.
pub const HV_EVENT_FLAGS_COUNT: usize = 256 * 8;

/// `HV_EVENT_FLAGS_BYTE_COUNT`.
///
/// TLFS md `datatypes/hv_synic_event_flags.md`.
pub const HV_EVENT_FLAGS_BYTE_COUNT: usize = 256;

/// `HV_SYNIC_EVENT_FLAGS`: 2048 flags; flag *n* is bit `n % 8` of byte
/// `n / 8`.
///
/// TLFS md `datatypes/hv_synic_event_flags.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct HvSynicEventFlags {
    /// `Flags[HV_EVENT_FLAGS_BYTE_COUNT]`.
    pub flags: [u8; HV_EVENT_FLAGS_BYTE_COUNT],
}

const _: () = assert!(size_of::<HvSynicEventFlags>() == 256);

impl HvSynicEventFlags {
    /// Whether event flag `flag` is set (`None` past the last flag).
    #[must_use]
    pub const fn flag(&self, flag: usize) -> Option<bool> {
        if flag < HV_EVENT_FLAGS_COUNT {
            Some(self.flags[flag / 8] & (1 << (flag % 8)) != 0)
        } else {
            None
        }
    }
}

/// The SynIC event flags page (SIEF page): one [`HvSynicEventFlags`] per
/// SINT.
///
/// TLFS md `inter-partition-communication.md` § SIEF Page; TLFS 6.0b §11.9.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct HvSynicEventFlagsPage {
    /// Element *n* belongs to SINT *n*.
    pub sint_event_flags: [HvSynicEventFlags; HV_SYNIC_SINT_COUNT],
}

const _: () = assert!(size_of::<HvSynicEventFlagsPage>() == crate::types::HV_PAGE_SIZE);

/// SCONTROL (`HV_X64_MSR_SCONTROL`): SynIC control. Reset value 0.
///
/// TLFS md `inter-partition-communication.md` § SCONTROL Register.
#[bitfield(u64)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvSynicScontrol {
    /// Enable (bit 0): message queuing and event flag notifications may be
    /// directed to this VP.
    pub enable: bool,
    /// RsvdP (bits 63:1).
    #[bits(63)]
    __rsvd_p: u64,
}

/// SVERSION (`HV_X64_MSR_SVERSION`): read-only SynIC version.
///
/// TLFS md `inter-partition-communication.md` § SVERSION Register.
#[bitfield(u64)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvSynicSversion {
    /// SynIC Version (bits 31:0); see [`HV_SYNIC_VERSION_1`].
    pub version: u32,
    /// RsvdP (bits 63:32).
    __rsvd_p: u32,
}

/// SIEFP (`HV_X64_MSR_SIEFP`): base of the event flags page. Reset value 0.
///
/// TLFS md `inter-partition-communication.md` § SIEFP Register.
#[bitfield(u64)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvSynicSiefp {
    /// SIEFP enable (bit 0).
    pub enable: bool,
    /// RsvdP (bits 11:1).
    #[bits(11)]
    __rsvd_p: u16,
    /// Base Address (bits 63:12): GPA page number of the SIEF page.
    #[bits(52)]
    pub base_gpn: u64,
}

/// SIMP (`HV_X64_MSR_SIMP`): base of the message page. Reset value 0.
///
/// TLFS md `inter-partition-communication.md` § SIMP Register.
#[bitfield(u64)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvSynicSimp {
    /// SIMP enable (bit 0).
    pub enable: bool,
    /// RsvdP (bits 11:1).
    #[bits(11)]
    __rsvd_p: u16,
    /// Base Address (bits 63:12): GPA page number of the SIM page.
    #[bits(52)]
    pub base_gpn: u64,
}

/// SINTx (`HV_X64_MSR_SINT0`..`SINT15`): one synthetic interrupt source.
///
/// TLFS md `inter-partition-communication.md` § SINTx Registers. Reset
/// value is [`HvSynicSint::RESET_VALUE`] (masked).
#[bitfield(u64)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvSynicSint {
    /// Vector (bits 7:0); valid 16–255.
    pub vector: u8,
    /// RsvdP (bits 15:8).
    __rsvd_p0: u8,
    /// Masked (bit 16).
    pub masked: bool,
    /// AutoEOI (bit 17): the hypervisor performs an implicit EOI.
    pub auto_eoi: bool,
    /// Polling (bit 18): unmasked, but no interrupt is generated.
    pub polling: bool,
    /// RsvdP (bits 63:19).
    #[bits(45)]
    __rsvd_p1: u64,
}

impl HvSynicSint {
    /// The value of every SINTx at VP creation: masked
    /// (`0x0000000000010000`).
    pub const RESET_VALUE: Self = Self::from_bits(0x0000_0000_0001_0000);
}

/// `HV_PORT_ID`: a 24-bit port identifier.
///
/// TLFS md `datatypes/hv_port_id.md`; TLFS 6.0b §11.10 (Ports).
#[bitfield(u32)]
#[derive(PartialEq, Eq, Hash, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvPortId {
    /// `Id` (bits 23:0).
    #[bits(24)]
    pub id: u32,
    /// `Reserved` (bits 31:24), must be zero.
    __reserved: u8,
}

/// `HV_CONNECTION_ID`: a 24-bit connection identifier.
///
/// TLFS md `datatypes/hv_connection_id.md`.
#[bitfield(u32)]
#[derive(PartialEq, Eq, Hash, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvConnectionId {
    /// `Id` (bits 23:0).
    #[bits(24)]
    pub id: u32,
    /// `Reserved` (bits 31:24), must be zero.
    __reserved: u8,
}

impl HvPortId {
    /// The high 8 bits, which must be zero.
    pub const RESERVED_MASK: u32 = 0xFF00_0000;
}

impl HvConnectionId {
    /// The high 8 bits, which must be zero.
    pub const RESERVED_MASK: u32 = 0xFF00_0000;
}

/// `HV_PORT_TYPE`.
///
/// TLFS 6.0b §11.10 (Ports) (message, event, monitor) and TLFS md
/// `datatypes/hv_port_type.md` (doorbell).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(transparent)]
pub struct HvPortType(pub u32);

impl HvPortType {
    /// `HvPortTypeMessage`: valid for `HvCallPostMessage`.
    pub const MESSAGE: Self = Self(1);
    /// `HvPortTypeEvent`: valid for `HvCallSignalEvent`.
    pub const EVENT: Self = Self(2);
    /// `HvPortTypeMonitor`: monitored notifications.
    pub const MONITOR: Self = Self(3);
    /// `HvPortTypeDoorbell`: low-latency notification.
    pub const DOORBELL: Self = Self(4);
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::FromZeros;

    #[test]
    fn sint_bits() {
        // Vector 0x30, AutoEOI: 0x30 | 1 << 17.
        let sint = HvSynicSint::new().with_vector(0x30).with_auto_eoi(true);
        assert_eq!(sint.into_bits(), 0x0000_0000_0002_0030);
        let sint = HvSynicSint::from_bits(0x0000_0000_0005_00FF);
        assert_eq!(sint.vector(), 0xFF);
        assert!(sint.masked());
        assert!(!sint.auto_eoi());
        assert!(sint.polling());
        assert!(HvSynicSint::RESET_VALUE.masked());
        assert_eq!(HvSynicSint::RESET_VALUE.vector(), 0);
        // RsvdP bits survive a round trip.
        assert_eq!(HvSynicSint::from_bits(u64::MAX).into_bits(), u64::MAX);
    }

    #[test]
    fn simp_siefp_bits() {
        // Page at GPA 0x1234_5000, enabled.
        let simp = HvSynicSimp::new().with_enable(true).with_base_gpn(0x1_2345);
        assert_eq!(simp.into_bits(), 0x0000_0000_1234_5001);
        let siefp = HvSynicSiefp::from_bits(0xFFFF_F000_0000_0001);
        assert!(siefp.enable());
        assert_eq!(siefp.base_gpn(), 0x000F_FFFF_0000_0000);
        let siefp = HvSynicSiefp::from_bits(0x0000_0000_0000_0FFE);
        assert!(!siefp.enable());
        assert_eq!(siefp.base_gpn(), 0);
    }

    #[test]
    fn scontrol_sversion_bits() {
        assert_eq!(HvSynicScontrol::new().with_enable(true).into_bits(), 1);
        assert!(!HvSynicScontrol::from_bits(0xFFFF_FFFF_FFFF_FFFE).enable());
        let v = HvSynicSversion::from_bits(0xDEAD_BEEF_0000_0001);
        assert_eq!(v.version(), HV_SYNIC_VERSION_1);
    }

    #[test]
    fn event_flags_numbering() {
        let mut flags = HvSynicEventFlags::new_zeroed();
        // Flag 9 is bit 1 of byte 1.
        flags.flags[1] = 0b10;
        assert_eq!(flags.flag(9), Some(true));
        assert_eq!(flags.flag(8), Some(false));
        assert_eq!(flags.flag(2047), Some(false));
        assert_eq!(flags.flag(2048), None);
        assert_eq!(HV_EVENT_FLAGS_COUNT, 2048);
    }

    #[test]
    fn event_flags_page_layout() {
        let mut page = HvSynicEventFlagsPage::new_zeroed();
        page.sint_event_flags[2].flags[0] = 1;
        assert_eq!(page.as_bytes()[512], 1);
        assert_eq!(size_of::<HvSynicEventFlagsPage>(), 4096);
    }

    #[test]
    fn port_and_connection_ids() {
        let id = HvConnectionId::from_bits(0xAB12_3456);
        assert_eq!(id.id(), 0x12_3456);
        assert_eq!(id.into_bits() & HvConnectionId::RESERVED_MASK, 0xAB00_0000);
        assert_eq!(HvPortId::new().with_id(0xFF_FFFF).into_bits(), 0x00FF_FFFF);
        assert_eq!(HvPortType::EVENT.0, 2);
    }
}
