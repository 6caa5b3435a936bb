//! The six register words of an exit message: the message type, the VP
//! index and the quick fields of each type, as one enum.
//!
//! The quick fields repeat what a handler needs most from the TLFS
//! intercept message in the buffer (TLFS 6.0b §13.2), so a handler that
//! asked for no registers still has the port, MSR, leaf or GPA without
//! reading a word of the buffer; the lifecycle kinds (Tessera's own
//! types) have no TLFS body and say everything here.
use tessera_abi::MESSAGE_WORDS;
use tessera_abi::vm::{
    TESSERA_EOI_BROADCAST, TESSERA_GUEST_CRASH, TESSERA_HANDLER_DIED,
    TESSERA_INTERRUPT_ACKNOWLEDGE, TESSERA_PARTITION_ATTACH, TESSERA_PORT_ARRIVAL,
    TESSERA_POSTED_WRITES, TESSERA_RESET_REQUEST, TESSERA_UNSUPPORTED,
};
use tlfs::message::HvMessageType;

use crate::name::PartitionName;

/// The message type constants as register words.
pub mod message_type {
    use super::HvMessageType;

    const fn word(t: HvMessageType) -> u64 {
        t.0 as u64
    }

    pub const IO_PORT: u64 = word(HvMessageType::X64_IO_PORT_INTERCEPT);
    pub const MSR: u64 = word(HvMessageType::MSR_INTERCEPT);
    pub const CPUID: u64 = word(HvMessageType::X64_CPUID_INTERCEPT);
    pub const EXCEPTION: u64 = word(HvMessageType::EXCEPTION_INTERCEPT);
    pub const HALT: u64 = word(HvMessageType::X64_HALT);
    pub const UNMAPPED_GPA: u64 = word(HvMessageType::UNMAPPED_GPA);
    pub const GPA_INTERCEPT: u64 = word(HvMessageType::GPA_INTERCEPT);
    pub const UNRECOVERABLE: u64 = word(HvMessageType::UNRECOVERABLE_EXCEPTION);
    pub const HYPERCALL: u64 = word(HvMessageType::HYPERCALL_INTERCEPT);
    pub use tessera_abi::vm::{
        TESSERA_EOI_BROADCAST as EOI_BROADCAST, TESSERA_GUEST_CRASH as GUEST_CRASH,
        TESSERA_HANDLER_DIED as HANDLER_DIED,
        TESSERA_INTERRUPT_ACKNOWLEDGE as INTERRUPT_ACKNOWLEDGE,
        TESSERA_PARTITION_ATTACH as PARTITION_ATTACH, TESSERA_POSTED_WRITES as POSTED_WRITES,
        TESSERA_RESET_REQUEST as RESET_REQUEST, TESSERA_UNSUPPORTED as UNSUPPORTED,
    };
}
use message_type::{
    CPUID, EXCEPTION, GPA_INTERCEPT, HALT, HYPERCALL, IO_PORT, MSR, UNMAPPED_GPA, UNRECOVERABLE,
};

/// The access of a memory exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemoryAccess {
    Read,
    Write,
    Execute,
}

impl MemoryAccess {
    /// From the quick-word (and `HV_INTERCEPT_ACCESS_TYPE`) encoding.
    pub const fn from_word(word: u64) -> Option<Self> {
        match word {
            0 => Some(Self::Read),
            1 => Some(Self::Write),
            2 => Some(Self::Execute),
            _ => None,
        }
    }

    /// The quick-word encoding (0 read, 1 write, 2 execute), which is the
    /// TLFS `HV_INTERCEPT_ACCESS_TYPE`'s.
    pub const fn word(self) -> u64 {
        match self {
            Self::Read => 0,
            Self::Write => 1,
            Self::Execute => 2,
        }
    }
}

/// What exited: the message type with its quick fields (words 2-5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// `X64_IO_PORT_INTERCEPT`: `IN` or `OUT` of `size` bytes (1, 2 or 4);
    /// `value` is what `OUT` wrote (masked to `size`), 0 for `IN`. Reply
    /// result word 0: the value `IN` reads, merged into RAX's low `size`
    /// bytes (a 4-byte read zero-extends).
    IoPort {
        port: u16,
        size: u8,
        write: bool,
        value: u32,
    },
    /// `MSR_INTERCEPT`: `RDMSR` or `WRMSR`; `value` is what `WRMSR` wrote
    /// (EDX:EAX), 0 for `RDMSR`. Reply result word 0: the value read; or
    /// the `FAULT` action: the access raises #GP.
    Msr { msr: u32, write: bool, value: u64 },
    /// `X64_CPUID_INTERCEPT`: `default` is what the kernel would answer,
    /// `[eax, ebx, ecx, edx]`. Reply result: EAX | EBX << 32, ECX | EDX << 32.
    Cpuid {
        leaf: u32,
        subleaf: u32,
        default: [u32; 4],
    },
    /// `X64_HALT` (routed, or to the lifecycle route when interrupts are
    /// off and nothing can wake the VP).
    Halt { rflags: u64 },
    /// `EXCEPTION_INTERCEPT`: `fault_address` is meaningful for #PF only.
    Exception {
        vector: u8,
        error_code: Option<u32>,
        fault_address: u64,
    },
    /// `UNMAPPED_GPA` (`unmapped`) or `GPA_INTERCEPT` (a mapping's rights
    /// refused the access). `size` is the access size in bytes the kernel
    /// decoded (1, 2, 4 or 8), 0 if it could not decode the instruction
    /// (then the handler cannot answer a read or advance RIP); `value` is
    /// what a decoded write wrote (masked to `size`), 0 otherwise. Reply
    /// result word 0 (decoded reads): the value read, which goes to the
    /// instruction's destination as the instruction would put it there.
    Memory {
        gpa: u64,
        access: MemoryAccess,
        rip: u64,
        unmapped: bool,
        size: u8,
        value: u64,
    },
    /// `HYPERCALL_INTERCEPT`: a hypercall whose call code a route takes,
    /// as the guest made it: `control` is the input value (RCX), `input`
    /// and `output` the parameters (RDX and R8). Reply result word 0: the
    /// result value for RAX.
    Hypercall {
        control: u64,
        input: u64,
        output: u64,
    },
    /// Lifecycle: `UNRECOVERABLE_EXCEPTION` (a triple fault, `exit_code`
    /// `0x7F`, an invalid state, `u64::MAX`, or a host machine check).
    UnrecoverableException { rip: u64, exit_code: u64, rsp: u64 },
    /// Lifecycle: the handler of `message_type` died.
    HandlerDied { message_type: u64 },
    /// Lifecycle: an exit the kernel does not handle.
    Unsupported { exit_code: u64, rip: u64 },
    /// Lifecycle: the guest wrote 1 to `HV_X64_MSR_RESET`.
    ResetRequest,
    /// Lifecycle: the guest wrote CrashNotify to `HV_X64_MSR_CRASH_CTL`:
    /// `parameters` are `HV_X64_MSR_CRASH_P0`-`P3`.
    GuestCrash { parameters: [u64; 4] },
    /// Sent by the partition manager, not the kernel: the partition
    /// behind the route's badge is `name` (words 1-4; no VP index).
    PartitionAttach { name: PartitionName },
    /// To the `EOI` route: the VP's local APIC ended level-triggered
    /// `vector` and broadcast the EOI (SDM Vol. 3A §10.8.5); the EOI write
    /// has completed.
    EoiBroadcast { vector: u8 },
    /// To the `EOI` route: the bootstrap processor takes the interrupt
    /// the 8259 pair's INT output requests (the interrupt acknowledge
    /// cycle); the reply injects the vector the 8259 answers.
    InterruptAcknowledge,
    /// To a port route that posts writes: the writes the kernel posted,
    /// handed over with no exit of their own (the buffer holds them alone,
    /// `crate::posted`). The reply takes no action: the VP goes on where
    /// it was.
    PostedWrites,
    /// To the owner of a component-owned SynIC port: something waits at
    /// port `port` (24-bit ID) of the partition behind the badge.
    PortArrival { port: u32 },
}

/// Why the words of a message are not an [`Exit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitError {
    /// A message type this version does not know.
    Unknown(u64),
    /// A known type with a field no kernel sends (an access size of 3, a
    /// vector above 31, ...): `field` names it.
    Malformed {
        message_type: u64,
        field: &'static str,
    },
}

fn flag(word: u64, field: &'static str) -> Result<bool, &'static str> {
    match word {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(field),
    }
}

fn u32_field(word: u64, field: &'static str) -> Result<u32, &'static str> {
    u32::try_from(word).map_err(|_| field)
}

/// The mask of the low `size` bytes (`size` 1 to 8).
pub const fn size_mask(size: u8) -> u64 {
    if size >= 8 {
        u64::MAX
    } else {
        (1u64 << (size * 8)) - 1
    }
}

/// Word 3 of a memory exit: the access in bits 7:0, the size in bits 15:8.
const fn memory_access_word(access: MemoryAccess, size: u8) -> u64 {
    access.word() | (size as u64) << 8
}

const fn pair(low: u32, high: u32) -> u64 {
    low as u64 | (high as u64) << 32
}

impl Exit {
    /// The message type (word 0).
    pub const fn message_type(&self) -> u64 {
        match self {
            Self::IoPort { .. } => IO_PORT,
            Self::Msr { .. } => MSR,
            Self::Cpuid { .. } => CPUID,
            Self::Halt { .. } => HALT,
            Self::Exception { .. } => EXCEPTION,
            Self::Memory { unmapped: true, .. } => UNMAPPED_GPA,
            Self::Memory {
                unmapped: false, ..
            } => GPA_INTERCEPT,
            Self::Hypercall { .. } => HYPERCALL,
            Self::UnrecoverableException { .. } => UNRECOVERABLE,
            Self::HandlerDied { .. } => TESSERA_HANDLER_DIED,
            Self::Unsupported { .. } => TESSERA_UNSUPPORTED,
            Self::ResetRequest => TESSERA_RESET_REQUEST,
            Self::GuestCrash { .. } => TESSERA_GUEST_CRASH,
            Self::PartitionAttach { .. } => TESSERA_PARTITION_ATTACH,
            Self::EoiBroadcast { .. } => TESSERA_EOI_BROADCAST,
            Self::InterruptAcknowledge => TESSERA_INTERRUPT_ACKNOWLEDGE,
            Self::PostedWrites => TESSERA_POSTED_WRITES,
            Self::PortArrival { .. } => TESSERA_PORT_ARRIVAL,
        }
    }

    /// The six register words of this exit from VP `vp_index` (an attach
    /// has no VP index: its words 1-4 are the name).
    #[inline(always)]
    pub fn encode(&self, vp_index: u32) -> [u64; MESSAGE_WORDS] {
        let vp = vp_index as u64;
        let message_type = self.message_type();
        let quick = match *self {
            Self::IoPort {
                port,
                size,
                write,
                value,
            } => [port as u64, size as u64, write as u64, value as u64],
            Self::Msr { msr, write, value } => [msr as u64, write as u64, value, 0],
            Self::Cpuid {
                leaf,
                subleaf,
                default: [eax, ebx, ecx, edx],
            } => [leaf as u64, subleaf as u64, pair(eax, ebx), pair(ecx, edx)],
            Self::Halt { rflags } => [rflags, 0, 0, 0],
            Self::Exception {
                vector,
                error_code,
                fault_address,
            } => {
                let error_code = match error_code {
                    Some(code) => code as u64,
                    None => u64::MAX,
                };
                [vector as u64, error_code, fault_address, 0]
            }
            Self::Memory {
                gpa,
                access,
                rip,
                size,
                value,
                ..
            } => [gpa, memory_access_word(access, size), rip, value],
            Self::Hypercall {
                control,
                input,
                output,
            } => [control, input, output, 0],
            Self::UnrecoverableException {
                rip,
                exit_code,
                rsp,
            } => [rip, exit_code, rsp, 0],
            Self::HandlerDied { message_type } => [message_type, 0, 0, 0],
            Self::Unsupported { exit_code, rip } => [exit_code, rip, 0, 0],
            Self::ResetRequest | Self::InterruptAcknowledge | Self::PostedWrites => [0; 4],
            Self::GuestCrash { parameters } => parameters,
            Self::EoiBroadcast { vector } => [vector as u64, 0, 0, 0],
            Self::PortArrival { port } => [port as u64, 0, 0, 0],
            Self::PartitionAttach { name } => {
                let [a, b, c, d] = name.words();
                return [message_type, a, b, c, d, 0];
            }
        };
        let [a, b, c, d] = quick;
        [message_type, vp, a, b, c, d]
    }

    /// The exit six register words carry (word 1, the VP index, is not
    /// part of it). Total: any words give an exit or an [`ExitError`].
    pub fn decode(words: &[u64; MESSAGE_WORDS]) -> Result<Self, ExitError> {
        let [message_type, w1, w2, w3, w4, w5] = *words;
        let parsed = match message_type {
            IO_PORT => (|| {
                let port = u16::try_from(w2).map_err(|_| "port")?;
                let size = match w3 {
                    1 | 2 | 4 => w3 as u8,
                    _ => return Err("size"),
                };
                let write = flag(w4, "direction")?;
                let value = if write {
                    (w5 & size_mask(size)) as u32
                } else {
                    0
                };
                Ok(Self::IoPort {
                    port,
                    size,
                    write,
                    value,
                })
            })(),
            MSR => (|| {
                let msr = u32_field(w2, "msr")?;
                let write = flag(w3, "direction")?;
                Ok(Self::Msr {
                    msr,
                    write,
                    value: if write { w4 } else { 0 },
                })
            })(),
            CPUID => (|| {
                Ok(Self::Cpuid {
                    leaf: u32_field(w2, "leaf")?,
                    subleaf: u32_field(w3, "subleaf")?,
                    default: [w4 as u32, (w4 >> 32) as u32, w5 as u32, (w5 >> 32) as u32],
                })
            })(),
            HALT => Ok(Self::Halt { rflags: w2 }),
            EXCEPTION => (|| {
                let vector = u8::try_from(w2).ok().filter(|v| *v < 32).ok_or("vector")?;
                let error_code = match w3 {
                    u64::MAX => None,
                    code => Some(u32_field(code, "error code")?),
                };
                Ok(Self::Exception {
                    vector,
                    error_code,
                    fault_address: w4,
                })
            })(),
            UNMAPPED_GPA | GPA_INTERCEPT => (|| {
                if w3 >> 16 != 0 {
                    return Err("access");
                }
                let access = MemoryAccess::from_word(w3 & 0xFF).ok_or("access")?;
                let size = match (w3 >> 8) as u8 {
                    size @ (0 | 1 | 2 | 4 | 8) => size,
                    _ => return Err("size"),
                };
                let value = if access == MemoryAccess::Write && size != 0 {
                    w5 & size_mask(size)
                } else {
                    0
                };
                Ok(Self::Memory {
                    gpa: w2,
                    access,
                    rip: w4,
                    unmapped: message_type == UNMAPPED_GPA,
                    size,
                    value,
                })
            })(),
            // Any words are a hypercall the guest could make: nothing to refuse.
            HYPERCALL => Ok(Self::Hypercall {
                control: w2,
                input: w3,
                output: w4,
            }),
            UNRECOVERABLE => Ok(Self::UnrecoverableException {
                rip: w2,
                exit_code: w3,
                rsp: w4,
            }),
            TESSERA_HANDLER_DIED => Ok(Self::HandlerDied { message_type: w2 }),
            TESSERA_UNSUPPORTED => Ok(Self::Unsupported {
                exit_code: w2,
                rip: w3,
            }),
            TESSERA_RESET_REQUEST => Ok(Self::ResetRequest),
            TESSERA_GUEST_CRASH => Ok(Self::GuestCrash {
                parameters: [w2, w3, w4, w5],
            }),
            TESSERA_PARTITION_ATTACH => Ok(Self::PartitionAttach {
                name: PartitionName::from_words([w1, w2, w3, w4]),
            }),
            TESSERA_EOI_BROADCAST => u8::try_from(w2)
                .map(|vector| Self::EoiBroadcast { vector })
                .map_err(|_| "vector"),
            TESSERA_INTERRUPT_ACKNOWLEDGE => Ok(Self::InterruptAcknowledge),
            TESSERA_POSTED_WRITES => Ok(Self::PostedWrites),
            TESSERA_PORT_ARRIVAL => u32::try_from(w2)
                .ok()
                .filter(|port| port >> 24 == 0)
                .map(|port| Self::PortArrival { port })
                .ok_or("port"),
            other => return Err(ExitError::Unknown(other)),
        };
        parsed.map_err(|field| ExitError::Malformed {
            message_type,
            field,
        })
    }

    /// Whether this is one of the lifecycle route's kinds (the VP is
    /// stopped when they come).
    pub const fn is_lifecycle(&self) -> bool {
        matches!(
            self,
            Self::UnrecoverableException { .. }
                | Self::HandlerDied { .. }
                | Self::Unsupported { .. }
                | Self::ResetRequest
                | Self::GuestCrash { .. }
        )
    }

    /// Whether a reply's `FAULT` action applies (MSR intercepts only).
    pub const fn may_fault(&self) -> bool {
        matches!(self, Self::Msr { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(words: [u64; 6]) -> Result<Exit, ExitError> {
        Exit::decode(&words)
    }

    #[test]
    fn quick_words_follow_the_abi() {
        let out = Exit::IoPort {
            port: 0x3F8,
            size: 1,
            write: true,
            value: 0x42,
        };
        assert_eq!(out.encode(3), [IO_PORT, 3, 0x3F8, 1, 1, 0x42]);
        let cpuid = Exit::Cpuid {
            leaf: 0x4C00_0000,
            subleaf: 7,
            default: [1, 2, 3, 4],
        };
        assert_eq!(
            cpuid.encode(0),
            [CPUID, 0, 0x4C00_0000, 7, 1 | 2 << 32, 3 | 4 << 32]
        );
        let memory = Exit::Memory {
            gpa: 0xFED0_0000,
            access: MemoryAccess::Write,
            rip: 0x1234,
            unmapped: true,
            size: 4,
            value: 0xCCCC_DDDD,
        };
        assert_eq!(
            memory.encode(1),
            [
                UNMAPPED_GPA,
                1,
                0xFED0_0000,
                1 | 4 << 8,
                0x1234,
                0xCCCC_DDDD
            ]
        );
        let exception = Exit::Exception {
            vector: 6,
            error_code: None,
            fault_address: 0,
        };
        assert_eq!(exception.encode(0), [EXCEPTION, 0, 6, u64::MAX, 0, 0]);
        let attach = Exit::PartitionAttach {
            name: PartitionName::new("linux-guest"),
        };
        assert_eq!(attach.encode(9)[1], u64::from_le_bytes(*b"linux-gu"));
    }

    #[test]
    fn interrupt_acknowledges_have_no_quick_words() {
        let words = Exit::InterruptAcknowledge.encode(0);
        assert_eq!(words, [TESSERA_INTERRUPT_ACKNOWLEDGE, 0, 0, 0, 0, 0]);
        assert_eq!(decode(words), Ok(Exit::InterruptAcknowledge));
        assert!(!Exit::InterruptAcknowledge.is_lifecycle());
        assert!(!Exit::InterruptAcknowledge.may_fault());
        let words = Exit::PostedWrites.encode(1);
        assert_eq!(words, [super::TESSERA_POSTED_WRITES, 1, 0, 0, 0, 0]);
        assert_eq!(decode(words), Ok(Exit::PostedWrites));
        assert!(!Exit::PostedWrites.is_lifecycle());
        assert!(!Exit::PostedWrites.may_fault());
    }

    #[test]
    fn port_arrivals_carry_a_24_bit_port() {
        let arrival = Exit::PortArrival { port: 0xFF_0010 };
        assert_eq!(decode(arrival.encode(1)), Ok(arrival));
        assert!(!arrival.is_lifecycle());
        let mut words = arrival.encode(1);
        words[2] = 1 << 24;
        assert!(matches!(
            decode(words),
            Err(ExitError::Malformed { field: "port", .. })
        ));
    }

    #[test]
    fn eoi_broadcasts_carry_an_8_bit_vector() {
        let eoi = Exit::EoiBroadcast { vector: 0x41 };
        let words = eoi.encode(2);
        assert_eq!(words, [TESSERA_EOI_BROADCAST, 2, 0x41, 0, 0, 0]);
        assert_eq!(decode(words), Ok(eoi));
        assert!(matches!(
            decode([TESSERA_EOI_BROADCAST, 0, 0x100, 0, 0, 0]),
            Err(ExitError::Malformed {
                field: "vector",
                ..
            })
        ));
        assert!(!eoi.is_lifecycle());
    }

    #[test]
    fn written_values_are_masked_to_the_access() {
        assert_eq!(
            decode([IO_PORT, 0, 0x3F8, 1, 1, 0x4142]),
            Ok(Exit::IoPort {
                port: 0x3F8,
                size: 1,
                write: true,
                value: 0x42
            })
        );
        assert_eq!(
            decode([IO_PORT, 3, 0x510, 4, 0, 0xFFFF]),
            Ok(Exit::IoPort {
                port: 0x510,
                size: 4,
                write: false,
                value: 0
            })
        );
        assert_eq!(
            decode([GPA_INTERCEPT, 0, 0x8000, 1, 0x1234, 0x55]),
            Ok(Exit::Memory {
                gpa: 0x8000,
                access: MemoryAccess::Write,
                rip: 0x1234,
                unmapped: false,
                size: 0,
                value: 0
            }),
            "not decoded: no size, no value"
        );
    }

    #[test]
    fn impossible_fields_are_malformed() {
        let cases = [
            ([IO_PORT, 0, 0x3F8, 3, 0, 0], "size"),
            ([IO_PORT, 0, 0x3F8, 0, 0, 0], "size"),
            ([IO_PORT, 0, 0x3F8, 8, 0, 0], "size"),
            ([IO_PORT, 0, 0x1_0000, 1, 0, 0], "port"),
            ([IO_PORT, 0, 0x3F8, 1, 2, 0], "direction"),
            ([MSR, 0, 1 << 32, 0, 0, 0], "msr"),
            ([MSR, 0, 0x10, 7, 0, 0], "direction"),
            ([CPUID, 0, 1 << 40, 0, 0, 0], "leaf"),
            ([CPUID, 0, 1, 1 << 33, 0, 0], "subleaf"),
            ([EXCEPTION, 0, 32, u64::MAX, 0, 0], "vector"),
            ([EXCEPTION, 0, 14, 1 << 32, 0, 0], "error code"),
            ([UNMAPPED_GPA, 0, 0x1000, 3, 0, 0], "access"),
            ([UNMAPPED_GPA, 0, 0x1000, 3 << 8, 0, 0], "size"),
            ([GPA_INTERCEPT, 0, 0x1000, 1 | 16 << 8, 0, 0], "size"),
            ([GPA_INTERCEPT, 0, 0x1000, 1 | 1 << 16, 0, 0], "access"),
        ];
        for (words, field) in cases {
            assert_eq!(
                decode(words),
                Err(ExitError::Malformed {
                    message_type: words[0],
                    field
                }),
                "{words:x?}"
            );
        }
    }

    #[test]
    fn unknown_types_are_kept() {
        for t in [0, 1, 0x8000_0010, 0x8000_0F0F, u64::MAX, 1 << 32 | IO_PORT] {
            assert_eq!(decode([t, 1, 2, 3, 4, 5]), Err(ExitError::Unknown(t)));
        }
    }

    #[test]
    fn lifecycle_kinds_are_told_apart() {
        assert!(
            decode([UNRECOVERABLE, 0, 0x1000, 0x7F, 0x8000, 0])
                .unwrap()
                .is_lifecycle()
        );
        assert!(
            decode([TESSERA_RESET_REQUEST, 2, 9, 9, 9, 9])
                .unwrap()
                .is_lifecycle()
        );
        assert!(!decode([HALT, 0, 0, 0, 0, 0]).unwrap().is_lifecycle());
        assert!(decode([MSR, 0, 0x10, 0, 0, 0]).unwrap().may_fault());
        assert!(!decode([HALT, 0, 0, 0, 0, 0]).unwrap().may_fault());
    }
}
