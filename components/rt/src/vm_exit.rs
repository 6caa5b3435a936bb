//! The handler side of the exit protocol (ABI: `tessera_abi::vm`, "The exit
//! message" and "The reply"): what a component that a partition's route
//! names receives, and how it answers.
//!
//! A VP that exits to a route calls the route's endpoint with the message
//! type in word 0, the VP index in word 1 and the exit's quick fields in
//! words 2-5 (`tessera_abi::vm::quick`); the message buffer holds the TLFS
//! intercept message for the type, then the general registers the route
//! asked for. [`ExitMessage::parse`] turns that into an [`Exit`], and
//! [`ExitReply`] builds the answer:
//!
//! ```ignore
//! Server::new(Endpoint(4)).serve(|badge, call, _| {
//!     let message = ExitMessage::receive(&call);
//!     let reply = match message.exit {
//!         Exit::IoPort { write: false, .. } => ExitReply::new().io_read_result(0xFF).advance_rip(),
//!         Exit::IoPort { write: true, .. } => ExitReply::new().advance_rip(),
//!         Exit::Hypercall { .. } => ExitReply::new().hypercall_result(0),
//!         Exit::PartitionAttach { .. } => ExitReply::accept_attach(),
//!         _ => ExitReply::new().stop(),
//!     };
//!     reply.into_reply()
//! });
//! ```
//!
//! Parsing is total: every combination of words and buffer gives an
//! [`ExitMessage`] (a type this version does not know is
//! [`Exit::Unknown`], a known type with an impossible field is
//! [`Exit::Malformed`]), so a handler never panics on a hostile message.
//! The quick words are authoritative for [`Exit`]; the TLFS intercept
//! message ([`Intercept`]) is extra detail (instruction length, RIP, the
//! CS segment, string-operation bits) read from the buffer when enough
//! words came.
//!
//! # The partition attach message
//!
//! Not the kernel's: the partition manager, before it starts a partition,
//! calls each of the partition's route endpoints through the badged
//! capability the route uses, with word 0 =
//! [`TESSERA_PARTITION_ATTACH`] and the partition's name (32 bytes, NUL
//! padded) in words 1-4 ([`attach_message`] builds it). The handler
//! learns the name behind the badge and answers word 0 = 0
//! ([`ExitReply::accept_attach`]).

use alloc::vec::Vec;
use core::fmt;

use tessera_abi::MESSAGE_WORDS;
use tessera_abi::vm::{
    MAX_REPLY_PAIRS, TESSERA_GUEST_CRASH, TESSERA_HANDLER_DIED, TESSERA_PARTITION_ATTACH,
    TESSERA_RESET_REQUEST, TESSERA_UNSUPPORTED, action,
};
use tlfs::intercept::{
    HvX64CpuidInterceptMessage, HvX64InterceptMessageHeader, HvX64IoPortInterceptMessage,
    HvX64MemoryInterceptMessage, HvX64MsrInterceptMessage,
};
use tlfs::message::HvMessageType;
use tlfs::register::HvRegisterName;
use zerocopy::{FromBytes, IntoBytes};

use crate::error::Error;
use crate::ipc::{Message, Reply};

/// The reply word 0 that accepts a [`TESSERA_PARTITION_ATTACH`].
pub const ATTACH_ACCEPTED: u64 = 0;

/// A partition's name as the attach message carries it: 32 bytes, NUL
/// padded. The bytes come from another component and may be anything;
/// [`fmt::Display`] shows them escaped ([`Escaped`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PartitionName([u8; 32]);

impl PartitionName {
    /// The longest name, in bytes.
    pub const MAX_LEN: usize = 32;

    /// `name`, cut at 32 bytes (at a character boundary).
    pub fn new(name: &str) -> Self {
        let mut len = name.len().min(Self::MAX_LEN);
        while !name.is_char_boundary(len) {
            len -= 1;
        }
        let mut bytes = [0u8; 32];
        bytes[..len].copy_from_slice(&name.as_bytes()[..len]);
        Self(bytes)
    }

    /// The name in words 1-4 of an attach message (little-endian bytes).
    pub fn from_words(words: [u64; 4]) -> Self {
        let mut bytes = [0u8; 32];
        for (chunk, word) in bytes.chunks_exact_mut(8).zip(words) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        Self(bytes)
    }

    /// The four words of an attach message.
    pub fn words(&self) -> [u64; 4] {
        core::array::from_fn(|i| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&self.0[i * 8..i * 8 + 8]);
            u64::from_le_bytes(word)
        })
    }

    /// The name's bytes, up to the first NUL.
    pub fn as_bytes(&self) -> &[u8] {
        let len = self.0.iter().position(|&b| b == 0).unwrap_or(32);
        &self.0[..len]
    }

    /// The name, if it is UTF-8 (up to the first NUL).
    pub fn as_str(&self) -> Option<&str> {
        core::str::from_utf8(self.as_bytes()).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }
}

impl fmt::Display for PartitionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&Escaped(self.as_bytes()), f)
    }
}

impl fmt::Debug for PartitionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PartitionName(\"{self}\")")
    }
}

/// Bytes from a guest or another component, shown safely on a console
/// line: UTF-8 text as it is, except control characters (including
/// newlines and escape sequences) and invalid bytes, which show as
/// `\xNN`, and backslashes, which show doubled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Escaped<'a>(pub &'a [u8]);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        for chunk in self.0.utf8_chunks() {
            for c in chunk.valid().chars() {
                if c == '\\' {
                    f.write_str("\\\\")?;
                } else if c.is_control() {
                    // Control characters in UTF-8 are C0, DEL and C1.
                    let mut buffer = [0u8; 4];
                    for byte in c.encode_utf8(&mut buffer).bytes() {
                        write!(f, "\\x{byte:02x}")?;
                    }
                } else {
                    f.write_char(c)?;
                }
            }
            for byte in chunk.invalid() {
                write!(f, "\\x{byte:02x}")?;
            }
        }
        Ok(())
    }
}

/// The access of a memory exit (quick word 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemoryAccess {
    Read,
    Write,
    Execute,
}

impl MemoryAccess {
    fn from_word(word: u64) -> Option<Self> {
        match word {
            0 => Some(Self::Read),
            1 => Some(Self::Write),
            2 => Some(Self::Execute),
            _ => None,
        }
    }

    /// The quick-word encoding (0 read, 1 write, 2 execute).
    pub const fn word(self) -> u64 {
        match self {
            Self::Read => 0,
            Self::Write => 1,
            Self::Execute => 2,
        }
    }
}

/// What exited, from the message type and the quick words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// `X64_IO_PORT_INTERCEPT`: `IN` or `OUT` of `size` bytes (1, 2 or 4);
    /// `value` is what `OUT` wrote (masked to `size`), 0 for `IN`.
    IoPort {
        port: u16,
        size: u8,
        write: bool,
        value: u32,
    },
    /// `MSR_INTERCEPT`: `RDMSR` or `WRMSR`; `value` is what `WRMSR` wrote
    /// (EDX:EAX), 0 for `RDMSR`.
    Msr { msr: u32, write: bool, value: u64 },
    /// `X64_CPUID_INTERCEPT`: `default` is what the kernel would answer,
    /// `[eax, ebx, ecx, edx]`.
    Cpuid {
        leaf: u32,
        subleaf: u32,
        default: [u32; 4],
    },
    /// `X64_HALT`.
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
    /// what a decoded write wrote (masked to `size`), 0 otherwise.
    Memory {
        gpa: u64,
        access: MemoryAccess,
        rip: u64,
        unmapped: bool,
        size: u8,
        value: u64,
    },
    /// `HYPERCALL_INTERCEPT`: a hypercall whose call code a route takes
    /// (`tessera_abi::vm::intercept::HYPERCALL`), as the guest made it:
    /// `control` is the hypercall input value (RCX: call code, fast bit,
    /// rep count and start, ...), `input` and `output` the input and output
    /// parameters (RDX and R8: GPAs, or for a fast call the first input
    /// words). The kernel decodes nothing beyond the call code, so the
    /// handler validates the call; it answers with
    /// [`ExitReply::hypercall_result`].
    Hypercall {
        control: u64,
        input: u64,
        output: u64,
    },
    /// Lifecycle: `UNRECOVERABLE_EXCEPTION` (a triple fault, `exit_code`
    /// `0x7F`, or an invalid state, `u64::MAX`). The VP is stopped.
    UnrecoverableException { rip: u64, exit_code: u64, rsp: u64 },
    /// Lifecycle: [`TESSERA_HANDLER_DIED`], the handler of `message_type`
    /// died. The VP is stopped.
    HandlerDied { message_type: u64 },
    /// Lifecycle: [`TESSERA_UNSUPPORTED`], an exit the kernel does not
    /// handle. The VP is stopped.
    Unsupported { exit_code: u64, rip: u64 },
    /// Lifecycle: [`TESSERA_RESET_REQUEST`], the guest wrote 1 to
    /// `HV_X64_MSR_RESET` (Hv#1 with `AccessResetReg`). The VP is stopped.
    ResetRequest,
    /// Lifecycle: [`TESSERA_GUEST_CRASH`], the guest wrote CrashNotify to
    /// `HV_X64_MSR_CRASH_CTL` (Hv#1 with the crash MSRs): `parameters` are
    /// `HV_X64_MSR_CRASH_P0`-`P3` (the kernel logs P4 and the message
    /// text). The VP is stopped.
    GuestCrash { parameters: [u64; 4] },
    /// [`TESSERA_PARTITION_ATTACH`]: the partition behind this badge is
    /// `name`.
    PartitionAttach { name: PartitionName },
    /// A type this module knows with a field no kernel sends (an access
    /// size of 3, a vector above 31, ...): `field` names it.
    Malformed {
        message_type: u64,
        field: &'static str,
    },
    /// A message type this module does not know.
    Unknown(u64),
}

/// The TLFS intercept message at the start of the message buffer, for the
/// types that have one (`tlfs::intercept`), if enough words came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intercept {
    /// The type has none here, or the buffer was too short.
    None,
    IoPort(HvX64IoPortInterceptMessage),
    Msr(HvX64MsrInterceptMessage),
    Cpuid(HvX64CpuidInterceptMessage),
    Memory(HvX64MemoryInterceptMessage),
    /// The common header alone: what the kernel sends for the exits the
    /// TLFS defines no body for here (`HLT`, exceptions, routed hypercalls,
    /// and the lifecycle kinds `UNRECOVERABLE_EXCEPTION` and
    /// [`TESSERA_UNSUPPORTED`]).
    Header(HvX64InterceptMessageHeader),
}

impl Intercept {
    /// The common header (VP index, instruction length, CS, RIP, RFLAGS).
    pub fn header(&self) -> Option<&HvX64InterceptMessageHeader> {
        match self {
            Self::None => None,
            Self::IoPort(m) => Some(&m.header),
            Self::Msr(m) => Some(&m.header),
            Self::Cpuid(m) => Some(&m.header),
            Self::Memory(m) => Some(&m.header),
            Self::Header(h) => Some(h),
        }
    }
}

/// The most message-buffer words an exit message carries (the longest
/// TLFS intercept message, 128 bytes, and all sixteen general registers).
pub const EXIT_BUFFER_WORDS: usize = 16 + 16;

/// A received exit message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitMessage {
    /// Word 0: the message type (`HV_MESSAGE_TYPE`, or Tessera's own).
    pub message_type: u64,
    /// Word 1: the VP index (0 for an attach, whose word 1 is the name).
    pub vp_index: u64,
    pub exit: Exit,
    pub intercept: Intercept,
}

/// The message type constant as a word.
const fn ty(t: HvMessageType) -> u64 {
    t.0 as u64
}

const IO_PORT: u64 = ty(HvMessageType::X64_IO_PORT_INTERCEPT);
const MSR: u64 = ty(HvMessageType::MSR_INTERCEPT);
const CPUID: u64 = ty(HvMessageType::X64_CPUID_INTERCEPT);
const EXCEPTION: u64 = ty(HvMessageType::EXCEPTION_INTERCEPT);
const HALT: u64 = ty(HvMessageType::X64_HALT);
const UNMAPPED_GPA: u64 = ty(HvMessageType::UNMAPPED_GPA);
const GPA_INTERCEPT: u64 = ty(HvMessageType::GPA_INTERCEPT);
const UNRECOVERABLE: u64 = ty(HvMessageType::UNRECOVERABLE_EXCEPTION);
const HYPERCALL: u64 = ty(HvMessageType::HYPERCALL_INTERCEPT);

/// The first `T` in `buffer`, if it holds enough bytes.
fn read<T: FromBytes>(buffer: &[u64]) -> Option<T> {
    T::read_from_prefix(buffer.as_bytes()).ok().map(|(t, _)| t)
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
const fn size_mask(size: u8) -> u64 {
    if size >= 8 {
        u64::MAX
    } else {
        (1u64 << (size * 8)) - 1
    }
}

impl Exit {
    /// The exit for message type `message_type` with `words` (all six).
    fn parse(words: &[u64; MESSAGE_WORDS]) -> Self {
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
                // Word 3: access in bits 7:0, size in bytes in bits 15:8.
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
            other => Ok(Self::Unknown(other)),
        };
        parsed.unwrap_or_else(|field| Self::Malformed {
            message_type,
            field,
        })
    }

    /// The message words 0 and 2-5 that carry this exit (word 1, the VP
    /// index, is left 0; for an attach it is the name's first word) — the
    /// inverse of parsing, for tests and for senders of attach messages.
    /// `None` for [`Exit::Malformed`] and [`Exit::Unknown`].
    pub fn to_words(&self) -> Option<[u64; MESSAGE_WORDS]> {
        let words = match *self {
            Self::IoPort {
                port,
                size,
                write,
                value,
            } => [
                IO_PORT,
                0,
                u64::from(port),
                u64::from(size),
                u64::from(write),
                u64::from(value),
            ],
            Self::Msr { msr, write, value } => [MSR, 0, u64::from(msr), u64::from(write), value, 0],
            Self::Cpuid {
                leaf,
                subleaf,
                default: [a, b, c, d],
            } => [
                CPUID,
                0,
                u64::from(leaf),
                u64::from(subleaf),
                u64::from(a) | u64::from(b) << 32,
                u64::from(c) | u64::from(d) << 32,
            ],
            Self::Halt { rflags } => [HALT, 0, rflags, 0, 0, 0],
            Self::Exception {
                vector,
                error_code,
                fault_address,
            } => [
                EXCEPTION,
                0,
                u64::from(vector),
                error_code.map_or(u64::MAX, u64::from),
                fault_address,
                0,
            ],
            Self::Memory {
                gpa,
                access,
                rip,
                unmapped,
                size,
                value,
            } => [
                if unmapped {
                    UNMAPPED_GPA
                } else {
                    GPA_INTERCEPT
                },
                0,
                gpa,
                access.word() | u64::from(size) << 8,
                rip,
                value,
            ],
            Self::Hypercall {
                control,
                input,
                output,
            } => [HYPERCALL, 0, control, input, output, 0],
            Self::UnrecoverableException {
                rip,
                exit_code,
                rsp,
            } => [UNRECOVERABLE, 0, rip, exit_code, rsp, 0],
            Self::HandlerDied { message_type } => [TESSERA_HANDLER_DIED, 0, message_type, 0, 0, 0],
            Self::Unsupported { exit_code, rip } => [TESSERA_UNSUPPORTED, 0, exit_code, rip, 0, 0],
            Self::ResetRequest => [TESSERA_RESET_REQUEST, 0, 0, 0, 0, 0],
            Self::GuestCrash {
                parameters: [p0, p1, p2, p3],
            } => [TESSERA_GUEST_CRASH, 0, p0, p1, p2, p3],
            Self::PartitionAttach { name } => {
                let [a, b, c, d] = name.words();
                [TESSERA_PARTITION_ATTACH, a, b, c, d, 0]
            }
            Self::Malformed { .. } | Self::Unknown(_) => return None,
        };
        Some(words)
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
}

impl ExitMessage {
    /// Parses a received message: its six words as they came, and the
    /// message-buffer words that came with it. Never fails (see the module
    /// documentation).
    pub fn parse(words: &[u64; MESSAGE_WORDS], buffer: &[u64]) -> Self {
        let message_type = words[0];
        let exit = Exit::parse(words);
        let intercept = match message_type {
            IO_PORT => read(buffer).map(Intercept::IoPort),
            MSR => read(buffer).map(Intercept::Msr),
            CPUID => read(buffer).map(Intercept::Cpuid),
            UNMAPPED_GPA | GPA_INTERCEPT => read(buffer).map(Intercept::Memory),
            HALT | EXCEPTION | HYPERCALL | UNRECOVERABLE | TESSERA_UNSUPPORTED => {
                read(buffer).map(Intercept::Header)
            }
            _ => None,
        }
        .unwrap_or(Intercept::None);
        let vp_index = match exit {
            Exit::PartitionAttach { .. } => 0,
            _ => words[1],
        };
        Self {
            message_type,
            vp_index,
            exit,
            intercept,
        }
    }

    /// Parses `message` as a server received it, reading its words from
    /// the thread's message buffer (inside a component only).
    pub fn receive(message: &Message) -> Self {
        // An exit message is at most the longest TLFS body (16 words) and
        // sixteen registers; reading into the stack spares a heap
        // allocation on every exit a handler serves.
        let mut buffer = [0u64; EXIT_BUFFER_WORDS];
        let count = usize::from(message.buffer_words).min(EXIT_BUFFER_WORDS);
        crate::message_buffer::read_into(&mut buffer[..count]);
        Self::parse(&message.words, &buffer[..count])
    }

    /// The TLFS name of the message type, if it has one.
    pub fn type_name(&self) -> Option<&'static str> {
        match self.message_type {
            TESSERA_HANDLER_DIED => Some("TesseraHandlerDied"),
            TESSERA_UNSUPPORTED => Some("TesseraUnsupported"),
            TESSERA_PARTITION_ATTACH => Some("TesseraPartitionAttach"),
            TESSERA_RESET_REQUEST => Some("TesseraResetRequest"),
            TESSERA_GUEST_CRASH => Some("TesseraGuestCrash"),
            t => u32::try_from(t).ok().and_then(|t| HvMessageType(t).name()),
        }
    }
}

/// The general registers a route asked for (`tessera_abi::vm::state`), as
/// they came after the intercept message: the last `mask.count_ones()`
/// words of the message buffer, in mask-bit order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestRegisters {
    mask: u16,
    values: [u64; 16],
}

impl GuestRegisters {
    /// The registers of `mask` (bits above 15 are ignored) at the end of
    /// `buffer`; `None` if fewer words came.
    pub fn from_buffer(buffer: &[u64], mask: u64) -> Option<Self> {
        let mask = (mask & 0xFFFF) as u16;
        let count = mask.count_ones() as usize;
        let tail = buffer.get(buffer.len().checked_sub(count)?..)?;
        let mut values = [0u64; 16];
        let set = (0..16).filter(|bit| mask & (1 << bit) != 0);
        for (bit, value) in set.zip(tail) {
            values[bit] = *value;
        }
        Some(Self { mask, values })
    }

    /// The register of the one bit in `register` (`tessera_abi::vm::state`,
    /// for example `state::RAX`), if the route asked for it.
    pub fn get(&self, register: u64) -> Option<u64> {
        if register.count_ones() != 1 || register > 0xFFFF {
            return None;
        }
        let bit = register.trailing_zeros() as usize;
        (self.mask & (1 << bit) != 0).then_some(self.values[bit])
    }
}

/// A reply to an exit message (ABI: "The reply"), built up from nothing
/// (which resumes the guest at the same instruction, unchanged).
///
/// The builder does not judge combinations: the kernel checks the reply
/// (a #GP from [`ExitReply::msr_fault`] should not advance RIP, for
/// example).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExitReply {
    actions: u64,
    event: u64,
    result: [u64; 2],
    registers: Vec<(HvRegisterName, u64)>,
}

impl ExitReply {
    /// No action: the guest re-runs the exiting instruction.
    pub const fn new() -> Self {
        Self {
            actions: 0,
            event: 0,
            result: [0; 2],
            registers: Vec::new(),
        }
    }

    /// The answer to a [`Exit::PartitionAttach`]: word 0 =
    /// [`ATTACH_ACCEPTED`].
    pub const fn accept_attach() -> Self {
        Self::new()
    }

    /// Moves RIP past the intercepted instruction.
    #[must_use]
    pub fn advance_rip(mut self) -> Self {
        self.actions |= action::ADVANCE_RIP;
        self
    }

    /// The value an `IN` reads (the kernel merges the low `size` bytes into
    /// RAX).
    #[must_use]
    pub fn io_read_result(self, value: u32) -> Self {
        self.result([u64::from(value), 0])
    }

    /// The value a decoded MMIO read ([`Exit::Memory`] with a `size`)
    /// reads: the kernel puts its low `size` bytes into the instruction's
    /// destination register as the instruction would (zero-extended for
    /// 32 bits, merged for 8 and 16).
    #[must_use]
    pub fn memory_read_result(self, value: u64) -> Self {
        self.result([value, 0])
    }

    /// The value an `RDMSR` reads (EDX:EAX).
    #[must_use]
    pub fn msr_read_result(self, value: u64) -> Self {
        self.result([value, 0])
    }

    /// Completes a routed hypercall ([`Exit::Hypercall`]): `result_value`
    /// goes to RAX (`HV_HYPERCALL_RESULT_VALUE`: the status in bits 15:0,
    /// the reps completed in bits 43:32), and RIP moves past the VMMCALL.
    /// A fast call's output registers go with
    /// [`set_register`](Self::set_register) (`HvRegisterName::X64_RDX`,
    /// `X64_R8`).
    #[must_use]
    pub fn hypercall_result(self, result_value: u64) -> Self {
        self.result([result_value, 0]).advance_rip()
    }

    /// The MSR access raises #GP (do not advance RIP with it).
    #[must_use]
    pub fn msr_fault(mut self) -> Self {
        self.actions |= action::FAULT;
        self
    }

    /// What `CPUID` returns, `[eax, ebx, ecx, edx]`.
    #[must_use]
    pub fn cpuid_result(self, [eax, ebx, ecx, edx]: [u32; 4]) -> Self {
        self.result([
            u64::from(eax) | u64::from(ebx) << 32,
            u64::from(ecx) | u64::from(edx) << 32,
        ])
    }

    /// Injects `event` (`tessera_abi::vm::event`) before the guest runs.
    #[must_use]
    pub fn inject(mut self, event: u64) -> Self {
        self.actions |= action::INJECT;
        self.event = event;
        self
    }

    /// Stops the VP (it runs again only after `VpStart`).
    #[must_use]
    pub fn stop(mut self) -> Self {
        self.actions |= action::STOP;
        self
    }

    /// Sets a general register, `RIP` or `RFLAGS` (the last value for a
    /// name wins in the kernel's order of application).
    #[must_use]
    pub fn set_register(mut self, name: HvRegisterName, value: u64) -> Self {
        self.actions |= action::SET_REGISTERS;
        self.registers.push((name, value));
        self
    }

    fn result(mut self, result: [u64; 2]) -> Self {
        self.actions |= action::RESULT;
        self.result = result;
        self
    }

    /// The [`action`] bits.
    pub const fn actions(&self) -> u64 {
        self.actions
    }

    /// The six reply words.
    pub fn words(&self) -> [u64; MESSAGE_WORDS] {
        [
            self.actions,
            self.event,
            self.result[0],
            self.result[1],
            0,
            0,
        ]
    }

    /// The message-buffer words: `(HV_REGISTER_NAME, value)` pairs.
    pub fn buffer_words(&self) -> Vec<u64> {
        self.registers
            .iter()
            .flat_map(|&(name, value)| [u64::from(name.0), value])
            .collect()
    }

    /// The reply as a message, with its register pairs written to the
    /// thread's message buffer (inside a component only). More than
    /// [`MAX_REPLY_PAIRS`] pairs is `InvalidArgument`.
    pub fn into_message(self) -> Result<Message, Error> {
        let message = Message::new(self.words());
        if self.registers.is_empty() {
            return Ok(message);
        }
        if self.registers.len() > MAX_REPLY_PAIRS {
            return Err(Error::from(tessera_abi::Status::InvalidArgument));
        }
        let count = crate::message_buffer::write(&self.buffer_words())?;
        Ok(message.with_buffer_words(count))
    }

    /// The reply for [`crate::Server::serve`]; if the register pairs do not
    /// fit ([`ExitReply::into_message`] fails), the VP is stopped instead.
    pub fn into_reply(self) -> Reply {
        match self.into_message() {
            Ok(message) => Reply::new(message),
            Err(e) => {
                log::error!("exit reply: {e}; stopping the VP instead");
                Reply::new(Message::new(Self::new().stop().words()))
            }
        }
    }
}

/// The attach message for a partition called `name` (cut at 32 bytes),
/// which the partition manager sends to each route endpoint.
pub fn attach_message(name: &str) -> Message {
    let [a, b, c, d] = PartitionName::new(name).words();
    Message::new([TESSERA_PARTITION_ATTACH, a, b, c, d, 0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;
    use proptest::prelude::*;
    use tessera_abi::vm::{event, state};
    use tlfs::intercept::{HvInterceptAccessType, HvX64IoPortAccessInfo};
    use zerocopy::FromZeros;

    fn parse(words: [u64; 6]) -> Exit {
        ExitMessage::parse(&words, &[]).exit
    }

    /// The buffer words for a TLFS structure (padded to whole words).
    fn buffer_of<T: IntoBytes + zerocopy::Immutable>(value: &T) -> Vec<u64> {
        value
            .as_bytes()
            .chunks(8)
            .map(|chunk| {
                let mut word = [0u8; 8];
                word[..chunk.len()].copy_from_slice(chunk);
                u64::from_le_bytes(word)
            })
            .collect()
    }

    #[test]
    fn io_port_exits() {
        assert_eq!(
            parse([IO_PORT, 0, 0x3F8, 1, 1, 0x4142]),
            Exit::IoPort {
                port: 0x3F8,
                size: 1,
                write: true,
                value: 0x42
            },
            "the written value is masked to the access size"
        );
        assert_eq!(
            parse([IO_PORT, 3, 0x510, 4, 0, 0xFFFF]),
            Exit::IoPort {
                port: 0x510,
                size: 4,
                write: false,
                value: 0
            }
        );
        let message = ExitMessage::parse(&[IO_PORT, 3, 0x510, 2, 0, 0], &[]);
        assert_eq!(message.vp_index, 3);
        assert_eq!(message.intercept, Intercept::None);
        assert_eq!(message.type_name(), Some("HvMessageTypeX64IoPortIntercept"));
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
                parse(words),
                Exit::Malformed {
                    message_type: words[0],
                    field
                },
                "{words:x?}"
            );
        }
    }

    #[test]
    fn msr_cpuid_halt_exception_memory() {
        assert_eq!(
            parse([MSR, 0, 0x4C00_0001, 1, 0xDEAD_BEEF_0000_0001, 0]),
            Exit::Msr {
                msr: 0x4C00_0001,
                write: true,
                value: 0xDEAD_BEEF_0000_0001
            }
        );
        assert_eq!(
            parse([MSR, 0, 0x10, 0, 99, 0]),
            Exit::Msr {
                msr: 0x10,
                write: false,
                value: 0
            }
        );
        assert_eq!(
            parse([
                CPUID,
                0,
                0x4C00_0000,
                7,
                0x2222_2222_1111_1111,
                0x4444_4444_3333_3333
            ]),
            Exit::Cpuid {
                leaf: 0x4C00_0000,
                subleaf: 7,
                default: [0x1111_1111, 0x2222_2222, 0x3333_3333, 0x4444_4444]
            }
        );
        assert_eq!(
            parse([HALT, 0, 0x202, 0, 0, 0]),
            Exit::Halt { rflags: 0x202 }
        );
        assert_eq!(
            parse([EXCEPTION, 0, 14, 2, 0xdead_0000, 0]),
            Exit::Exception {
                vector: 14,
                error_code: Some(2),
                fault_address: 0xdead_0000
            }
        );
        assert_eq!(
            parse([EXCEPTION, 0, 6, u64::MAX, 0, 0]),
            Exit::Exception {
                vector: 6,
                error_code: None,
                fault_address: 0
            }
        );
        assert_eq!(
            parse([GPA_INTERCEPT, 0, 0x8000, 1, 0x1234, 0x55]),
            Exit::Memory {
                gpa: 0x8000,
                access: MemoryAccess::Write,
                rip: 0x1234,
                unmapped: false,
                size: 0,
                value: 0
            },
            "not decoded: no size, no value"
        );
        assert_eq!(
            parse([UNMAPPED_GPA, 0, 0x8000, 2, 0x1234, 0]),
            Exit::Memory {
                gpa: 0x8000,
                access: MemoryAccess::Execute,
                rip: 0x1234,
                unmapped: true,
                size: 0,
                value: 0
            }
        );
        assert_eq!(
            parse([
                UNMAPPED_GPA,
                0,
                0xFED0_0000,
                1 | 4 << 8,
                0x1234,
                0xAAAA_BBBB_CCCC_DDDD
            ]),
            Exit::Memory {
                gpa: 0xFED0_0000,
                access: MemoryAccess::Write,
                rip: 0x1234,
                unmapped: true,
                size: 4,
                value: 0xCCCC_DDDD
            },
            "a decoded 32-bit write: the value masked to 4 bytes"
        );
        assert_eq!(
            parse([UNMAPPED_GPA, 0, 0xFED0_0008, 8 << 8, 0x1234, 0x99]),
            Exit::Memory {
                gpa: 0xFED0_0008,
                access: MemoryAccess::Read,
                rip: 0x1234,
                unmapped: true,
                size: 8,
                value: 0
            },
            "a decoded read carries no value"
        );
        assert_eq!(
            parse([UNMAPPED_GPA, 0, 0xFED0_0000, 1 | 8 << 8, 0, u64::MAX]),
            Exit::Memory {
                gpa: 0xFED0_0000,
                access: MemoryAccess::Write,
                rip: 0,
                unmapped: true,
                size: 8,
                value: u64::MAX
            }
        );
    }

    #[test]
    fn lifecycle_kinds() {
        let exit = parse([UNRECOVERABLE, 0, 0x1000, 0x7F, 0x8000, 0]);
        assert_eq!(
            exit,
            Exit::UnrecoverableException {
                rip: 0x1000,
                exit_code: 0x7F,
                rsp: 0x8000
            }
        );
        assert!(exit.is_lifecycle());
        assert_eq!(
            parse([TESSERA_HANDLER_DIED, 0, IO_PORT, 0, 0, 0]),
            Exit::HandlerDied {
                message_type: IO_PORT
            }
        );
        assert_eq!(
            parse([TESSERA_UNSUPPORTED, 0, 0x6E, 0x1000, 0, 0]),
            Exit::Unsupported {
                exit_code: 0x6E,
                rip: 0x1000
            }
        );
        assert!(!parse([HALT, 0, 0, 0, 0, 0]).is_lifecycle());
        let message = ExitMessage::parse(&[TESSERA_HANDLER_DIED, 0, 0, 0, 0, 0], &[]);
        assert_eq!(message.type_name(), Some("TesseraHandlerDied"));
    }

    #[test]
    fn hv1_lifecycle_messages() {
        let reset = ExitMessage::parse(&[TESSERA_RESET_REQUEST, 2, 9, 9, 9, 9], &[]);
        assert_eq!(reset.exit, Exit::ResetRequest);
        assert_eq!(reset.vp_index, 2);
        assert!(reset.exit.is_lifecycle());
        assert_eq!(reset.type_name(), Some("TesseraResetRequest"));
        assert_eq!(reset.intercept, Intercept::None);
        let crash = ExitMessage::parse(&[TESSERA_GUEST_CRASH, 0, 0xDEAD, 1, 2, 3], &[7; 20]);
        assert_eq!(
            crash.exit,
            Exit::GuestCrash {
                parameters: [0xDEAD, 1, 2, 3]
            }
        );
        assert!(crash.exit.is_lifecycle());
        assert_eq!(crash.type_name(), Some("TesseraGuestCrash"));
        assert_eq!(crash.intercept, Intercept::None);
        assert_eq!(
            crash.exit.to_words(),
            Some([TESSERA_GUEST_CRASH, 0, 0xDEAD, 1, 2, 3])
        );
    }

    #[test]
    fn hypercall_exits() {
        // HvCallNotifyLongSpinWait, fast, with a rep count the kernel does
        // not judge: the words come as the guest wrote them.
        let control = 0x0008 | 1 << 16 | 3 << 32;
        let words = [HYPERCALL, 1, control, 0xAAAA, 0xBBBB, 0];
        let mut header = HvX64InterceptMessageHeader::new_zeroed();
        header.vp_index = 1;
        header.instruction_length = 3;
        header.intercept_access_type = HvInterceptAccessType::EXECUTE;
        header.rip = 0x10_2030;
        let mut buffer = buffer_of(&header);
        assert_eq!(buffer.len(), 5);
        // RCX and RDX after the header.
        buffer.extend([control, 0xAAAA]);
        let message = ExitMessage::parse(&words, &buffer);
        assert_eq!(
            message.exit,
            Exit::Hypercall {
                control,
                input: 0xAAAA,
                output: 0xBBBB
            }
        );
        assert!(!message.exit.is_lifecycle());
        assert_eq!(message.vp_index, 1);
        assert_eq!(message.type_name(), Some("HvMessageTypeHypercallIntercept"));
        assert_eq!(message.intercept, Intercept::Header(header));
        assert_eq!(message.intercept.header().map(|h| h.rip), Some(0x10_2030));
        let registers = GuestRegisters::from_buffer(&buffer, state::RCX | state::RDX).unwrap();
        assert_eq!(registers.get(state::RCX), Some(control));
        assert_eq!(
            message.exit.to_words(),
            Some([HYPERCALL, 0, control, 0xAAAA, 0xBBBB, 0])
        );
        // Without the header: still the exit.
        let short = ExitMessage::parse(&words, &buffer[..4]);
        assert_eq!(short.intercept, Intercept::None);
        assert_eq!(short.exit, message.exit);
        // Word 5 is not part of the exit; any input value is a hypercall.
        assert_eq!(
            parse([HYPERCALL, 0, u64::MAX, u64::MAX, u64::MAX, 7]),
            Exit::Hypercall {
                control: u64::MAX,
                input: u64::MAX,
                output: u64::MAX
            }
        );
    }

    #[test]
    fn unknown_types_are_kept() {
        for t in [0, 1, 0x8000_0010, 0x8000_0F05, u64::MAX, 1 << 32 | IO_PORT] {
            assert_eq!(parse([t, 1, 2, 3, 4, 5]), Exit::Unknown(t));
        }
        assert_eq!(ExitMessage::parse(&[u64::MAX; 6], &[]).type_name(), None);
    }

    #[test]
    fn attach_messages_carry_the_name() {
        let message = attach_message("linux-guest");
        assert_eq!(message.words[0], TESSERA_PARTITION_ATTACH);
        assert_eq!(message.words[1], u64::from_le_bytes(*b"linux-gu"));
        let parsed = ExitMessage::parse(&message.words, &[]);
        assert_eq!(parsed.vp_index, 0);
        let Exit::PartitionAttach { name } = parsed.exit else {
            panic!("not an attach: {parsed:?}");
        };
        assert_eq!(name.as_str(), Some("linux-guest"));
        assert_eq!(name.to_string(), "linux-guest");
        assert_eq!(
            ExitReply::accept_attach().words()[0],
            ATTACH_ACCEPTED,
            "word 0 = 0 accepts"
        );
    }

    #[test]
    fn names_are_cut_and_escaped() {
        let long = PartitionName::new(&"x".repeat(40));
        assert_eq!(long.as_bytes().len(), 32);
        // 31 ASCII bytes then a 2-byte character: cut before it.
        let name = "a".repeat(31) + "é";
        assert_eq!(PartitionName::new(&name).as_bytes().len(), 31);
        assert!(PartitionName::new("").is_empty());
        let hostile = PartitionName::from_words([
            u64::from_le_bytes(*b"a\nb\x1b[2J!"),
            u64::from_le_bytes([0xFF, b'\\', b'c', 0, b'z', 0, 0, 0]),
            0,
            0,
        ]);
        assert_eq!(hostile.to_string(), "a\\x0ab\\x1b[2J!\\xff\\\\c");
        assert_eq!(hostile.as_str(), None);
        assert_eq!(
            Escaped("tab\tok ✓\u{85}".as_bytes()).to_string(),
            "tab\\x09ok ✓\\xc2\\x85"
        );
        assert_eq!(PartitionName::from_words(long.words()), long);
    }

    #[test]
    fn intercept_messages_come_from_the_buffer() {
        let mut body = HvX64IoPortInterceptMessage::new_zeroed();
        body.header.vp_index = 2;
        body.header.instruction_length = 1;
        body.header.intercept_access_type = HvInterceptAccessType::WRITE;
        body.header.rip = 0x1_0000;
        body.port_number = 0x3F8;
        body.access_info = HvX64IoPortAccessInfo::new().with_access_size(1);
        body.rax = 0x41;
        let mut buffer = buffer_of(&body);
        assert_eq!(buffer.len(), 16);
        // RAX and RDX after the message.
        buffer.extend([0x41, 0x3F8]);
        let message = ExitMessage::parse(&[IO_PORT, 2, 0x3F8, 1, 1, 0x41], &buffer);
        assert_eq!(message.intercept, Intercept::IoPort(body));
        assert_eq!(message.intercept.header().map(|h| h.rip), Some(0x1_0000));
        let registers = GuestRegisters::from_buffer(&buffer, state::RAX | state::RDX).unwrap();
        assert_eq!(registers.get(state::RAX), Some(0x41));
        assert_eq!(registers.get(state::RDX), Some(0x3F8));
        assert_eq!(registers.get(state::RCX), None);
        assert_eq!(registers.get(state::RAX | state::RDX), None);
        assert_eq!(registers.get(0), None);
        assert_eq!(registers.get(1 << 20), None);

        // A buffer one word short of the message: no intercept, still an exit.
        let short = ExitMessage::parse(&[IO_PORT, 2, 0x3F8, 1, 1, 0x41], &buffer[..15]);
        assert_eq!(short.intercept, Intercept::None);
        assert!(matches!(short.exit, Exit::IoPort { port: 0x3F8, .. }));

        let mut msr = HvX64MsrInterceptMessage::new_zeroed();
        msr.msr_number = 0x4C00_0003;
        let message = ExitMessage::parse(&[MSR, 0, 0x4C00_0003, 0, 0, 0], &buffer_of(&msr));
        assert_eq!(message.intercept, Intercept::Msr(msr));
        let mut cpuid = HvX64CpuidInterceptMessage::new_zeroed();
        cpuid.rax = 0x4C00_0000;
        let message = ExitMessage::parse(&[CPUID, 0, 0x4C00_0000, 0, 0, 0], &buffer_of(&cpuid));
        assert_eq!(message.intercept, Intercept::Cpuid(cpuid));
        let mut memory = HvX64MemoryInterceptMessage::new_zeroed();
        memory.guest_physical_address = 0xF000_0000;
        let message = ExitMessage::parse(
            &[UNMAPPED_GPA, 0, 0xF000_0000, 0, 0, 0],
            &buffer_of(&memory),
        );
        assert_eq!(message.intercept, Intercept::Memory(memory));
        assert_eq!(
            ExitMessage::parse(&[HALT, 0, 0, 0, 0, 0], &buffer).intercept,
            Intercept::Header(body.header),
            "HLT: the header alone"
        );
        for t in [EXCEPTION, UNRECOVERABLE, TESSERA_UNSUPPORTED] {
            let message = ExitMessage::parse(&[t, 0, 0, 0, 0, 0], &buffer[..5]);
            assert_eq!(message.intercept.header(), Some(&body.header));
        }
        assert_eq!(
            ExitMessage::parse(&[HALT, 0, 0, 0, 0, 0], &buffer[..4]).intercept,
            Intercept::None
        );
        assert_eq!(
            ExitMessage::parse(&[TESSERA_HANDLER_DIED, 0, 0, 0, 0, 0], &buffer).intercept,
            Intercept::None
        );
    }

    #[test]
    fn registers_need_enough_words() {
        assert_eq!(
            GuestRegisters::from_buffer(&[1], state::RAX | state::RCX),
            None
        );
        let all: Vec<u64> = (0..16).collect();
        let registers = GuestRegisters::from_buffer(&all, state::ALL).unwrap();
        assert_eq!(registers.get(state::RDI), Some(7));
        assert_eq!(registers.get(1 << 15), Some(15));
        let none = GuestRegisters::from_buffer(&[], 0).unwrap();
        assert_eq!(none.get(state::RAX), None);
    }

    #[test]
    fn reply_words_follow_the_abi() {
        assert_eq!(ExitReply::new().words(), [0; 6]);
        assert_eq!(
            ExitReply::new().io_read_result(0xAB).advance_rip().words(),
            [action::ADVANCE_RIP | action::RESULT, 0, 0xAB, 0, 0, 0]
        );
        assert_eq!(
            ExitReply::new()
                .msr_read_result(u64::MAX)
                .advance_rip()
                .words(),
            [action::ADVANCE_RIP | action::RESULT, 0, u64::MAX, 0, 0, 0]
        );
        assert_eq!(ExitReply::new().msr_fault().words()[0], action::FAULT);
        assert_eq!(
            ExitReply::new()
                .memory_read_result(0x1122_3344_5566_7788)
                .advance_rip()
                .words(),
            [
                action::ADVANCE_RIP | action::RESULT,
                0,
                0x1122_3344_5566_7788,
                0,
                0,
                0
            ]
        );
        assert_eq!(
            ExitReply::new()
                .cpuid_result([1, 2, 3, 4])
                .advance_rip()
                .words(),
            [
                action::ADVANCE_RIP | action::RESULT,
                0,
                1 | 2 << 32,
                3 | 4 << 32,
                0,
                0
            ]
        );
        let gp = event::new(13, event::TYPE_EXCEPTION) | event::ERROR_CODE_VALID;
        assert_eq!(
            ExitReply::new().inject(gp).words(),
            [action::INJECT, gp, 0, 0, 0, 0]
        );
        assert_eq!(ExitReply::new().stop().actions(), action::STOP);
        // A routed hypercall: the result value for RAX, RIP past VMMCALL,
        // fast output in RDX and R8.
        let reply = ExitReply::new()
            .hypercall_result(3 << 32)
            .set_register(HvRegisterName::X64_RDX, 0x1122)
            .set_register(HvRegisterName::X64_R8, 0x3344);
        assert_eq!(
            reply.words(),
            [
                action::ADVANCE_RIP | action::RESULT | action::SET_REGISTERS,
                0,
                3 << 32,
                0,
                0,
                0
            ]
        );
        assert_eq!(
            reply.buffer_words(),
            [
                u64::from(HvRegisterName::X64_RDX.0),
                0x1122,
                u64::from(HvRegisterName::X64_R8.0),
                0x3344
            ]
        );
        let reply = ExitReply::new()
            .set_register(HvRegisterName::X64_RAX, 5)
            .set_register(HvRegisterName::X64_RIP, 0x2000);
        assert_eq!(reply.actions(), action::SET_REGISTERS);
        assert_eq!(reply.buffer_words(), [0x0002_0000, 5, 0x0002_0010, 0x2000]);
        assert!(ExitReply::new().buffer_words().is_empty());
    }

    fn exit_strategy() -> impl Strategy<Value = Exit> {
        prop_oneof![
            (
                any::<u16>(),
                prop::sample::select(&[1u8, 2, 4][..]),
                any::<bool>(),
                any::<u32>()
            )
                .prop_map(|(port, size, write, value)| Exit::IoPort {
                    port,
                    size,
                    write,
                    value: if write {
                        (u64::from(value) & size_mask(size)) as u32
                    } else {
                        0
                    },
                }),
            (any::<u32>(), any::<bool>(), any::<u64>()).prop_map(|(msr, write, value)| Exit::Msr {
                msr,
                write,
                value: if write { value } else { 0 },
            }),
            (any::<u32>(), any::<u32>(), any::<[u32; 4]>()).prop_map(|(leaf, subleaf, default)| {
                Exit::Cpuid {
                    leaf,
                    subleaf,
                    default,
                }
            }),
            any::<u64>().prop_map(|rflags| Exit::Halt { rflags }),
            (0u8..32, any::<Option<u32>>(), any::<u64>()).prop_map(
                |(vector, error_code, fault_address)| Exit::Exception {
                    vector,
                    error_code,
                    fault_address
                }
            ),
            (
                any::<u64>(),
                0u64..3,
                any::<u64>(),
                any::<bool>(),
                prop::sample::select(&[0u8, 1, 2, 4, 8][..]),
                any::<u64>()
            )
                .prop_map(|(gpa, access, rip, unmapped, size, value)| {
                    let access = MemoryAccess::from_word(access).unwrap();
                    Exit::Memory {
                        gpa,
                        access,
                        rip,
                        unmapped,
                        size,
                        value: if access == MemoryAccess::Write && size != 0 {
                            value & size_mask(size)
                        } else {
                            0
                        },
                    }
                }),
            (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(rip, exit_code, rsp)| {
                Exit::UnrecoverableException {
                    rip,
                    exit_code,
                    rsp,
                }
            }),
            any::<u64>().prop_map(|message_type| Exit::HandlerDied { message_type }),
            (any::<u64>(), any::<u64>())
                .prop_map(|(exit_code, rip)| Exit::Unsupported { exit_code, rip }),
            any::<[u64; 4]>().prop_map(|words| Exit::PartitionAttach {
                name: PartitionName::from_words(words)
            }),
            Just(Exit::ResetRequest),
            any::<[u64; 4]>().prop_map(|parameters| Exit::GuestCrash { parameters }),
            any::<[u64; 3]>().prop_map(|[control, input, output]| Exit::Hypercall {
                control,
                input,
                output
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any words and any buffer parse, and the result is consistent.
        #[test]
        fn parsing_never_panics(
            words in any::<[u64; 6]>(),
            kind in 0usize..15,
            buffer in prop::collection::vec(any::<u64>(), 0..40),
            mask in any::<u64>(),
        ) {
            // Half the time, a type this module knows.
            let known = [IO_PORT, MSR, CPUID, EXCEPTION, HALT, UNMAPPED_GPA, GPA_INTERCEPT,
                UNRECOVERABLE, TESSERA_HANDLER_DIED, TESSERA_UNSUPPORTED, TESSERA_PARTITION_ATTACH,
                TESSERA_RESET_REQUEST, TESSERA_GUEST_CRASH, HYPERCALL];
            let mut words = words;
            if let Some(&t) = known.get(kind) {
                words[0] = t;
            }
            let message = ExitMessage::parse(&words, &buffer);
            prop_assert_eq!(message.message_type, words[0]);
            match message.exit {
                Exit::Unknown(t) => prop_assert!(!known.contains(&t)),
                Exit::Malformed { message_type, .. } => prop_assert!(known.contains(&message_type)),
                Exit::IoPort { size, value, .. } => {
                    prop_assert!(matches!(size, 1 | 2 | 4));
                    prop_assert_eq!(u64::from(value) & !size_mask(size), 0);
                }
                Exit::Exception { vector, .. } => prop_assert!(vector < 32),
                Exit::GuestCrash { parameters } => {
                    prop_assert_eq!(message.message_type, TESSERA_GUEST_CRASH);
                    prop_assert_eq!(&parameters[..], &words[2..]);
                }
                Exit::ResetRequest => prop_assert_eq!(message.message_type, TESSERA_RESET_REQUEST),
                Exit::Hypercall { control, input, output } => {
                    prop_assert_eq!(message.message_type, HYPERCALL);
                    prop_assert_eq!([control, input, output], [words[2], words[3], words[4]]);
                    // The header, when the buffer holds one.
                    prop_assert_eq!(
                        message.intercept.header().is_some(),
                        buffer.len() >= 5
                    );
                }
                Exit::Memory { access, size, value, .. } => {
                    prop_assert!(matches!(size, 0 | 1 | 2 | 4 | 8));
                    if access != MemoryAccess::Write || size == 0 {
                        prop_assert_eq!(value, 0);
                    } else {
                        prop_assert_eq!(value & !size_mask(size), 0);
                    }
                }
                _ => {}
            }
            let _ = message.type_name();
            if let Some(registers) = GuestRegisters::from_buffer(&buffer, mask) {
                let _ = registers.get(mask);
            }
            if let Exit::PartitionAttach { name } = message.exit {
                let _ = name.to_string();
            }
        }

        /// What a kernel sends comes back as the same exit.
        #[test]
        fn exits_round_trip(exit in exit_strategy(), vp in 0u64..64) {
            let mut words = exit.to_words().unwrap();
            if !matches!(exit, Exit::PartitionAttach { .. }) {
                words[1] = vp;
            }
            let message = ExitMessage::parse(&words, &[]);
            prop_assert_eq!(message.exit, exit);
        }

        /// Any byte string displays without control characters.
        #[test]
        fn escaped_text_has_no_control_characters(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let text = Escaped(&bytes).to_string();
            prop_assert!(!text.chars().any(char::is_control));
        }

        /// Replies carry only defined action bits, whatever is combined.
        #[test]
        fn replies_use_defined_actions(steps in prop::collection::vec(0u8..10, 0..10), value in any::<u64>()) {
            let mut reply = ExitReply::new();
            for step in steps {
                reply = match step {
                    0 => reply.advance_rip(),
                    1 => reply.io_read_result(value as u32),
                    2 => reply.msr_read_result(value),
                    3 => reply.msr_fault(),
                    4 => reply.cpuid_result([value as u32, (value >> 32) as u32, 0, 0]),
                    5 => reply.inject(value & event::VECTOR_MASK),
                    6 => reply.stop(),
                    7 => reply.memory_read_result(value),
                    8 => reply.hypercall_result(value),
                    _ => reply.set_register(HvRegisterName::X64_RAX, value),
                };
            }
            prop_assert_eq!(reply.words()[0] & !action::ALL, 0);
            prop_assert_eq!(reply.buffer_words().len() % 2, 0);
        }
    }
}

/// A handler's answer to one exit, and what to log about it (guest output,
/// attaches, refusals), in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handled {
    pub reply: ExitReply,
    pub log: Vec<(log::Level, alloc::string::String)>,
}

impl From<ExitReply> for Handled {
    fn from(reply: ExitReply) -> Self {
        Self {
            reply,
            log: Vec::new(),
        }
    }
}

/// Serves the exits that reach `endpoint` forever: each call is parsed,
/// `handle` answers it for the calling partition's badge, its log lines go
/// to the component's log, and the reply goes back to the VP.
pub fn serve_exits(
    endpoint: crate::Endpoint,
    mut handle: impl FnMut(u64, &ExitMessage) -> Handled,
) -> ! {
    crate::Server::new(endpoint).serve(|badge, call: Message, _| -> Reply {
        let message = ExitMessage::receive(&call);
        let handled = handle(badge, &message);
        for (level, line) in &handled.log {
            log::log!(*level, "{line}");
        }
        handled.reply.into_reply()
    })
}
