//! A handler's reply to an exit message (`tessera_abi::vm`, "The reply"),
//! checked before the kernel accepts it: the guest must never run with a
//! value the architecture does not allow because a component said so.
use tessera_abi::vm::{action, event};
use tessera_svm::{Event, EventInjection, ExceptionVector};
use tlfs::register::HvRegisterName as Name;

use crate::checks::RFLAGS_RESERVED;

/// Why a reply was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyError {
    UnknownAction,
    /// `SET_REGISTERS` with an odd buffer word count.
    OddRegisterWords,
    /// A register a reply may not set (only general registers, RIP and
    /// RFLAGS), by index of the pair.
    RegisterNotSettable(usize),
    /// A value the register cannot hold, by index of the pair.
    BadRegisterValue(usize),
    BadEvent,
    /// `FAULT` on a message that is not an MSR intercept, or with `RESULT`.
    FaultNotApplicable,
}

/// A checked reply, owned: the kernel captures it when it accepts it,
/// because the handler's message buffer holds its next message by the
/// time the VP's CPU applies it (issue 9, finding 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    pub advance_rip: bool,
    pub result: Option<[u64; 2]>,
    pub inject: Option<EventInjection>,
    /// The registers `SET_REGISTERS` sets, each already checked.
    pub registers: RegisterWrites,
    pub stop: bool,
    pub fault: bool,
}

impl Reply {
    /// The registers to set, with their values.
    pub fn register_pairs(&self) -> impl Iterator<Item = (Name, u64)> + '_ {
        self.registers.pairs()
    }
}

/// The registers a reply may set — RAX..R15, RIP, RFLAGS — and their new
/// values. Pairs name a register at most once here: a later pair for the
/// same register replaces an earlier one, as writing them in order would.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RegisterWrites {
    /// Bit `n`: `values[n]` is set.
    set: u32,
    values: [u64; SETTABLE],
}

/// RAX..R15, then RIP and RFLAGS.
const SETTABLE: usize = 18;

impl RegisterWrites {
    fn slot(name: Name) -> Option<usize> {
        match name {
            _ if (Name::X64_RAX.0..=Name::X64_R15.0).contains(&name.0) => {
                Some((name.0 - Name::X64_RAX.0) as usize)
            }
            Name::X64_RIP => Some(16),
            Name::X64_RFLAGS => Some(17),
            _ => None,
        }
    }

    fn name(slot: usize) -> Name {
        match slot {
            16 => Name::X64_RIP,
            17 => Name::X64_RFLAGS,
            gpr => Name(Name::X64_RAX.0 + gpr as u32),
        }
    }

    /// The registers set, in register order.
    pub fn pairs(&self) -> impl Iterator<Item = (Name, u64)> + '_ {
        self.values
            .iter()
            .enumerate()
            .filter(|(slot, _)| self.set & 1 << slot != 0)
            .map(|(slot, &value)| (Self::name(slot), value))
    }
}

/// Converts an ABI event word into the VMCB's `EVENTINJ`.
pub fn event_injection(word: u64) -> Result<EventInjection, ReplyError> {
    if word & event::RESERVED != 0 {
        return Err(ReplyError::BadEvent);
    }
    let vector = (word & event::VECTOR_MASK) as u8;
    let kind = (word >> event::TYPE_SHIFT) & 0b111;
    let has_error_code = word & event::ERROR_CODE_VALID != 0;
    let error_code = (word >> event::ERROR_CODE_SHIFT) as u32;
    let checked = match kind {
        event::TYPE_EXTERNAL if !has_error_code && vector >= 32 => {
            Event::ExternalInterrupt { vector }
        }
        event::TYPE_NMI if !has_error_code && vector == 2 => Event::Nmi,
        event::TYPE_EXCEPTION => Event::Exception {
            vector: ExceptionVector::new(vector).ok_or(ReplyError::BadEvent)?,
            error_code: has_error_code.then_some(error_code),
        },
        event::TYPE_SOFTWARE if !has_error_code => Event::SoftwareInterrupt { vector },
        _ => return Err(ReplyError::BadEvent),
    };
    let injection = checked.encode().map_err(|_| ReplyError::BadEvent)?;
    Ok(injection)
}

fn check_register(name: Name, value: u64) -> Option<()> {
    match name {
        _ if (Name::X64_RAX.0..=Name::X64_R15.0).contains(&name.0) => Some(()),
        Name::X64_RIP => crate::is_canonical(value).then_some(()),
        Name::X64_RFLAGS => (value & RFLAGS_RESERVED == 0 && value & 0b10 != 0).then_some(()),
        _ => None,
    }
}

/// Checks reply words 0-5 and the message-buffer words that came with
/// them. `msr_exit` says whether the exit was an MSR intercept (the only
/// one `FAULT` applies to).
pub fn decode(words: &[u64; 6], buffer: &[u64], msr_exit: bool) -> Result<Reply, ReplyError> {
    let actions = words[0];
    if actions & !action::ALL != 0 {
        return Err(ReplyError::UnknownAction);
    }
    let has = |bit: u64| actions & bit != 0;
    if has(action::FAULT) && (!msr_exit || has(action::RESULT) || has(action::ADVANCE_RIP)) {
        return Err(ReplyError::FaultNotApplicable);
    }
    let inject = if has(action::INJECT) {
        Some(event_injection(words[1])?)
    } else {
        None
    };
    let mut registers = RegisterWrites::default();
    if has(action::SET_REGISTERS) {
        if !buffer.len().is_multiple_of(2) {
            return Err(ReplyError::OddRegisterWords);
        }
        for (index, pair) in buffer.chunks_exact(2).enumerate() {
            let name =
                u32::try_from(pair[0]).map_err(|_| ReplyError::RegisterNotSettable(index))?;
            let name = Name(name);
            let slot = RegisterWrites::slot(name).ok_or(ReplyError::RegisterNotSettable(index))?;
            check_register(name, pair[1]).ok_or(ReplyError::BadRegisterValue(index))?;
            registers.values[slot] = pair[1];
            registers.set |= 1 << slot;
        }
    }
    Ok(Reply {
        advance_rip: has(action::ADVANCE_RIP),
        result: has(action::RESULT).then_some([words[2], words[3]]),
        inject,
        registers,
        stop: has(action::STOP),
        fault: has(action::FAULT),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(actions: u64) -> [u64; 6] {
        [actions, 0, 7, 8, 0, 0]
    }

    #[test]
    fn the_common_replies_decode() {
        let reply = decode(&words(action::ADVANCE_RIP | action::RESULT), &[], false).unwrap();
        assert!(reply.advance_rip && !reply.stop);
        assert_eq!(reply.result, Some([7, 8]));
        let reply = decode(&words(action::STOP), &[], false).unwrap();
        assert!(reply.stop && !reply.advance_rip && reply.result.is_none());
        assert!(decode(&words(action::FAULT), &[], true).unwrap().fault);
    }

    #[test]
    fn unknown_actions_and_misplaced_faults_are_refused() {
        assert_eq!(
            decode(&words(1 << 40), &[], false),
            Err(ReplyError::UnknownAction)
        );
        assert_eq!(
            decode(&words(action::FAULT), &[], false),
            Err(ReplyError::FaultNotApplicable)
        );
        assert_eq!(
            decode(&words(action::FAULT | action::ADVANCE_RIP), &[], true),
            Err(ReplyError::FaultNotApplicable)
        );
    }

    #[test]
    fn register_pairs_are_checked_one_by_one() {
        let set = words(action::SET_REGISTERS);
        let good = [
            u64::from(Name::X64_RBX.0),
            5,
            u64::from(Name::X64_RIP.0),
            0x1000,
        ];
        let reply = decode(&set, &good, false).unwrap();
        assert_eq!(
            reply.register_pairs().collect::<std::vec::Vec<_>>(),
            [(Name::X64_RBX, 5), (Name::X64_RIP, 0x1000)]
        );
        // A register named twice takes the later value, as writing the
        // pairs in order would.
        let twice = [u64::from(Name::X64_R15.0), 1, u64::from(Name::X64_R15.0), 2];
        let reply = decode(&set, &twice, false).unwrap();
        assert_eq!(
            reply.register_pairs().collect::<std::vec::Vec<_>>(),
            [(Name::X64_R15, 2)]
        );
        // The reply owns its values: the buffer may change afterwards.
        let mut buffer = good;
        let reply = decode(&set, &buffer, false).unwrap();
        buffer[1] = 99;
        assert_eq!(reply.register_pairs().next(), Some((Name::X64_RBX, 5)));
        assert_eq!(buffer[1], 99);
        let non_canonical = [u64::from(Name::X64_RIP.0), 1 << 47];
        assert_eq!(
            decode(&set, &non_canonical, false),
            Err(ReplyError::BadRegisterValue(0))
        );
        let reserved_flags = [u64::from(Name::X64_RFLAGS.0), 0x2 | 1 << 3];
        assert_eq!(
            decode(&set, &reserved_flags, false),
            Err(ReplyError::BadRegisterValue(0))
        );
        let cr0 = [u64::from(Name::X64_RAX.0), 0, u64::from(Name::X64_CR0.0), 0];
        assert_eq!(
            decode(&set, &cr0, false),
            Err(ReplyError::RegisterNotSettable(1))
        );
        let huge_name = [1 << 40, 0];
        assert_eq!(
            decode(&set, &huge_name, false),
            Err(ReplyError::RegisterNotSettable(0))
        );
        assert_eq!(decode(&set, &[1], false), Err(ReplyError::OddRegisterWords));
    }

    #[test]
    fn events_are_checked_against_the_architecture() {
        let gp = event::new(13, event::TYPE_EXCEPTION) | event::ERROR_CODE_VALID;
        let injection = event_injection(gp).unwrap();
        assert!(injection.valid() && injection.error_code_valid());
        assert_eq!(injection.vector(), 13);
        // #GP without its error code, #UD with one, NMI on vector 3, an
        // external interrupt on an exception vector, reserved bits.
        for bad in [
            event::new(13, event::TYPE_EXCEPTION),
            event::new(6, event::TYPE_EXCEPTION) | event::ERROR_CODE_VALID,
            event::new(3, event::TYPE_NMI),
            event::new(8, event::TYPE_EXTERNAL),
            event::new(0x30, event::TYPE_EXTERNAL) | 1 << 20,
            event::new(0x30, 5),
        ] {
            assert_eq!(event_injection(bad), Err(ReplyError::BadEvent), "{bad:#x}");
        }
        assert!(event_injection(event::new(0x30, event::TYPE_EXTERNAL)).is_ok());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// No reply, however hostile, makes the decoder panic.
        #[test]
        fn any_reply_decodes_or_is_refused(
            words in proptest::array::uniform6(any::<u64>()),
            buffer in proptest::collection::vec(any::<u64>(), 0..40),
            msr in any::<bool>(),
        ) {
            let _ = decode(&words, &buffer, msr);
        }
    }
}
