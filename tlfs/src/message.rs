//! SynIC messages: `HV_MESSAGE`, its header, flags and type, and the SynIC
//! message (SIM) page.
//!
//! TLFS md `datatypes/hv_message.md`, `datatypes/hv_message_type.md`,
//! `inter-partition-communication.md` § SIM Page; TLFS 6.0b §11.10.

use bitfield_struct::bitfield;
use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout};

use crate::synic::{HV_SYNIC_SINT_COUNT, HvPortId};
use crate::types::HvPartitionId;
use tessera_open_enum::open_enum;

/// `HV_MESSAGE_SIZE`: every SynIC message is 256 bytes.
///
/// TLFS md `datatypes/hv_message.md`.
pub const HV_MESSAGE_SIZE: usize = 256;

/// `HV_MESSAGE_MAX_PAYLOAD_BYTE_COUNT`.
///
/// TLFS md `datatypes/hv_message.md`.
pub const HV_MESSAGE_MAX_PAYLOAD_BYTE_COUNT: usize = 240;

/// `HV_MESSAGE_MAX_PAYLOAD_QWORD_COUNT`.
///
/// TLFS md `datatypes/hv_message.md`.
pub const HV_MESSAGE_MAX_PAYLOAD_QWORD_COUNT: usize = 30;

/// `HV_MESSAGE_TYPE_HYPERVISOR_MASK`: message types with this bit set are
/// reserved for the hypervisor; a guest cannot post them.
///
/// TLFS md `datatypes/hv_message_type.md`.
pub const HV_MESSAGE_TYPE_HYPERVISOR_MASK: u32 = 0x8000_0000;

open_enum! {
    name;
    /// `HV_MESSAGE_TYPE` (32 bits).
    ///
    /// Values: TLFS md `datatypes/hv_message_type.md`, plus the three that
    /// only TLFS 6.0b §11.10 (SynIC Message Types) lists (`TlbPageSizeMismatch`,
    /// `EventLogBuffersComplete`, `X64LegacyFpError`). Open: a guest posts
    /// any 32-bit type with the high bit clear.
    pub struct HvMessageType(u32);

    /// The message slot is empty.
    NONE = 0x0000_0000 => "HvMessageTypeNone",
    /// Access to an unmapped GPA.
    UNMAPPED_GPA = 0x8000_0000 => "HvMessageTypeUnmappedGpa",
    /// GPA access-rights intercept.
    GPA_INTERCEPT = 0x8000_0001 => "HvMessageTypeGpaIntercept",
    /// Access to an unaccepted GPA.
    UNACCEPTED_GPA = 0x8000_0003 => "HvMessageTypeUnacceptedGpa",
    /// GPA attribute intercept.
    GPA_ATTRIBUTE_INTERCEPT = 0x8000_0004 => "HvMessageTypeGpaAttributeIntercept",
    /// A synthetic timer expired (payload: `HV_TIMER_MESSAGE_PAYLOAD`).
    TIMER_EXPIRED = 0x8000_0010 => "HvMessageTimerExpired",
    /// Invalid VP register value.
    INVALID_VP_REGISTER_VALUE = 0x8000_0020 => "HvMessageTypeInvalidVpRegisterValue",
    /// Unrecoverable exception.
    UNRECOVERABLE_EXCEPTION = 0x8000_0021 => "HvMessageTypeUnrecoverableException",
    /// Unsupported feature.
    UNSUPPORTED_FEATURE = 0x8000_0022 => "HvMessageTypeUnsupportedFeature",
    /// TLB page size mismatch (TLFS 6.0b §11.10 (SynIC Message Types) only).
    TLB_PAGE_SIZE_MISMATCH = 0x8000_0023 => "HvMessageTypeTlbPageSizeMismatch",
    /// Opaque intercept (details via the intercept page).
    OPAQUE_INTERCEPT = 0x8000_003F => "HvMessageTypeOpaqueIntercept",
    /// Event log buffers complete (TLFS 6.0b §11.10 (SynIC Message Types) only).
    EVENT_LOG_BUFFERS_COMPLETE = 0x8000_0040 => "HvMessageTypeEventLogBuffersComplete",
    /// Hypercall intercept.
    HYPERCALL_INTERCEPT = 0x8000_0050 => "HvMessageTypeHypercallIntercept",
    /// SynIC event intercept.
    SYNIC_EVENT_INTERCEPT = 0x8000_0060 => "HvMessageTypeSynicEventIntercept",
    /// SynIC SINT intercept.
    SYNIC_SINT_INTERCEPT = 0x8000_0061 => "HvMessageTypeSynicSintIntercept",
    /// SynIC SINT deliverable.
    SYNIC_SINT_DELIVERABLE = 0x8000_0062 => "HvMessageTypeSynicSintDeliverable",
    /// Asynchronous call completion.
    ASYNC_CALL_COMPLETION = 0x8000_0070 => "HvMessageTypeAsyncCallCompletion",
    /// Insufficient memory.
    INSUFFICIENT_MEMORY = 0x8000_0071 => "HvMessageInsufficientMemory",
    /// Scheduler VP signal (bitset).
    SCHEDULER_VP_SIGNAL_BITSET = 0x8000_0100 => "HvMessageTypeSchedulerVpSignalBitset",
    /// Scheduler VP signal (pair).
    SCHEDULER_VP_SIGNAL_PAIR = 0x8000_0101 => "HvMessageTypeSchedulerVpSignalPair",
    /// x64 I/O port intercept.
    X64_IO_PORT_INTERCEPT = 0x8001_0000 => "HvMessageTypeX64IoPortIntercept",
    /// MSR intercept.
    MSR_INTERCEPT = 0x8001_0001 => "HvMessageTypeMsrIntercept",
    /// x64 CPUID intercept.
    X64_CPUID_INTERCEPT = 0x8001_0002 => "HvMessageTypeX64CpuidIntercept",
    /// Exception intercept.
    EXCEPTION_INTERCEPT = 0x8001_0003 => "HvMessageTypeExceptionIntercept",
    /// x64 APIC EOI.
    X64_APIC_EOI = 0x8001_0004 => "HvMessageTypeX64ApicEoi",
    /// x64 legacy FP error (TLFS 6.0b §11.10 (SynIC Message Types) only).
    X64_LEGACY_FP_ERROR = 0x8001_0005 => "HvMessageTypeX64LegacyFpError",
    /// Register intercept.
    REGISTER_INTERCEPT = 0x8001_0006 => "HvMessageTypeRegisterIntercept",
    /// x64 HLT.
    X64_HALT = 0x8001_0007 => "HvMessageTypeX64Halt",
    /// x64 interruption deliverable.
    X64_INTERRUPTION_DELIVERABLE = 0x8001_0008 => "HvMessageTypeX64InterruptionDeliverable",
    /// x64 SIPI intercept.
    X64_SIPI_INTERCEPT = 0x8001_0009 => "HvMessageTypeX64SipiIntercept",
    /// x64 RDTSC intercept.
    X64_RDTSC_INTERCEPT = 0x8001_000A => "HvMessageTypeX64RdtscIntercept",
    /// x64 APIC SMI intercept.
    X64_APIC_SMI_INTERCEPT = 0x8001_000B => "HvMessageTypeX64ApicSmiIntercept",
    /// ARM64 reset intercept.
    ARM64_RESET_INTERCEPT = 0x8001_000C => "HvMessageTypeArm64ResetIntercept",
    /// x64 APIC INIT/SIPI intercept.
    X64_APIC_INIT_SIPI_INTERCEPT = 0x8001_000D => "HvMessageTypeX64ApicInitSipiIntercept",
    /// x64 APIC write intercept.
    X64_APIC_WRITE_INTERCEPT = 0x8001_000E => "HvMessageTypeX64ApicWriteIntercept",
    /// x64 SNP guest request intercept.
    X64_SNP_GUEST_REQUEST_INTERCEPT = 0x8001_0011 => "HvMessageTypeX64SnpGuestRequestIntercept",
    /// x64 exception trap intercept.
    X64_EXCEPTION_TRAP_INTERCEPT = 0x8001_0012 => "HvMessageTypeX64ExceptionTrapIntercept",
    /// x64 SEV VMGEXIT intercept.
    X64_SEV_VMGEXIT_INTERCEPT = 0x8001_0013 => "HvMessageTypeX64SevVmgexitIntercept",
    /// x64 MSR list intercept.
    X64_MSR_LIST_INTERCEPT = 0x8001_0015 => "HvMessageTypeX64MsrListIntercept",
}

impl HvMessageType {
    /// `true` if the type is reserved for the hypervisor
    /// ([`HV_MESSAGE_TYPE_HYPERVISOR_MASK`] set).
    #[must_use]
    pub const fn is_hypervisor(self) -> bool {
        self.0 & HV_MESSAGE_TYPE_HYPERVISOR_MASK != 0
    }
}

/// `HV_MESSAGE_FLAGS`.
///
/// TLFS md `datatypes/hv_message.md`; TLFS 6.0b §11.10 (SynIC Message Flags).
#[bitfield(u8)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvMessageFlags {
    /// `MessagePending` (bit 0): more messages are queued for this SINT;
    /// write the EOM MSR after emptying the slot.
    pub message_pending: bool,
    /// `Reserved` (bits 7:1).
    #[bits(7)]
    __reserved: u8,
}

/// `HV_MESSAGE_HEADER` (16 bytes).
///
/// Layout of TLFS md `datatypes/hv_message.md`: `MessageType` (4),
/// `PayloadSize` (1), `MessageFlags` (1), `Reserved` (2), then the 8-byte
/// origination union. TLFS 6.0b §11.10 (SynIC Message Format) orders the middle bytes
/// differently (`Reserved` u16, `MessageFlags`, `PayloadSize`); this type
/// follows the Markdown edition, which is what Windows and Linux guests use.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct HvMessageHeader {
    /// `MessageType`; [`HvMessageType::NONE`] marks an empty slot.
    pub message_type: HvMessageType,
    /// `PayloadSize`: bytes of payload (header excluded), at most 240.
    pub payload_size: u8,
    /// `MessageFlags`.
    pub message_flags: HvMessageFlags,
    /// `Reserved`.
    pub reserved: u16,
    /// The union `OriginationId` / `Sender` (`HV_PARTITION_ID`) / `Port`
    /// (`HV_PORT_ID`): the port for posted messages, the partition for
    /// intercepts, zero for timer messages.
    pub origination_id: u64,
}

const _: () = assert!(size_of::<HvMessageHeader>() == 16);
const _: () = assert!(core::mem::offset_of!(HvMessageHeader, payload_size) == 4);
const _: () = assert!(core::mem::offset_of!(HvMessageHeader, message_flags) == 5);
const _: () = assert!(core::mem::offset_of!(HvMessageHeader, reserved) == 6);
const _: () = assert!(core::mem::offset_of!(HvMessageHeader, origination_id) == 8);

impl HvMessageHeader {
    /// The origination union read as `Sender` (a partition ID).
    #[must_use]
    pub const fn sender(&self) -> HvPartitionId {
        self.origination_id
    }

    /// The origination union read as `Port` (the low 32 bits).
    #[must_use]
    pub const fn port(&self) -> HvPortId {
        HvPortId::from_bits(self.origination_id as u32)
    }
}

/// `HV_MESSAGE` (256 bytes): a header and 240 bytes of payload.
///
/// TLFS md `datatypes/hv_message.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct HvMessage {
    /// `Header`.
    pub header: HvMessageHeader,
    /// `Payload[HV_MESSAGE_MAX_PAYLOAD_QWORD_COUNT]`.
    pub payload: [u64; HV_MESSAGE_MAX_PAYLOAD_QWORD_COUNT],
}

const _: () = assert!(size_of::<HvMessage>() == HV_MESSAGE_SIZE);
const _: () = assert!(core::mem::offset_of!(HvMessage, payload) == 16);
const _: () = assert!(HV_MESSAGE_MAX_PAYLOAD_QWORD_COUNT * 8 == HV_MESSAGE_MAX_PAYLOAD_BYTE_COUNT);

impl HvMessage {
    /// The payload as bytes.
    #[must_use]
    pub fn payload_bytes(&self) -> &[u8] {
        self.payload.as_bytes()
    }

    /// The payload as mutable bytes.
    #[must_use]
    pub fn payload_bytes_mut(&mut self) -> &mut [u8] {
        self.payload.as_mut_bytes()
    }
}

impl Default for HvMessage {
    fn default() -> Self {
        Self::new_zeroed()
    }
}

/// The SynIC message page (SIM page): one [`HvMessage`] slot per SINT.
///
/// TLFS md `inter-partition-communication.md` § SIM Page; TLFS 6.0b §11.9.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct HvMessagePage {
    /// Slot *n* belongs to SINT *n*.
    pub sint_message: [HvMessage; HV_SYNIC_SINT_COUNT],
}

const _: () = assert!(size_of::<HvMessagePage>() == crate::types::HV_PAGE_SIZE);

#[cfg(test)]
mod tests {
    use super::*;

    /// `datatypes/hv_message_type.md` transcribed by hand, plus the three
    /// TLFS 6.0b §11.10 (SynIC Message Types) additions.
    const TYPES: &[(u32, &str)] = &[
        (0x0000_0000, "HvMessageTypeNone"),
        (0x8000_0000, "HvMessageTypeUnmappedGpa"),
        (0x8000_0001, "HvMessageTypeGpaIntercept"),
        (0x8000_0003, "HvMessageTypeUnacceptedGpa"),
        (0x8000_0004, "HvMessageTypeGpaAttributeIntercept"),
        (0x8000_0010, "HvMessageTimerExpired"),
        (0x8000_0020, "HvMessageTypeInvalidVpRegisterValue"),
        (0x8000_0021, "HvMessageTypeUnrecoverableException"),
        (0x8000_0022, "HvMessageTypeUnsupportedFeature"),
        (0x8000_003F, "HvMessageTypeOpaqueIntercept"),
        (0x8000_0050, "HvMessageTypeHypercallIntercept"),
        (0x8000_0060, "HvMessageTypeSynicEventIntercept"),
        (0x8000_0061, "HvMessageTypeSynicSintIntercept"),
        (0x8000_0062, "HvMessageTypeSynicSintDeliverable"),
        (0x8000_0070, "HvMessageTypeAsyncCallCompletion"),
        (0x8000_0071, "HvMessageInsufficientMemory"),
        (0x8000_0100, "HvMessageTypeSchedulerVpSignalBitset"),
        (0x8000_0101, "HvMessageTypeSchedulerVpSignalPair"),
        (0x8001_0000, "HvMessageTypeX64IoPortIntercept"),
        (0x8001_0001, "HvMessageTypeMsrIntercept"),
        (0x8001_0002, "HvMessageTypeX64CpuidIntercept"),
        (0x8001_0003, "HvMessageTypeExceptionIntercept"),
        (0x8001_0004, "HvMessageTypeX64ApicEoi"),
        (0x8001_0006, "HvMessageTypeRegisterIntercept"),
        (0x8001_0007, "HvMessageTypeX64Halt"),
        (0x8001_0008, "HvMessageTypeX64InterruptionDeliverable"),
        (0x8001_0009, "HvMessageTypeX64SipiIntercept"),
        (0x8001_000A, "HvMessageTypeX64RdtscIntercept"),
        (0x8001_000B, "HvMessageTypeX64ApicSmiIntercept"),
        (0x8001_000C, "HvMessageTypeArm64ResetIntercept"),
        (0x8001_000D, "HvMessageTypeX64ApicInitSipiIntercept"),
        (0x8001_000E, "HvMessageTypeX64ApicWriteIntercept"),
        (0x8001_0011, "HvMessageTypeX64SnpGuestRequestIntercept"),
        (0x8001_0012, "HvMessageTypeX64ExceptionTrapIntercept"),
        (0x8001_0013, "HvMessageTypeX64SevVmgexitIntercept"),
        (0x8001_0015, "HvMessageTypeX64MsrListIntercept"),
        (0x8000_0023, "HvMessageTypeTlbPageSizeMismatch"),
        (0x8000_0040, "HvMessageTypeEventLogBuffersComplete"),
        (0x8001_0005, "HvMessageTypeX64LegacyFpError"),
    ];

    #[test]
    fn message_type_values() {
        for &(value, name) in TYPES {
            assert_eq!(HvMessageType(value).name(), Some(name), "{value:#x}");
        }
        assert_eq!(HvMessageType::ALL.len(), TYPES.len());
        assert_eq!(HvMessageType::TIMER_EXPIRED.0, 0x8000_0010);
    }

    #[test]
    fn unknown_message_type_round_trips() {
        // A guest-chosen type (VMBus uses small positive types).
        let t = HvMessageType::from(1);
        assert_eq!(t.name(), None);
        assert!(!t.is_hypervisor());
        assert_eq!(u32::from(t), 1);
        assert!(HvMessageType(0x8000_1234).is_hypervisor());
        assert_eq!(HvMessageType(0x8000_1234).name(), None);
    }

    #[test]
    fn sizes() {
        assert_eq!(size_of::<HvMessage>(), 256);
        assert_eq!(size_of::<HvMessageHeader>(), 16);
        assert_eq!(size_of::<HvMessagePage>(), 16 * 256);
        assert_eq!(HV_MESSAGE_MAX_PAYLOAD_BYTE_COUNT, 240);
        assert_eq!(HV_MESSAGE_MAX_PAYLOAD_QWORD_COUNT, 30);
    }

    #[test]
    fn header_byte_layout() {
        // Timer message: type 0x80000010, payload 24 bytes, pending flag.
        let mut bytes = [0_u8; 256];
        bytes[0..4].copy_from_slice(&0x8000_0010_u32.to_le_bytes());
        bytes[4] = 24;
        bytes[5] = 0x01;
        bytes[8..16].copy_from_slice(&0x0000_0000_00AB_CDEF_u64.to_le_bytes());
        bytes[16] = 0x77;
        let msg = HvMessage::read_from_bytes(&bytes[..]).unwrap();
        assert_eq!(msg.header.message_type, HvMessageType::TIMER_EXPIRED);
        assert_eq!(msg.header.payload_size, 24);
        assert!(msg.header.message_flags.message_pending());
        assert_eq!(msg.header.port().id(), 0xAB_CDEF);
        assert_eq!(msg.header.sender(), 0xAB_CDEF);
        assert_eq!(msg.payload_bytes()[0], 0x77);
        assert_eq!(msg.as_bytes(), &bytes[..]);
    }

    #[test]
    fn message_flags_bits() {
        assert_eq!(
            HvMessageFlags::new().with_message_pending(true).into_bits(),
            0x01
        );
        assert!(!HvMessageFlags::from_bits(0xFE).message_pending());
    }

    #[test]
    fn message_page_slots() {
        let mut page = HvMessagePage::new_zeroed();
        page.sint_message[3].header.message_type = HvMessageType::TIMER_EXPIRED;
        // Slot 3 starts at byte 3 * 256.
        assert_eq!(&page.as_bytes()[768..772], &0x8000_0010_u32.to_le_bytes());
    }
}
