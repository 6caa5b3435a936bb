//! x64 intercept messages: what the hypervisor sends (as the payload of an
//! [`HvMessage`](crate::message::HvMessage)) when a VP performs an
//! intercepted operation. Tessera's kernel uses these layouts for the exit
//! messages it sends to components.
//!
//! # What the reference gives, and what it does not
//!
//! TLFS 6.0b §13.2 defines the common parts: the intercept message header,
//! the VP execution state, and the I/O port, exception and memory access
//! info bytes. Those are here as specified.
//!
//! The bodies of the MSR, I/O port, CPUID and memory intercept messages are
//! **not in the reference** (neither edition defines them). The layouts
//! below marked so are taken from Microsoft's `HvGdk.h` (hypervisor guest
//! development kit header) and agree with the Linux kernel's
//! `include/hyperv/hvhdk.h`; re-check them before a guest-visible
//! behaviour depends on them. Where those two sources differ (the memory
//! intercept message), only the common prefix is defined.
//!
//! The access-type field of the header is also not fully pinned down: TLFS
//! 6.0b types it `HV_INTERCEPT_ACCESS_TYPE_MASK`, which TLFS md
//! `datatypes/hv_intercept_access_type_mask.md` makes a `UINT32` bit mask
//! (read 1, write 2, execute 4), but a 32-bit field does not fit the
//! header's layout before the 2-byte execution state. Microsoft's headers
//! use a 1-byte `HV_INTERCEPT_ACCESS_TYPE` enumeration (read 0, write 1,
//! execute 2). This module follows the headers: one byte holding an
//! [`HvInterceptAccessType`].

use bitfield_struct::bitfield;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::message::HV_MESSAGE_MAX_PAYLOAD_BYTE_COUNT;
use crate::types::{HvGpa, HvGva, HvVpIndex, HvX64SegmentRegister};
use tessera_open_enum::open_enum;

/// `HV_INTERCEPT_ACCESS_TYPE_MASK`: the access directions an intercept is
/// installed for (used by `HvCallInstallIntercept`).
///
/// TLFS md `datatypes/hv_intercept_access_type_mask.md`.
#[bitfield(u32)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvInterceptAccessTypeMask {
    /// `HV_INTERCEPT_ACCESS_MASK_READ` (`0x01`).
    pub read: bool,
    /// `HV_INTERCEPT_ACCESS_MASK_WRITE` (`0x02`).
    pub write: bool,
    /// `HV_INTERCEPT_ACCESS_MASK_EXECUTE` (`0x04`).
    pub execute: bool,
    #[bits(29)]
    __reserved: u32,
}

open_enum! {
    name;
    /// `HV_INTERCEPT_ACCESS_TYPE`: the access that caused an intercept, as
    /// stored in [`HvX64InterceptMessageHeader::intercept_access_type`].
    ///
    /// **Not in the reference** (see the module documentation): values
    /// from Microsoft's `HvGdk.h` / Linux `hvhdk.h`
    /// (`HV_INTERCEPT_ACCESS_READ` 0, `…WRITE` 1, `…EXECUTE` 2).
    pub struct HvInterceptAccessType(u8);

    /// A read (IN, RDMSR, a load).
    READ = 0 => "HvInterceptAccessRead",
    /// A write (OUT, WRMSR, a store).
    WRITE = 1 => "HvInterceptAccessWrite",
    /// An execution (CPUID, an instruction fetch).
    EXECUTE = 2 => "HvInterceptAccessExecute",
}

open_enum! {
    name;
    /// `HV_INTERCEPT_TYPE`: the kinds of intercept a parent can install.
    ///
    /// TLFS md `datatypes/hv_intercept_type.md`.
    pub struct HvInterceptType(u32);

    /// An I/O port access.
    X64_IO_PORT = 0x0000_0000 => "HvInterceptTypeX64IoPort",
    /// An MSR access.
    X64_MSR = 0x0000_0001 => "HvInterceptTypeX64Msr",
    /// A CPUID instruction.
    X64_CPUID = 0x0000_0002 => "HvInterceptTypeX64Cpuid",
    /// An exception.
    EXCEPTION = 0x0000_0003 => "HvInterceptTypeException",
    /// A partition-global CPUID intercept.
    X64_GLOBAL_CPUID = 0x0000_0006 => "HvInterceptTypeX64GlobalCpuid",
    /// An APIC SMI.
    X64_APIC_SMI = 0x0000_0007 => "HvInterceptTypeX64ApicSmi",
    /// A hypercall.
    HYPERCALL = 0x0000_0008 => "HvInterceptTypeHypercall",
    /// An APIC INIT/SIPI.
    X64_APIC_INIT_SIPI = 0x0000_0009 => "HvInterceptTypeX64ApicInitSipi",
    /// A write to an APIC register.
    X64_APIC_WRITE = 0x0000_000B => "HvInterceptTypeX64ApicWrite",
    /// An unknown SynIC connection.
    UNKNOWN_SYNIC_CONNECTION = 0x0000_000D => "HvInterceptTypeUnknownSynicConnection",
    /// An APIC EOI.
    X64_APIC_EOI = 0x0000_000E => "HvInterceptTypeX64ApicEoi",
    /// Retargeting an interrupt for an unknown device ID.
    RETARGET_INTERRUPT_WITH_UNKNOWN_DEVICE_ID = 0x0000_000F
        => "HvInterceptTypeRetargetInterruptWithUnknownDeviceId",
    /// An exception trap.
    X64_EXCEPTION_TRAP = 0x0000_0010 => "HvInterceptTypeX64ExceptionTrap",
    /// An I/O port access within a registered range.
    X64_IO_PORT_RANGE = 0x0000_0011 => "HvInterceptTypeX64IoPortRange",
    /// A register access (ARM64).
    REGISTER = 0x0000_0012 => "HvInterceptTypeRegister",
    /// PSCI SYSTEM_RESET2 / SYSTEM_OFF2 (ARM64).
    SYSTEM_RESET_EXTENDED = 0x0000_0013 => "HvInterceptTypeSystemResetExtended",
}

/// `HV_X64_VP_EXECUTION_STATE`: miscellaneous VP state at the intercept.
///
/// TLFS 6.0b §13.2 (VP Execution State).
#[bitfield(u16)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvX64VpExecutionState {
    /// `Cpl` (bits 1:0): current privilege level.
    #[bits(2)]
    pub cpl: u8,
    /// `Cr0Pe` (bit 2): protected mode.
    pub cr0_pe: bool,
    /// `Cr0Am` (bit 3): alignment checking.
    pub cr0_am: bool,
    /// `EferLma` (bit 4): long mode active.
    pub efer_lma: bool,
    /// `DebugActive` (bit 5): debug registers are armed.
    pub debug_active: bool,
    /// `InterruptionPending` (bit 6): the intercept happened while
    /// delivering an interruption.
    pub interruption_pending: bool,
    /// `Reserved` (bits 15:7).
    #[bits(9)]
    __reserved: u16,
}

/// `HV_X64_INTERCEPT_MESSAGE_HEADER` (40 bytes): common start of every x64
/// memory access and processor intercept message.
///
/// Fields: TLFS 6.0b §13.2 (Intercept Message Header). The width of `InterceptAccessType` (one byte)
/// is from Microsoft's headers; see the module documentation.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct HvX64InterceptMessageHeader {
    /// `VpIndex` (offset 0): the VP that generated the intercept.
    pub vp_index: HvVpIndex,
    /// `InstructionLength` (offset 4): 0 if unknown; always correct for
    /// CPUID, I/O port and MSR intercepts.
    pub instruction_length: u8,
    /// `InterceptAccessType` (offset 5).
    pub intercept_access_type: HvInterceptAccessType,
    /// `ExecutionState` (offset 6).
    pub execution_state: HvX64VpExecutionState,
    /// `CsSegment` (offset 8).
    pub cs_segment: HvX64SegmentRegister,
    /// `Rip` (offset 24).
    pub rip: u64,
    /// `Rflags` (offset 32).
    pub rflags: u64,
}

const _: () = assert!(size_of::<HvX64InterceptMessageHeader>() == 40);
const _: () = assert!(core::mem::offset_of!(HvX64InterceptMessageHeader, instruction_length) == 4);
const _: () =
    assert!(core::mem::offset_of!(HvX64InterceptMessageHeader, intercept_access_type) == 5);
const _: () = assert!(core::mem::offset_of!(HvX64InterceptMessageHeader, execution_state) == 6);
const _: () = assert!(core::mem::offset_of!(HvX64InterceptMessageHeader, cs_segment) == 8);
const _: () = assert!(core::mem::offset_of!(HvX64InterceptMessageHeader, rip) == 24);
const _: () = assert!(core::mem::offset_of!(HvX64InterceptMessageHeader, rflags) == 32);

/// `HV_X64_IO_PORT_ACCESS_INFO`.
///
/// TLFS 6.0b §13.2 (I/O Port Access Information).
#[bitfield(u8)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvX64IoPortAccessInfo {
    /// `AccessSize` (bits 2:0): `001b` = 8 bits, `010b` = 16 bits, `100b` =
    /// 32 bits; other encodings reserved.
    #[bits(3)]
    pub access_size: u8,
    /// `StringOp` (bit 3): INS/OUTS.
    pub string_op: bool,
    /// `RepPrefix` (bit 4): REP prefix (string operations only).
    pub rep_prefix: bool,
    /// `Reserved` (bits 7:5).
    #[bits(3)]
    __reserved: u8,
}

/// `HV_X64_EXCEPTION_INFO`.
///
/// TLFS 6.0b §13.2 (Exception Information).
#[bitfield(u8)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvX64ExceptionInfo {
    /// `ErrorCodeValid` (bit 0).
    pub error_code_valid: bool,
    /// `Reserved` (bits 7:1).
    #[bits(7)]
    __reserved: u8,
}

/// `HV_X64_MEMORY_ACCESS_INFO`.
///
/// TLFS 6.0b §13.2 (Memory Access Flags).
#[bitfield(u8)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvX64MemoryAccessInfo {
    /// `GvaValid` (bit 0): the message's GVA field is valid.
    pub gva_valid: bool,
    /// `Reserved` (bits 7:1).
    #[bits(7)]
    __reserved: u8,
}

/// `HV_X64_MSR_INTERCEPT_MESSAGE` (64 bytes), message type
/// `HvMessageTypeMsrIntercept`.
///
/// **Not in the reference**: layout from Microsoft's `HvGdk.h` (agrees with
/// Linux `hvhdk.h`). For RDMSR the recipient returns EDX:EAX; for WRMSR
/// `rdx`/`rax` carry the value written.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct HvX64MsrInterceptMessage {
    /// `Header` (offset 0).
    pub header: HvX64InterceptMessageHeader,
    /// `MsrNumber` (offset 40): ECX.
    pub msr_number: u32,
    /// `Reserved` (offset 44).
    pub reserved: u32,
    /// `Rdx` (offset 48).
    pub rdx: u64,
    /// `Rax` (offset 56).
    pub rax: u64,
}

const _: () = assert!(size_of::<HvX64MsrInterceptMessage>() == 64);
const _: () = assert!(core::mem::offset_of!(HvX64MsrInterceptMessage, msr_number) == 40);
const _: () = assert!(core::mem::offset_of!(HvX64MsrInterceptMessage, rdx) == 48);
const _: () = assert!(core::mem::offset_of!(HvX64MsrInterceptMessage, rax) == 56);

/// `HV_X64_IO_PORT_INTERCEPT_MESSAGE` (128 bytes), message type
/// `HvMessageTypeX64IoPortIntercept`.
///
/// **Not in the reference**: layout from Microsoft's `HvGdk.h` (agrees with
/// Linux `hvhdk.h`). `access_info` is the reference's
/// [`HvX64IoPortAccessInfo`].
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct HvX64IoPortInterceptMessage {
    /// `Header` (offset 0).
    pub header: HvX64InterceptMessageHeader,
    /// `PortNumber` (offset 40).
    pub port_number: u16,
    /// `AccessInfo` (offset 42).
    pub access_info: HvX64IoPortAccessInfo,
    /// `InstructionByteCount` (offset 43): valid bytes in
    /// `instruction_bytes`.
    pub instruction_byte_count: u8,
    /// `Reserved` (offset 44).
    pub reserved: u32,
    /// `Rax` (offset 48).
    pub rax: u64,
    /// `InstructionBytes[16]` (offset 56).
    pub instruction_bytes: [u8; 16],
    /// `DsSegment` (offset 72).
    pub ds_segment: HvX64SegmentRegister,
    /// `EsSegment` (offset 88).
    pub es_segment: HvX64SegmentRegister,
    /// `Rcx` (offset 104).
    pub rcx: u64,
    /// `Rsi` (offset 112).
    pub rsi: u64,
    /// `Rdi` (offset 120).
    pub rdi: u64,
}

const _: () = assert!(size_of::<HvX64IoPortInterceptMessage>() == 128);
const _: () = assert!(core::mem::offset_of!(HvX64IoPortInterceptMessage, port_number) == 40);
const _: () = assert!(core::mem::offset_of!(HvX64IoPortInterceptMessage, access_info) == 42);
const _: () = assert!(core::mem::offset_of!(HvX64IoPortInterceptMessage, rax) == 48);
const _: () = assert!(core::mem::offset_of!(HvX64IoPortInterceptMessage, instruction_bytes) == 56);
const _: () = assert!(core::mem::offset_of!(HvX64IoPortInterceptMessage, ds_segment) == 72);
const _: () = assert!(core::mem::offset_of!(HvX64IoPortInterceptMessage, rcx) == 104);
const _: () = assert!(core::mem::offset_of!(HvX64IoPortInterceptMessage, rdi) == 120);

/// `HV_X64_CPUID_INTERCEPT_MESSAGE` (104 bytes), message type
/// `HvMessageTypeX64CpuidIntercept`.
///
/// **Not in the reference**: layout from Microsoft's `HvGdk.h` (agrees with
/// Linux `hvhdk.h`). `rax`..`rbx` are the guest's inputs; the
/// `default_result_*` fields are what the hypervisor would return.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct HvX64CpuidInterceptMessage {
    /// `Header` (offset 0).
    pub header: HvX64InterceptMessageHeader,
    /// `Rax` (offset 40).
    pub rax: u64,
    /// `Rcx` (offset 48).
    pub rcx: u64,
    /// `Rdx` (offset 56).
    pub rdx: u64,
    /// `Rbx` (offset 64).
    pub rbx: u64,
    /// `DefaultResultRax` (offset 72).
    pub default_result_rax: u64,
    /// `DefaultResultRcx` (offset 80).
    pub default_result_rcx: u64,
    /// `DefaultResultRdx` (offset 88).
    pub default_result_rdx: u64,
    /// `DefaultResultRbx` (offset 96).
    pub default_result_rbx: u64,
}

const _: () = assert!(size_of::<HvX64CpuidInterceptMessage>() == 104);
const _: () = assert!(core::mem::offset_of!(HvX64CpuidInterceptMessage, rax) == 40);
const _: () = assert!(core::mem::offset_of!(HvX64CpuidInterceptMessage, default_result_rax) == 72);

/// `HV_CACHE_TYPE` of a memory intercept.
///
/// **Not in the reference**: values from Linux `hvhdk.h`
/// (`HV_CACHE_TYPE_*`), which match the x86 memory types.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(transparent)]
pub struct HvCacheType(pub u32);

impl HvCacheType {
    /// Uncached.
    pub const UNCACHED: Self = Self(0);
    /// Write combining.
    pub const WRITE_COMBINING: Self = Self(1);
    /// Write through.
    pub const WRITE_THROUGH: Self = Self(4);
    /// Write protected.
    pub const WRITE_PROTECTED: Self = Self(5);
    /// Write back.
    pub const WRITE_BACK: Self = Self(6);
}

/// The common prefix of `HV_X64_MEMORY_INTERCEPT_MESSAGE` (80 bytes),
/// message types `HvMessageTypeUnmappedGpa` and `HvMessageTypeGpaIntercept`.
///
/// **Not in the reference**, and the published headers disagree after this
/// prefix: Microsoft's `HvGdk.h` follows it with DS/SS and all sixteen
/// general-purpose registers (and calls bytes 46–47 `Reserved1: UINT16`),
/// Linux `hvhdk.h` ends here (and calls byte 46 `TprPriority`). Only the
/// part they share is defined; bytes 46–47 are kept raw.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct HvX64MemoryInterceptMessage {
    /// `Header` (offset 0).
    pub header: HvX64InterceptMessageHeader,
    /// `CacheType` (offset 40).
    pub cache_type: HvCacheType,
    /// `InstructionByteCount` (offset 44).
    pub instruction_byte_count: u8,
    /// `MemoryAccessInfo` (offset 45).
    pub memory_access_info: HvX64MemoryAccessInfo,
    /// Offset 46: `Reserved1` (`HvGdk.h`) or `TprPriority` + `Reserved1`
    /// (Linux).
    pub reserved1: [u8; 2],
    /// `GuestVirtualAddress` (offset 48), valid if `memory_access_info`
    /// says so.
    pub guest_virtual_address: HvGva,
    /// `GuestPhysicalAddress` (offset 56).
    pub guest_physical_address: HvGpa,
    /// `InstructionBytes[16]` (offset 64).
    pub instruction_bytes: [u8; 16],
}

const _: () = assert!(size_of::<HvX64MemoryInterceptMessage>() == 80);
const _: () = assert!(core::mem::offset_of!(HvX64MemoryInterceptMessage, cache_type) == 40);
const _: () = assert!(core::mem::offset_of!(HvX64MemoryInterceptMessage, memory_access_info) == 45);
const _: () =
    assert!(core::mem::offset_of!(HvX64MemoryInterceptMessage, guest_virtual_address) == 48);
const _: () =
    assert!(core::mem::offset_of!(HvX64MemoryInterceptMessage, guest_physical_address) == 56);
const _: () = assert!(core::mem::offset_of!(HvX64MemoryInterceptMessage, instruction_bytes) == 64);

// Every intercept message fits in a message payload.
const _: () =
    assert!(size_of::<HvX64IoPortInterceptMessage>() <= HV_MESSAGE_MAX_PAYLOAD_BYTE_COUNT);
const _: () = assert!(size_of::<HvX64CpuidInterceptMessage>() <= HV_MESSAGE_MAX_PAYLOAD_BYTE_COUNT);
const _: () = assert!(size_of::<HvX64MsrInterceptMessage>() <= HV_MESSAGE_MAX_PAYLOAD_BYTE_COUNT);
const _: () =
    assert!(size_of::<HvX64MemoryInterceptMessage>() <= HV_MESSAGE_MAX_PAYLOAD_BYTE_COUNT);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{HvMessage, HvMessageType};
    use zerocopy::FromZeros;

    #[test]
    fn execution_state_bits() {
        // CPL 3, protected mode, long mode: 3 | 1 << 2 | 1 << 4 = 0x17.
        let s = HvX64VpExecutionState::new()
            .with_cpl(3)
            .with_cr0_pe(true)
            .with_efer_lma(true);
        assert_eq!(s.into_bits(), 0x17);
        let s = HvX64VpExecutionState::from_bits(0x0068);
        assert!(s.cr0_am());
        assert!(s.debug_active());
        assert!(s.interruption_pending());
        assert_eq!(s.cpl(), 0);
    }

    #[test]
    fn info_bytes() {
        // 16-bit REP OUTSW: size 010b, string, rep -> 0b1_1010.
        let io = HvX64IoPortAccessInfo::new()
            .with_access_size(0b010)
            .with_string_op(true)
            .with_rep_prefix(true);
        assert_eq!(io.into_bits(), 0x1A);
        assert_eq!(HvX64IoPortAccessInfo::from_bits(0x04).access_size(), 4);
        assert!(HvX64ExceptionInfo::from_bits(1).error_code_valid());
        assert!(HvX64MemoryAccessInfo::from_bits(1).gva_valid());
    }

    #[test]
    fn access_type_and_mask() {
        assert_eq!(
            HvInterceptAccessTypeMask::new().with_read(true).into_bits(),
            0x01
        );
        assert_eq!(
            HvInterceptAccessTypeMask::new()
                .with_write(true)
                .into_bits(),
            0x02
        );
        assert_eq!(
            HvInterceptAccessTypeMask::new()
                .with_execute(true)
                .into_bits(),
            0x04
        );
        assert_eq!(HvInterceptAccessType::WRITE.0, 1);
        assert_eq!(HvInterceptAccessType(7).name(), None);
    }

    #[test]
    fn intercept_types() {
        // datatypes/hv_intercept_type.md.
        assert_eq!(HvInterceptType::X64_IO_PORT.0, 0);
        assert_eq!(HvInterceptType::X64_MSR.0, 1);
        assert_eq!(HvInterceptType::X64_CPUID.0, 2);
        assert_eq!(HvInterceptType::EXCEPTION.0, 3);
        assert_eq!(HvInterceptType::HYPERCALL.0, 8);
        assert_eq!(HvInterceptType::X64_APIC_EOI.0, 0xE);
        assert_eq!(HvInterceptType::X64_IO_PORT_RANGE.0, 0x11);
        assert_eq!(HvInterceptType::SYSTEM_RESET_EXTENDED.0, 0x13);
        assert_eq!(HvInterceptType(4).name(), None);
    }

    #[test]
    fn msr_intercept_in_a_message() {
        let mut body = HvX64MsrInterceptMessage::new_zeroed();
        body.header.vp_index = 1;
        body.header.instruction_length = 2;
        body.header.intercept_access_type = HvInterceptAccessType::WRITE;
        body.header.rip = 0xFFFF_8000_0000_1000;
        body.msr_number = 0x4000_0001;
        body.rax = 0x1001;
        let mut msg = HvMessage::new_zeroed();
        msg.header.message_type = HvMessageType::MSR_INTERCEPT;
        msg.header.payload_size = size_of::<HvX64MsrInterceptMessage>() as u8;
        body.write_to_prefix(msg.payload_bytes_mut()).unwrap();
        let bytes = msg.as_bytes();
        // Payload starts at 16: VpIndex, InstructionLength, access type.
        assert_eq!(&bytes[16..22], &[1, 0, 0, 0, 2, 1]);
        assert_eq!(
            &bytes[16 + 24..16 + 32],
            &0xFFFF_8000_0000_1000_u64.to_le_bytes()
        );
        assert_eq!(&bytes[16 + 40..16 + 44], &0x4000_0001_u32.to_le_bytes());
        assert_eq!(&bytes[16 + 56..16 + 64], &0x1001_u64.to_le_bytes());
        let back = HvX64MsrInterceptMessage::read_from_prefix(msg.payload_bytes())
            .unwrap()
            .0;
        assert_eq!(back, body);
    }

    #[test]
    fn sizes() {
        assert_eq!(size_of::<HvX64InterceptMessageHeader>(), 40);
        assert_eq!(size_of::<HvX64MsrInterceptMessage>(), 64);
        assert_eq!(size_of::<HvX64IoPortInterceptMessage>(), 128);
        assert_eq!(size_of::<HvX64CpuidInterceptMessage>(), 104);
        assert_eq!(size_of::<HvX64MemoryInterceptMessage>(), 80);
    }
}
