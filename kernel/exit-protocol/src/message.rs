//! A whole exit message: the register words ([`Exit`]), then in the
//! message buffer the writes the kernel posted on the route
//! ([`crate::posted`], their count in word 1), the TLFS intercept message
//! for the type ([`Intercept`], padded to whole words), then the general
//! registers the route asked for ([`GuestRegisters`], one word each in
//! mask-bit order).
use tessera_abi::MESSAGE_WORDS;
use tlfs::intercept::{
    HvX64CpuidInterceptMessage, HvX64InterceptMessageHeader, HvX64IoPortInterceptMessage,
    HvX64MemoryInterceptMessage, HvX64MsrInterceptMessage,
};
use tlfs::message::HvMessageType;
use zerocopy::{FromBytes, Immutable, IntoBytes};

use crate::exit::message_type::{
    CPUID, EXCEPTION, GPA_INTERCEPT, GUEST_CRASH, HALT, HANDLER_DIED, HYPERCALL, IO_PORT, MSR,
    PARTITION_ATTACH, POSTED_WRITES, RESET_REQUEST, UNMAPPED_GPA, UNRECOVERABLE, UNSUPPORTED,
};
use crate::exit::{Exit, ExitError};
use crate::{EXIT_BUFFER_WORDS, GENERAL_REGISTERS};

mod sealed {
    pub trait Sealed {}
}

/// A TLFS intercept message an exit message carries: the body of one of
/// the types in [`Intercept`].
pub trait InterceptBody: IntoBytes + Immutable + sealed::Sealed {}

macro_rules! bodies {
    ($($body:ty),*) => {$(
        impl sealed::Sealed for $body {}
        impl InterceptBody for $body {}
    )*};
}
bodies!(
    HvX64IoPortInterceptMessage,
    HvX64MsrInterceptMessage,
    HvX64CpuidInterceptMessage,
    HvX64MemoryInterceptMessage,
    HvX64InterceptMessageHeader
);

/// An exit message as the kernel sends it: built in place, word by word
/// (every move or byte copy of it is paid on each forwarded exit). One
/// kept and [restarted](Self::restart) for each exit is not even zeroed:
/// the buffer past its words is never read, so a message equals another
/// with the same words and buffer words.
#[derive(Clone, Debug)]
pub struct EncodedExit {
    pub words: [u64; MESSAGE_WORDS],
    buffer: [u64; EXIT_BUFFER_WORDS],
    buffer_words: usize,
}

impl EncodedExit {
    /// The register words of `exit` from VP `vp_index`, with an empty
    /// buffer.
    #[inline(always)]
    pub fn new(exit: &Exit, vp_index: u32) -> Self {
        Self {
            words: exit.encode(vp_index),
            buffer: [0; EXIT_BUFFER_WORDS],
            buffer_words: 0,
        }
    }

    /// Makes this message `exit`'s from VP `vp_index`, with an empty
    /// buffer: [`EncodedExit::new`] without zeroing the buffer.
    #[inline(always)]
    pub fn restart(&mut self, exit: &Exit, vp_index: u32) -> &mut Self {
        self.words = exit.encode(vp_index);
        self.buffer_words = 0;
        self
    }

    /// Appends the TLFS intercept message, padded to whole words.
    #[inline]
    pub fn body<B: InterceptBody>(&mut self, body: &B) -> &mut Self {
        let bytes = body.as_bytes();
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.push(u64::from_le_bytes(word));
        }
        let tail = chunks.remainder();
        if !tail.is_empty() {
            let word = tail
                .iter()
                .enumerate()
                .fold(0u64, |word, (i, &byte)| word | u64::from(byte) << (8 * i));
            self.push(word);
        }
        self
    }

    /// Appends the general registers in `mask` (`tessera_abi::vm::state`;
    /// bits above 15 are ignored), `read(n)` giving register `n` in the
    /// x86 encoding order.
    #[inline]
    pub fn registers(&mut self, mask: u64, read: impl Fn(u8) -> u64) -> &mut Self {
        // One round per register asked for, lowest bit first (most routes
        // ask for none, and this runs on every forwarded exit).
        let mut left = mask & ((1 << GENERAL_REGISTERS) - 1);
        while left != 0 {
            self.push(read(left.trailing_zeros() as u8));
            left &= left - 1;
        }
        self
    }

    #[inline(always)]
    fn push(&mut self, word: u64) {
        // The longest body plus sixteen registers fits by construction.
        if let Some(slot) = self.buffer.get_mut(self.buffer_words) {
            *slot = word;
            self.buffer_words += 1;
        }
    }

    /// Puts `writes` (posted write words, oldest first) ahead of what the
    /// buffer holds, and their count in word 1; `false` (nothing changed)
    /// if they do not fit or there are more than word 1 can count.
    pub fn prepend_posted(&mut self, writes: &[u64]) -> bool {
        use tessera_abi::vm::posted::{COUNT_MASK, COUNT_SHIFT, QUEUE_WRITES};
        let (n, held) = (writes.len(), self.buffer_words);
        if n > QUEUE_WRITES || held + n > EXIT_BUFFER_WORDS {
            return false;
        }
        self.buffer.copy_within(..held, n);
        self.buffer[..n].copy_from_slice(writes);
        self.buffer_words = held + n;
        let others = self.words[1] & !(COUNT_MASK << COUNT_SHIFT);
        self.words[1] = others | (n as u64) << COUNT_SHIFT;
        true
    }

    /// The message-buffer words.
    #[inline]
    pub fn buffer(&self) -> &[u64] {
        &self.buffer[..self.buffer_words]
    }

    pub fn buffer_words(&self) -> usize {
        self.buffer_words
    }
}

impl Default for EncodedExit {
    /// A message to [restart](EncodedExit::restart) (a zero exit word, no
    /// buffer words).
    fn default() -> Self {
        Self {
            words: [0; MESSAGE_WORDS],
            buffer: [0; EXIT_BUFFER_WORDS],
            buffer_words: 0,
        }
    }
}

impl PartialEq for EncodedExit {
    fn eq(&self, other: &Self) -> bool {
        self.words == other.words && self.buffer() == other.buffer()
    }
}

impl Eq for EncodedExit {}

/// The TLFS intercept message at the start of the message buffer, for the
/// types that have one (`tlfs::intercept`), if enough words came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intercept {
    /// The type has none, or the buffer was too short.
    None,
    IoPort(HvX64IoPortInterceptMessage),
    Msr(HvX64MsrInterceptMessage),
    Cpuid(HvX64CpuidInterceptMessage),
    Memory(HvX64MemoryInterceptMessage),
    /// The common header alone: what the kernel sends for the exits the
    /// TLFS defines no body for here (`HLT`, exceptions, routed hypercalls,
    /// and the lifecycle kinds `UNRECOVERABLE_EXCEPTION` and
    /// `TESSERA_UNSUPPORTED`).
    Header(HvX64InterceptMessageHeader),
}

/// The first `T` in `buffer`, if it holds enough bytes.
fn read<T: FromBytes>(buffer: &[u64]) -> Option<T> {
    T::read_from_prefix(buffer.as_bytes()).ok().map(|(t, _)| t)
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

    /// The intercept message of type `message_type` at the start of
    /// `buffer`.
    pub fn decode(message_type: u64, buffer: &[u64]) -> Self {
        match message_type {
            IO_PORT => read(buffer).map(Self::IoPort),
            MSR => read(buffer).map(Self::Msr),
            CPUID => read(buffer).map(Self::Cpuid),
            UNMAPPED_GPA | GPA_INTERCEPT => read(buffer).map(Self::Memory),
            HALT | EXCEPTION | HYPERCALL | UNRECOVERABLE | UNSUPPORTED => {
                read(buffer).map(Self::Header)
            }
            _ => None,
        }
        .unwrap_or(Self::None)
    }

    /// Appends this intercept message to `message`.
    pub fn encode(&self, message: &mut EncodedExit) {
        match self {
            Self::None => {}
            Self::IoPort(m) => _ = message.body(m),
            Self::Msr(m) => _ = message.body(m),
            Self::Cpuid(m) => _ = message.body(m),
            Self::Memory(m) => _ = message.body(m),
            Self::Header(h) => _ = message.body(h),
        }
    }
}

/// A received exit message. Decoding is total: every combination of
/// words and buffer gives one (an unknown type or an impossible field is
/// an [`ExitError`] in `exit`), so a handler never panics on a hostile
/// message. The register words are authoritative for the exit; the TLFS
/// intercept message is extra detail (instruction length, CS, string-
/// operation bits) read from the buffer when enough words came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitMessage {
    /// Word 0: the message type (`HV_MESSAGE_TYPE`, or Tessera's own).
    pub message_type: u64,
    /// Word 1: the VP index (0 for an attach, whose word 1 is the name).
    pub vp_index: u64,
    /// How many posted writes lead the buffer ([`crate::posted::writes`]
    /// reads them).
    pub posted: usize,
    pub exit: Result<Exit, ExitError>,
    pub intercept: Intercept,
}

impl ExitMessage {
    /// Decodes a received message: its six words as they came, and the
    /// message-buffer words that came with it.
    pub fn decode(words: &[u64; MESSAGE_WORDS], buffer: &[u64]) -> Self {
        let message_type = words[0];
        let exit = Exit::decode(words);
        let (vp_index, posted) = match exit {
            Ok(Exit::PartitionAttach { .. }) => (0, 0),
            _ => (
                words[1] & u64::from(u32::MAX),
                crate::posted::count(words, buffer.len()),
            ),
        };
        Self {
            message_type,
            vp_index,
            posted,
            exit,
            intercept: Intercept::decode(message_type, &buffer[posted..]),
        }
    }

    /// Whether the exit is one of the lifecycle route's kinds.
    pub fn is_lifecycle(&self) -> bool {
        self.exit.as_ref().is_ok_and(Exit::is_lifecycle)
    }

    /// The TLFS name of the message type, if it has one.
    pub fn type_name(&self) -> Option<&'static str> {
        match self.message_type {
            HANDLER_DIED => Some("TesseraHandlerDied"),
            UNSUPPORTED => Some("TesseraUnsupported"),
            PARTITION_ATTACH => Some("TesseraPartitionAttach"),
            POSTED_WRITES => Some("TesseraPostedWrites"),
            RESET_REQUEST => Some("TesseraResetRequest"),
            GUEST_CRASH => Some("TesseraGuestCrash"),
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
    values: [u64; GENERAL_REGISTERS],
}

impl GuestRegisters {
    /// The registers of `mask` (bits above 15 are ignored) at the end of
    /// `buffer`; `None` if fewer words came.
    pub fn from_buffer(buffer: &[u64], mask: u64) -> Option<Self> {
        let mask = (mask & 0xFFFF) as u16;
        let count = mask.count_ones() as usize;
        let tail = buffer.get(buffer.len().checked_sub(count)?..)?;
        let mut values = [0u64; GENERAL_REGISTERS];
        let set = (0..GENERAL_REGISTERS).filter(|bit| mask & (1 << bit) != 0);
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

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_abi::vm::state;
    use tlfs::intercept::{HvInterceptAccessType, HvX64IoPortAccessInfo};
    use zerocopy::FromZeros;

    #[test]
    fn a_message_carries_the_tlfs_body_then_the_asked_registers() {
        let mut body = HvX64IoPortInterceptMessage::new_zeroed();
        body.header.vp_index = 2;
        body.header.instruction_length = 1;
        body.header.intercept_access_type = HvInterceptAccessType::WRITE;
        body.header.rip = 0x1_0000;
        body.port_number = 0x3F8;
        body.access_info = HvX64IoPortAccessInfo::new().with_access_size(1);
        body.rax = 0x41;
        let exit = Exit::IoPort {
            port: 0x3F8,
            size: 1,
            write: true,
            value: 0x41,
        };
        let mut message = EncodedExit::new(&exit, 2);
        message
            .body(&body)
            .registers(state::RAX | state::RDX, |n| [0x41, 0, 0x3F8][n as usize]);
        assert_eq!(message.buffer_words(), 16 + 2);
        assert_eq!(message.buffer()[5] & 0xFFFF, 0x3F8, "port at offset 40");
        assert_eq!(message.buffer()[6], 0x41, "rax at offset 48");
        let received = ExitMessage::decode(&message.words, message.buffer());
        assert_eq!(received.exit, Ok(exit));
        assert_eq!(received.vp_index, 2);
        assert_eq!(received.intercept, Intercept::IoPort(body));
        let registers = GuestRegisters::from_buffer(message.buffer(), state::RAX | state::RDX);
        let registers = registers.unwrap();
        assert_eq!(registers.get(state::RAX), Some(0x41));
        assert_eq!(registers.get(state::RDX), Some(0x3F8));
        assert_eq!(registers.get(state::RCX), None);
        assert_eq!(registers.get(state::RAX | state::RDX), None);
        assert_eq!(registers.get(1 << 20), None);
        // One word short of the body: no intercept, still the exit.
        let short = ExitMessage::decode(&message.words, &message.buffer()[..15]);
        assert_eq!(short.intercept, Intercept::None);
        assert_eq!(short.exit, Ok(exit));
    }

    #[test]
    fn header_only_types_and_types_without_a_body() {
        let mut header = HvX64InterceptMessageHeader::new_zeroed();
        header.rip = 0x10_2030;
        let mut message = EncodedExit::new(&Exit::Halt { rflags: 0x202 }, 0);
        message.body(&header);
        assert_eq!(message.buffer_words(), 5);
        for t in [HALT, EXCEPTION, HYPERCALL, UNRECOVERABLE, UNSUPPORTED] {
            let words = [t, 0, 0, 0, 0, 0];
            let decoded = ExitMessage::decode(&words, message.buffer());
            assert_eq!(decoded.intercept, Intercept::Header(header));
            let short = ExitMessage::decode(&words, &message.buffer()[..4]);
            assert_eq!(short.intercept, Intercept::None);
        }
        let died = ExitMessage::decode(&[HANDLER_DIED, 0, 0, 0, 0, 0], message.buffer());
        assert_eq!(died.intercept, Intercept::None);
        assert_eq!(died.type_name(), Some("TesseraHandlerDied"));
        assert!(died.is_lifecycle());
        assert_eq!(ExitMessage::decode(&[u64::MAX; 6], &[]).type_name(), None);
    }

    #[test]
    fn registers_need_enough_words() {
        assert_eq!(
            GuestRegisters::from_buffer(&[1], state::RAX | state::RCX),
            None
        );
        let all: std::vec::Vec<u64> = (0..16).collect();
        let registers = GuestRegisters::from_buffer(&all, state::ALL).unwrap();
        assert_eq!(registers.get(state::RDI), Some(7));
        assert_eq!(registers.get(1 << 15), Some(15));
    }

    #[test]
    fn registers_come_in_mask_bit_order_and_high_bits_are_ignored() {
        let sent = |mask: u64| {
            let mut message = EncodedExit::new(&Exit::Halt { rflags: 0 }, 0);
            message.registers(mask, |n| 100 + u64::from(n));
            message.buffer().to_vec()
        };
        assert_eq!(sent(0), std::vec::Vec::<u64>::new());
        assert_eq!(sent(1 << 16 | 1 << 63), std::vec::Vec::<u64>::new());
        assert_eq!(sent(state::RDX | state::RAX | 1 << 40), [100, 102]);
        assert_eq!(sent(1 << 15 | 1), [100, 115]);
        assert_eq!(sent(u64::MAX), (100..116).collect::<std::vec::Vec<u64>>());
    }
}
