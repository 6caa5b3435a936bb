//! A handler's reply to an exit message: what the component's runtime
//! encodes and the kernel decodes before it accepts the reply.
//!
//! | word | meaning |
//! | --- | --- |
//! | 0 | [`action`] bits |
//! | 1 | with [`action::INJECT`]: the event ([`Event`]) |
//! | 2, 3 | with [`action::RESULT`]: the result (per exit, [`crate::Exit`]) |
//! | 4, 5 | unused (ignored) |
//!
//! plus, with [`action::SET_REGISTERS`], `(HV_REGISTER_NAME, value)` word
//! pairs in the message buffer. A word an action does not use is ignored,
//! as are buffer words without `SET_REGISTERS`.
//!
//! The reply comes from another component: to the kernel it is hostile
//! input. [`ExitReply::decode`] turns any words into a reply or a
//! [`ReplyError`], never a panic; what it accepts the architecture
//! allows (a canonical RIP, RFLAGS without reserved bits, an event with
//! no reserved bits and a known type). Whether the event suits its vector
//! and whether `FAULT` suits the exit is the kernel's to check against
//! the exit it is waiting on.
use tessera_abi::MESSAGE_BUFFER_WORDS;
use tessera_abi::vm::{action, event};
use tlfs::register::HvRegisterName as Name;

/// Why a reply was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyError {
    /// Word 0 has a bit [`action::ALL`] does not.
    UnknownAction,
    /// `SET_REGISTERS` with an odd buffer word count.
    OddRegisterWords,
    /// More buffer words than a message buffer holds.
    TooManyRegisterWords,
    /// A register a reply may not set (only general registers, RIP and
    /// RFLAGS), by index of the pair.
    RegisterNotSettable(usize),
    /// A value the register cannot hold, by index of the pair.
    BadRegisterValue(usize),
    /// Reserved bits or an unknown type in the event word, or an event
    /// the architecture cannot deliver on its vector.
    BadEvent,
    /// `FAULT` on an exit that is not an MSR intercept, or with `RESULT`
    /// or `ADVANCE_RIP`.
    FaultNotApplicable,
    /// `ADVANCE_RIP` on an exit with no instruction to move past.
    NothingToAdvance,
}

/// RFLAGS bits that must be zero (AMD APM vol. 2, 3.1.6): 3, 5, 15 and
/// 63:22. Bit 1 must be one.
pub const RFLAGS_RESERVED: u64 = 1 << 3 | 1 << 5 | 1 << 15 | !((1 << 22) - 1);

/// Whether `address` is canonical for 48-bit virtual addresses.
pub const fn is_canonical(address: u64) -> bool {
    let upper = address >> 47;
    upper == 0 || upper == 0x1_FFFF
}

/// The kinds of event a reply injects (`tessera_abi::vm::event`), as the
/// VMCB's EVENTINJ types them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    External,
    Nmi,
    Exception,
    Software,
}

impl EventKind {
    const fn word(self) -> u64 {
        match self {
            Self::External => event::TYPE_EXTERNAL,
            Self::Nmi => event::TYPE_NMI,
            Self::Exception => event::TYPE_EXCEPTION,
            Self::Software => event::TYPE_SOFTWARE,
        }
    }
}

/// An event to inject (reply word 1; `VpAssertInterrupt` uses the same
/// word).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Event {
    pub vector: u8,
    pub kind: EventKind,
    pub error_code: Option<u32>,
}

impl Event {
    /// The event of `kind` on `vector`, without an error code.
    pub const fn new(vector: u8, kind: EventKind) -> Self {
        Self {
            vector,
            kind,
            error_code: None,
        }
    }

    /// The event word.
    pub const fn encode(&self) -> u64 {
        let base = event::new(self.vector, self.kind.word());
        match self.error_code {
            Some(code) => base | event::ERROR_CODE_VALID | (code as u64) << event::ERROR_CODE_SHIFT,
            None => base,
        }
    }

    /// The event an event word names: reserved bits and unknown types are
    /// [`ReplyError::BadEvent`].
    pub const fn decode(word: u64) -> Result<Self, ReplyError> {
        if word & event::RESERVED != 0 {
            return Err(ReplyError::BadEvent);
        }
        let kind = match (word >> event::TYPE_SHIFT) & 0b111 {
            event::TYPE_EXTERNAL => EventKind::External,
            event::TYPE_NMI => EventKind::Nmi,
            event::TYPE_EXCEPTION => EventKind::Exception,
            event::TYPE_SOFTWARE => EventKind::Software,
            _ => return Err(ReplyError::BadEvent),
        };
        let error_code = if word & event::ERROR_CODE_VALID != 0 {
            Some((word >> event::ERROR_CODE_SHIFT) as u32)
        } else {
            None
        };
        Ok(Self {
            vector: (word & event::VECTOR_MASK) as u8,
            kind,
            error_code,
        })
    }
}

/// RAX..R15, then RIP and RFLAGS.
const SETTABLE: usize = 18;
const RIP_SLOT: usize = 16;
const RFLAGS_SLOT: usize = 17;

/// The most buffer words a reply's register writes encode to: one pair
/// per register a reply may set.
pub const MAX_REPLY_REGISTER_WORDS: usize = 2 * SETTABLE;

/// The registers a reply may set — RAX..R15, RIP, RFLAGS — and their new
/// values. A register is named at most once here: a later pair for the
/// same register replaces an earlier one, as writing them in order would.
///
/// Only the values of the registers set count: [`RegisterWrites::clear`]
/// and [`RegisterWrites::decode_into`] leave the others as they were (so
/// that a kernel decoding every reply into the same place does not rewrite
/// all of them), and equality looks at the set ones alone.
#[derive(Clone, Copy, Debug, Default)]
pub struct RegisterWrites {
    /// Bit `n`: `values[n]` is set.
    set: u32,
    values: [u64; SETTABLE],
}

impl PartialEq for RegisterWrites {
    fn eq(&self, other: &Self) -> bool {
        self.set == other.set && self.pairs().eq(other.pairs())
    }
}

impl Eq for RegisterWrites {}

impl RegisterWrites {
    fn slot(name: Name) -> Option<usize> {
        match name {
            _ if (Name::X64_RAX.0..=Name::X64_R15.0).contains(&name.0) => {
                Some((name.0 - Name::X64_RAX.0) as usize)
            }
            Name::X64_RIP => Some(RIP_SLOT),
            Name::X64_RFLAGS => Some(RFLAGS_SLOT),
            _ => None,
        }
    }

    fn name(slot: usize) -> Name {
        match slot {
            RIP_SLOT => Name::X64_RIP,
            RFLAGS_SLOT => Name::X64_RFLAGS,
            gpr => Name(Name::X64_RAX.0 + gpr as u32),
        }
    }

    fn allows(slot: usize, value: u64) -> bool {
        match slot {
            RIP_SLOT => is_canonical(value),
            RFLAGS_SLOT => value & RFLAGS_RESERVED == 0 && value & 0b10 != 0,
            _ => true,
        }
    }

    /// Sets `name` to `value`: `Err(true)` if a reply may not set the
    /// register, `Err(false)` if it cannot hold the value.
    pub fn set(&mut self, name: Name, value: u64) -> Result<(), bool> {
        let slot = Self::slot(name).ok_or(true)?;
        if !Self::allows(slot, value) {
            return Err(false);
        }
        self.values[slot] = value;
        self.set |= 1 << slot;
        Ok(())
    }

    pub const fn is_empty(&self) -> bool {
        self.set == 0
    }

    /// No register set any more.
    #[inline]
    pub fn clear(&mut self) {
        self.set = 0;
    }

    /// Replaces these writes with the (name, value) pairs in `buffer`, a
    /// `SET_REGISTERS` reply's message-buffer words. On an error the
    /// writes are unspecified.
    #[inline]
    pub fn decode_into(&mut self, buffer: &[u64]) -> Result<(), ReplyError> {
        self.clear();
        if buffer.len() > MESSAGE_BUFFER_WORDS {
            return Err(ReplyError::TooManyRegisterWords);
        }
        if !buffer.len().is_multiple_of(2) {
            return Err(ReplyError::OddRegisterWords);
        }
        for (index, pair) in buffer.chunks_exact(2).enumerate() {
            let name =
                u32::try_from(pair[0]).map_err(|_| ReplyError::RegisterNotSettable(index))?;
            self.set(Name(name), pair[1]).map_err(|unsettable| {
                if unsettable {
                    ReplyError::RegisterNotSettable(index)
                } else {
                    ReplyError::BadRegisterValue(index)
                }
            })?;
        }
        Ok(())
    }

    /// The registers set, in register order.
    pub fn pairs(&self) -> impl Iterator<Item = (Name, u64)> + '_ {
        // One step per register set (a reply sets few), not per slot.
        let mut left = self.set;
        core::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            let slot = left.trailing_zeros() as usize;
            left &= left - 1;
            Some((Self::name(slot), self.values[slot]))
        })
    }
}

/// The words of an encoded reply: six register words and the register
/// pairs for the message buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodedReply {
    pub words: [u64; tessera_abi::MESSAGE_WORDS],
    buffer: [u64; MAX_REPLY_REGISTER_WORDS],
    buffer_words: usize,
}

impl EncodedReply {
    /// The message-buffer words: `(HV_REGISTER_NAME, value)` pairs.
    pub fn buffer(&self) -> &[u64] {
        &self.buffer[..self.buffer_words]
    }
}

/// A reply to an exit message, built up from nothing (which resumes the
/// guest at the same instruction, unchanged) or decoded from words.
///
/// The builder keeps what the protocol can carry and no more: a register
/// a reply may not set, or a value it cannot hold, is kept as the
/// [`ReplyError`] that [`ExitReply::encode`] returns. It does not judge
/// combinations against the exit (a #GP from [`ExitReply::msr_fault`]
/// should not advance RIP, for example): the kernel does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExitReply {
    pub advance_rip: bool,
    /// Reply words 2 and 3.
    pub result: Option<[u64; 2]>,
    pub inject: Option<Event>,
    pub registers: RegisterWrites,
    pub stop: bool,
    /// The intercepted MSR access raises #GP.
    pub fault: bool,
    /// The first register the builder could not take.
    refused: Option<ReplyError>,
}

impl ExitReply {
    /// No action: the guest re-runs the exiting instruction.
    pub const fn new() -> Self {
        Self {
            advance_rip: false,
            result: None,
            inject: None,
            registers: RegisterWrites {
                set: 0,
                values: [0; SETTABLE],
            },
            stop: false,
            fault: false,
            refused: None,
        }
    }

    /// The answer to a partition attach: word 0 = 0.
    pub const fn accept_attach() -> Self {
        Self::new()
    }

    /// Moves RIP past the intercepted instruction.
    #[must_use]
    pub const fn advance_rip(mut self) -> Self {
        self.advance_rip = true;
        self
    }

    /// The value an `IN` reads (the kernel merges the low `size` bytes into
    /// RAX).
    #[must_use]
    pub const fn io_read_result(self, value: u32) -> Self {
        self.result([value as u64, 0])
    }

    /// The value a decoded MMIO read reads: the kernel puts its low `size`
    /// bytes into the instruction's destination register as the
    /// instruction would (zero-extended for 32 bits, merged for 8 and 16).
    #[must_use]
    pub const fn memory_read_result(self, value: u64) -> Self {
        self.result([value, 0])
    }

    /// The value an `RDMSR` reads (EDX:EAX).
    #[must_use]
    pub const fn msr_read_result(self, value: u64) -> Self {
        self.result([value, 0])
    }

    /// Answers an interrupt acknowledge ([`crate::Exit::InterruptAcknowledge`]):
    /// the vector the 8259 gives, which the kernel injects as an external
    /// interrupt (any vector: an 8259 programmed for real mode answers
    /// 0x08-0x0F).
    #[must_use]
    pub const fn acknowledge_result(self, vector: u8) -> Self {
        self.result([vector as u64, 0])
    }

    /// Completes a routed hypercall: `result_value` goes to RAX
    /// (`HV_HYPERCALL_RESULT_VALUE`), and RIP moves past the VMMCALL. A
    /// fast call's output registers go with [`set_register`](Self::set_register).
    #[must_use]
    pub const fn hypercall_result(self, result_value: u64) -> Self {
        self.result([result_value, 0]).advance_rip()
    }

    /// The MSR access raises #GP (do not advance RIP with it).
    #[must_use]
    pub const fn msr_fault(mut self) -> Self {
        self.fault = true;
        self
    }

    /// What `CPUID` returns, `[eax, ebx, ecx, edx]`.
    #[must_use]
    pub const fn cpuid_result(self, [eax, ebx, ecx, edx]: [u32; 4]) -> Self {
        self.result([
            eax as u64 | (ebx as u64) << 32,
            ecx as u64 | (edx as u64) << 32,
        ])
    }

    /// Injects `event` before the guest runs.
    #[must_use]
    pub const fn inject(mut self, event: Event) -> Self {
        self.inject = Some(event);
        self
    }

    /// Stops the VP (it runs again only after `VpStart`).
    #[must_use]
    pub const fn stop(mut self) -> Self {
        self.stop = true;
        self
    }

    /// Sets a general register, `RIP` or `RFLAGS` (a later value for a
    /// name replaces an earlier one).
    #[must_use]
    pub fn set_register(mut self, name: Name, value: u64) -> Self {
        let index = self.registers.pairs().count();
        if let Err(unsettable) = self.registers.set(name, value)
            && self.refused.is_none()
        {
            self.refused = Some(if unsettable {
                ReplyError::RegisterNotSettable(index)
            } else {
                ReplyError::BadRegisterValue(index)
            });
        }
        self
    }

    const fn result(mut self, result: [u64; 2]) -> Self {
        self.result = Some(result);
        self
    }

    /// The [`action`] bits.
    pub const fn actions(&self) -> u64 {
        const fn bit(on: bool, bit: u64) -> u64 {
            if on { bit } else { 0 }
        }
        bit(self.advance_rip, action::ADVANCE_RIP)
            | bit(self.result.is_some(), action::RESULT)
            | bit(self.inject.is_some(), action::INJECT)
            | bit(!self.registers.is_empty(), action::SET_REGISTERS)
            | bit(self.stop, action::STOP)
            | bit(self.fault, action::FAULT)
    }

    /// The six reply words (inlined into a handler's loop, which sends
    /// them on every exit it serves).
    #[inline]
    pub const fn words(&self) -> [u64; tessera_abi::MESSAGE_WORDS] {
        let event = match self.inject {
            Some(event) => event.encode(),
            None => 0,
        };
        let [first, second] = match self.result {
            Some(result) => result,
            None => [0; 2],
        };
        [self.actions(), event, first, second, 0, 0]
    }

    /// What the builder could not take, if anything.
    pub const fn refused(&self) -> Option<ReplyError> {
        self.refused
    }

    /// The reply's words, or what the builder could not take.
    pub fn encode(&self) -> Result<EncodedReply, ReplyError> {
        if let Some(refused) = self.refused {
            return Err(refused);
        }
        let mut encoded = EncodedReply {
            words: self.words(),
            buffer: [0; MAX_REPLY_REGISTER_WORDS],
            buffer_words: 0,
        };
        for (name, value) in self.registers.pairs() {
            encoded.buffer[encoded.buffer_words] = u64::from(name.0);
            encoded.buffer[encoded.buffer_words + 1] = value;
            encoded.buffer_words += 2;
        }
        Ok(encoded)
    }

    /// The reply six words and the message-buffer words that came with
    /// them carry.
    #[inline]
    pub fn decode(
        words: &[u64; tessera_abi::MESSAGE_WORDS],
        buffer: &[u64],
    ) -> Result<Self, ReplyError> {
        let actions = ReplyActions::decode(words)?;
        let mut registers = RegisterWrites::default();
        if actions.set_registers {
            registers.decode_into(buffer)?;
        }
        Ok(Self {
            advance_rip: actions.advance_rip,
            result: actions.result,
            inject: actions.inject,
            registers,
            stop: actions.stop,
            fault: actions.fault,
            refused: None,
        })
    }
}

/// Reply words 0-5 as [`ExitReply::decode`] reads them, before the
/// register writes in the message buffer: for a decoder that keeps those
/// elsewhere ([`RegisterWrites::decode_into`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyActions {
    pub advance_rip: bool,
    /// Reply words 2 and 3.
    pub result: Option<[u64; 2]>,
    pub inject: Option<Event>,
    pub stop: bool,
    pub fault: bool,
    /// The message buffer holds register writes.
    pub set_registers: bool,
}

impl ReplyActions {
    /// Word 0's actions and the words they use; an unknown action or an
    /// event that cannot be is an error.
    #[inline]
    pub fn decode(words: &[u64; tessera_abi::MESSAGE_WORDS]) -> Result<Self, ReplyError> {
        let actions = words[0];
        if actions & !action::ALL != 0 {
            return Err(ReplyError::UnknownAction);
        }
        let has = |bit: u64| actions & bit != 0;
        let inject = if has(action::INJECT) {
            Some(Event::decode(words[1])?)
        } else {
            None
        };
        Ok(Self {
            advance_rip: has(action::ADVANCE_RIP),
            result: has(action::RESULT).then_some([words[2], words[3]]),
            inject,
            stop: has(action::STOP),
            fault: has(action::FAULT),
            set_registers: has(action::SET_REGISTERS),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn decoding_into_used_writes_gives_what_a_fresh_decode_gives() {
        let mut used = RegisterWrites::default();
        used.set(Name::X64_RBX, 7).unwrap();
        used.set(Name::X64_RIP, 0x1000).unwrap();
        let buffer = [u64::from(Name::X64_RCX.0), 5];
        used.decode_into(&buffer).unwrap();
        let mut fresh = RegisterWrites::default();
        fresh.decode_into(&buffer).unwrap();
        assert_eq!(used, fresh);
        assert_eq!(used.pairs().collect::<Vec<_>>(), [(Name::X64_RCX, 5)]);
        // Equality ignores the values of registers not set.
        used.decode_into(&[]).unwrap();
        assert!(used.is_empty());
        assert_eq!(used, RegisterWrites::default());
        // A refused buffer is an error whatever was set before.
        assert_eq!(
            used.decode_into(&[u64::from(Name::X64_RCX.0)]),
            Err(ReplyError::OddRegisterWords)
        );
    }

    fn words(actions: u64) -> [u64; 6] {
        [actions, 0, 7, 8, 0, 0]
    }

    #[test]
    fn the_common_replies_decode() {
        let reply = ExitReply::decode(&words(action::ADVANCE_RIP | action::RESULT), &[]).unwrap();
        assert!(reply.advance_rip && !reply.stop);
        assert_eq!(reply.result, Some([7, 8]));
        let reply = ExitReply::decode(&words(action::STOP), &[]).unwrap();
        assert!(reply.stop && !reply.advance_rip && reply.result.is_none());
        assert!(ExitReply::decode(&words(action::FAULT), &[]).unwrap().fault);
        // Words no action uses are ignored.
        let reply = ExitReply::decode(&[0, 5, 6, 7, 8, 9], &[1, 2, 3]).unwrap();
        assert_eq!(reply, ExitReply::new());
    }

    #[test]
    fn reply_words_follow_the_abi() {
        assert_eq!(ExitReply::new().words(), [0; 6]);
        assert_eq!(
            ExitReply::new().io_read_result(0xAB).advance_rip().words(),
            [action::ADVANCE_RIP | action::RESULT, 0, 0xAB, 0, 0, 0]
        );
        assert_eq!(
            ExitReply::new().cpuid_result([1, 2, 3, 4]).words(),
            [action::RESULT, 0, 1 | 2 << 32, 3 | 4 << 32, 0, 0]
        );
        let gp = Event {
            vector: 13,
            kind: EventKind::Exception,
            error_code: Some(0),
        };
        assert_eq!(
            ExitReply::new().inject(gp).words(),
            [
                action::INJECT,
                event::new(13, event::TYPE_EXCEPTION) | event::ERROR_CODE_VALID,
                0,
                0,
                0,
                0
            ]
        );
        assert_eq!(ExitReply::new().msr_fault().actions(), action::FAULT);
        let reply = ExitReply::new()
            .set_register(Name::X64_RAX, 5)
            .set_register(Name::X64_RIP, 0x2000);
        assert_eq!(reply.actions(), action::SET_REGISTERS);
        assert_eq!(
            reply.encode().unwrap().buffer(),
            [0x0002_0000, 5, 0x0002_0010, 0x2000]
        );
    }

    #[test]
    fn the_builder_keeps_what_it_cannot_send() {
        let cr0 = ExitReply::new()
            .set_register(Name::X64_RBX, 1)
            .set_register(Name::X64_CR0, 0);
        assert_eq!(cr0.encode(), Err(ReplyError::RegisterNotSettable(1)));
        let rip = ExitReply::new().set_register(Name::X64_RIP, 1 << 47);
        assert_eq!(rip.encode(), Err(ReplyError::BadRegisterValue(0)));
    }

    #[test]
    fn unknown_actions_are_refused() {
        assert_eq!(
            ExitReply::decode(&words(1 << 40), &[]),
            Err(ReplyError::UnknownAction)
        );
        assert_eq!(
            ExitReply::decode(&words(action::ALL + 1), &[]),
            Err(ReplyError::UnknownAction)
        );
    }

    #[test]
    fn register_pairs_are_checked_one_by_one() {
        let set = words(action::SET_REGISTERS);
        let decode = |buffer: &[u64]| ExitReply::decode(&set, buffer);
        let good = [
            u64::from(Name::X64_RBX.0),
            5,
            u64::from(Name::X64_RIP.0),
            0x1000,
        ];
        assert_eq!(
            decode(&good).unwrap().registers.pairs().collect::<Vec<_>>(),
            [(Name::X64_RBX, 5), (Name::X64_RIP, 0x1000)]
        );
        // A register named twice takes the later value.
        let twice = [u64::from(Name::X64_R15.0), 1, u64::from(Name::X64_R15.0), 2];
        assert_eq!(
            decode(&twice)
                .unwrap()
                .registers
                .pairs()
                .collect::<Vec<_>>(),
            [(Name::X64_R15, 2)]
        );
        // A bad value is refused even when a later pair replaces it.
        let bad_then_good = [
            u64::from(Name::X64_RIP.0),
            1 << 47,
            u64::from(Name::X64_RIP.0),
            0,
        ];
        assert_eq!(decode(&bad_then_good), Err(ReplyError::BadRegisterValue(0)));
        let reserved_flags = [u64::from(Name::X64_RFLAGS.0), 0x2 | 1 << 3];
        assert_eq!(
            decode(&reserved_flags),
            Err(ReplyError::BadRegisterValue(0))
        );
        let bit_one_clear = [u64::from(Name::X64_RFLAGS.0), 0];
        assert_eq!(decode(&bit_one_clear), Err(ReplyError::BadRegisterValue(0)));
        let cr0 = [u64::from(Name::X64_RAX.0), 0, u64::from(Name::X64_CR0.0), 0];
        assert_eq!(decode(&cr0), Err(ReplyError::RegisterNotSettable(1)));
        assert_eq!(
            decode(&[1 << 40, 0]),
            Err(ReplyError::RegisterNotSettable(0))
        );
        assert_eq!(decode(&[1]), Err(ReplyError::OddRegisterWords));
        let huge = std::vec![u64::from(Name::X64_RAX.0); MESSAGE_BUFFER_WORDS + 2];
        assert_eq!(decode(&huge), Err(ReplyError::TooManyRegisterWords));
    }

    #[test]
    fn event_words_need_a_known_type_and_no_reserved_bits() {
        let gp = event::new(13, event::TYPE_EXCEPTION) | event::ERROR_CODE_VALID | 5 << 32;
        assert_eq!(
            Event::decode(gp),
            Ok(Event {
                vector: 13,
                kind: EventKind::Exception,
                error_code: Some(5)
            })
        );
        for bad in [
            event::new(0x30, event::TYPE_EXTERNAL) | 1 << 20,
            event::new(0x30, 1),
            event::new(0x30, 5),
            event::new(0x30, 7),
        ] {
            assert_eq!(Event::decode(bad), Err(ReplyError::BadEvent), "{bad:#x}");
            let inject = [action::INJECT, bad, 0, 0, 0, 0];
            assert_eq!(ExitReply::decode(&inject, &[]), Err(ReplyError::BadEvent));
        }
        // Type 4 sets bit 10: a software interrupt is a known type (the
        // reserved mask once covered bit 10 and refused every one).
        let int80 = event::new(0x80, event::TYPE_SOFTWARE);
        assert_eq!(int80 & 1 << 10, 1 << 10);
        assert_eq!(
            Event::decode(int80),
            Ok(Event::new(0x80, EventKind::Software))
        );
    }
}
