//! Input (and output) parameter blocks of the hypercalls that Tessera
//! handles on its fast paths: event signalling, message posting, spin-wait
//! notification, virtual TLB flushes, synthetic cluster IPIs, and the
//! extended-capabilities query.
//!
//! Each block is laid out exactly as its "Input Parameters" table; for a
//! fast (register) call the same bytes travel in RDX, R8 and XMM0–XMM5 in
//! order.

use bitfield_struct::bitfield;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::message::{HV_MESSAGE_MAX_PAYLOAD_BYTE_COUNT, HvMessageType};
use crate::synic::HvConnectionId;
use crate::types::{HvGva, HvInputVtl};

/// Input of `HvCallSignalEvent` (8 bytes; fits one register as a fast call).
///
/// TLFS md `hypercalls/HvCallSignalEvent.md` § Input Parameters.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct HvInputSignalEvent {
    /// `ConnectionId` (offset 0).
    pub connection_id: HvConnectionId,
    /// `FlagNumber` (offset 4): event flag index relative to the port's
    /// base flag number.
    pub flag_number: u16,
    /// RsvdZ (offset 6).
    pub rsvd_z: u16,
}

const _: () = assert!(size_of::<HvInputSignalEvent>() == 8);
const _: () = assert!(core::mem::offset_of!(HvInputSignalEvent, flag_number) == 4);

/// Input of `HvCallPostMessage` (256 bytes).
///
/// TLFS md `hypercalls/HvCallPostMessage.md` § Input Parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct HvInputPostMessage {
    /// `ConnectionId` (offset 0).
    pub connection_id: HvConnectionId,
    /// RsvdZ (offset 4).
    pub rsvd_z: u32,
    /// `MessageType` (offset 8): non-zero, most significant bit clear.
    pub message_type: HvMessageType,
    /// `PayloadSize` (offset 12): at most 240.
    pub payload_size: u32,
    /// `Message` (offset 16): only the first `payload_size` bytes are sent.
    pub message: [u8; HV_MESSAGE_MAX_PAYLOAD_BYTE_COUNT],
}

const _: () = assert!(size_of::<HvInputPostMessage>() == 256);
const _: () = assert!(core::mem::offset_of!(HvInputPostMessage, message_type) == 8);
const _: () = assert!(core::mem::offset_of!(HvInputPostMessage, payload_size) == 12);
const _: () = assert!(core::mem::offset_of!(HvInputPostMessage, message) == 16);

/// Input of `HvCallNotifyLongSpinWait` (8 bytes).
///
/// TLFS md `hypercalls/HvCallNotifyLongSpinWait.md` § Input Parameters (the
/// page's C prototype types `SpinCount` as `UINT64`, its table as 4 bytes
/// followed by 4 RsvdZ bytes; this follows the table).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct HvInputNotifyLongSpinWait {
    /// `SpinCount` (offset 0).
    pub spin_count: u32,
    /// RsvdZ (offset 4).
    pub rsvd_z: u32,
}

const _: () = assert!(size_of::<HvInputNotifyLongSpinWait>() == 8);

/// `HV_FLUSH_FLAGS`: flags of the virtual TLB flush hypercalls.
///
/// Values: TLFS 6.0b §9.3 (`#define HV_FLUSH_…`); meanings: TLFS md
/// `hypercalls/HvCallFlushVirtualAddressSpace.md`. All other bits are
/// reserved and must be zero.
#[bitfield(u64)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvFlushFlags {
    /// `HV_FLUSH_ALL_PROCESSORS` (`0x1`): ignore the processor mask/set.
    pub all_processors: bool,
    /// `HV_FLUSH_ALL_VIRTUAL_ADDRESS_SPACES` (`0x2`): ignore the address
    /// space.
    pub all_virtual_address_spaces: bool,
    /// `HV_FLUSH_NON_GLOBAL_MAPPINGS_ONLY` (`0x4`): global mappings may be
    /// kept (invalid for the list forms).
    pub non_global_mappings_only: bool,
    /// `HV_FLUSH_USE_EXTENDED_RANGE_FORMAT` (`0x8`).
    pub use_extended_range_format: bool,
    #[bits(60)]
    __reserved: u64,
}

impl HvFlushFlags {
    /// The reserved bits 63:4.
    pub const RESERVED_MASK: u64 = !0xF;
}

/// `HV_ADDRESS_SPACE_ID`: an address space (CR3 on x64).
///
/// TLFS md `hypercalls/HvCallFlushVirtualAddressSpace.md`.
pub type HvAddressSpaceId = u64;

/// Input of `HvCallFlushVirtualAddressSpace` (24 bytes) and the fixed
/// header of `HvCallFlushVirtualAddressList` (followed by one [`HvGva`]
/// range per rep).
///
/// TLFS md `hypercalls/HvCallFlushVirtualAddressSpace.md` and
/// `HvCallFlushVirtualAddressList.md` § Input Parameters.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct HvInputFlushVirtualAddressSpace {
    /// `AddressSpace` (offset 0).
    pub address_space: HvAddressSpaceId,
    /// `Flags` (offset 8).
    pub flags: HvFlushFlags,
    /// `ProcessorMask` (offset 16): bit n selects VP index n.
    pub processor_mask: u64,
}

const _: () = assert!(size_of::<HvInputFlushVirtualAddressSpace>() == 24);
const _: () = assert!(core::mem::offset_of!(HvInputFlushVirtualAddressSpace, flags) == 8);
const _: () = assert!(core::mem::offset_of!(HvInputFlushVirtualAddressSpace, processor_mask) == 16);

/// One rep element of `HvCallFlushVirtualAddressList`: a page-aligned GVA
/// whose low 12 bits count the *additional* pages of the range (1 to 4096
/// pages per entry).
///
/// TLFS md `hypercalls/HvCallFlushVirtualAddressList.md`.
pub type HvGvaRange = HvGva;

/// Fixed header of `HvCallFlushVirtualAddressSpaceEx` /
/// `HvCallFlushVirtualAddressListEx`; an `HV_VP_SET` follows at offset 16.
///
/// TLFS md `hypercalls/HvCallFlushVirtualAddressSpaceEx.md` § Input
/// Parameters.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct HvInputFlushVirtualAddressSpaceExHeader {
    /// `AddressSpace` (offset 0).
    pub address_space: HvAddressSpaceId,
    /// `Flags` (offset 8).
    pub flags: HvFlushFlags,
}

const _: () = assert!(size_of::<HvInputFlushVirtualAddressSpaceExHeader>() == 16);

/// Input of `HvCallSendSyntheticClusterIpi` (16 bytes).
///
/// TLFS md `hypercalls/HvCallSendSyntheticClusterIpi.md` § Input Parameters
/// (the table gives `ProcessorMask` a size of 1; the prototype's `UINT64`
/// and the 8-byte alignment make it 8).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct HvInputSendSyntheticClusterIpi {
    /// `Vector` (offset 0): 0x10–0xFF.
    pub vector: u32,
    /// `TargetVtl` (offset 4).
    pub target_vtl: HvInputVtl,
    /// Padding (offset 5).
    pub padding: [u8; 3],
    /// `ProcessorMask` (offset 8).
    pub processor_mask: u64,
}

const _: () = assert!(size_of::<HvInputSendSyntheticClusterIpi>() == 16);
const _: () = assert!(core::mem::offset_of!(HvInputSendSyntheticClusterIpi, target_vtl) == 4);
const _: () = assert!(core::mem::offset_of!(HvInputSendSyntheticClusterIpi, processor_mask) == 8);

/// Fixed header of `HvCallSendSyntheticClusterIpiEx`; an `HV_VP_SET`
/// follows at offset 8.
///
/// TLFS md `hypercalls/HvCallSendSyntheticClusterIpiEx.md`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct HvInputSendSyntheticClusterIpiExHeader {
    /// `Vector` (offset 0).
    pub vector: u32,
    /// `TargetVtl` (offset 4).
    pub target_vtl: HvInputVtl,
    /// Padding (offset 5).
    pub padding: [u8; 3],
}

const _: () = assert!(size_of::<HvInputSendSyntheticClusterIpiExHeader>() == 8);

/// `HV_GENERIC_SET_FORMAT`: the `Format` of an `HV_VP_SET`.
///
/// TLFS 6.0b §7.8.7.3 (Virtual Processor Set).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(transparent)]
pub struct HvGenericSetFormat(pub u64);

impl HvGenericSetFormat {
    /// `HvGenericSetSparse4k` (0): banks of 64 VPs selected by
    /// `ValidBanksMask`.
    pub const SPARSE_4K: Self = Self(0);
    /// `HvGenericSetAll` (1): every VP of the partition.
    pub const ALL: Self = Self(1);
}

/// The fixed part of `HV_VP_SET`; `BankContents[]` (one `u64` per bit set
/// in `valid_banks_mask`, bank *n* covering VP indices 64n..64n+63)
/// follows.
///
/// TLFS 6.0b §7.8.7.3–§7.8.7.5; TLFS md `datatypes/hv_vp_set.md`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct HvVpSetHeader {
    /// `Format`.
    pub format: HvGenericSetFormat,
    /// `ValidBanksMask`.
    pub valid_banks_mask: u64,
}

const _: () = assert!(size_of::<HvVpSetHeader>() == 16);

/// Output of `HvExtCallQueryCapabilities`: which extended hypercalls are
/// available.
///
/// TLFS 6.0b §3.14 (HvExtCallQueryCapabilities) (the Markdown page lists the same bits).
#[bitfield(u64)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvExtendedCapabilities {
    /// Bit 0: `HvExtCallGetBootZeroedMemory` (0x8002).
    pub get_boot_zeroed_memory: bool,
    /// Bit 1: `HvExtCallMemoryHeatHint` (0x8003).
    pub memory_heat_hint: bool,
    /// Bit 2: `HvExtCallEpfSetup` (0x8004).
    pub epf_setup: bool,
    /// Bit 3: `HvExtCallSchedulerAssistSetup` (0x8005).
    pub scheduler_assist_setup: bool,
    /// Bit 4: `HvExtCallMemoryHeatHintAsync` (0x8006).
    pub memory_heat_hint_async: bool,
    #[bits(59)]
    __reserved: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::IntoBytes;

    #[test]
    fn flush_flags_values() {
        // TLFS 6.0b §9.3 #defines.
        assert_eq!(
            HvFlushFlags::new().with_all_processors(true).into_bits(),
            0x1
        );
        assert_eq!(
            HvFlushFlags::new()
                .with_all_virtual_address_spaces(true)
                .into_bits(),
            0x2
        );
        assert_eq!(
            HvFlushFlags::new()
                .with_non_global_mappings_only(true)
                .into_bits(),
            0x4
        );
        assert_eq!(
            HvFlushFlags::new()
                .with_use_extended_range_format(true)
                .into_bits(),
            0x8
        );
        assert_eq!(HvFlushFlags::RESERVED_MASK, 0xFFFF_FFFF_FFFF_FFF0);
    }

    #[test]
    fn signal_event_bytes() {
        let input = HvInputSignalEvent {
            connection_id: HvConnectionId::new().with_id(0x12_3456),
            flag_number: 0x0102,
            rsvd_z: 0,
        };
        assert_eq!(
            input.as_bytes(),
            &[0x56, 0x34, 0x12, 0x00, 0x02, 0x01, 0x00, 0x00]
        );
        // As a fast call the whole block is RDX.
        assert_eq!(
            u64::from_le_bytes(input.as_bytes().try_into().unwrap()),
            0x0000_0102_0012_3456
        );
    }

    #[test]
    fn vp_set_example() {
        // TLFS 6.0b §7.8.7.5: {0, 5, 130} -> format 0, banks mask 0x05,
        // contents {0x21, 0x04}.
        let header = HvVpSetHeader {
            format: HvGenericSetFormat::SPARSE_4K,
            valid_banks_mask: 0x05,
        };
        assert_eq!(header.format.0, 0);
        assert_eq!(HvGenericSetFormat::ALL.0, 1);
        assert_eq!(header.as_bytes()[8], 0x05);
    }

    #[test]
    fn extended_capabilities_bits() {
        let caps = HvExtendedCapabilities::from_bits(0b1_0001);
        assert!(caps.get_boot_zeroed_memory());
        assert!(caps.memory_heat_hint_async());
        assert!(!caps.epf_setup());
    }
}
