//! A handler's reply to an exit message, as the kernel accepts it: the
//! words decoded by `tessera_exit_protocol` (which refuses unknown
//! actions, registers a reply may not set and values they cannot hold),
//! then checked against the exit it answers and the architecture: the
//! guest must never run with a value the architecture does not allow
//! because a component said so.
use tessera_exit_protocol::{Event, EventKind, ReplyActions};
use tessera_svm::{EventInjection, ExceptionVector};

pub use tessera_exit_protocol::{RegisterWrites, ReplyError};
use tlfs::register::HvRegisterName as Name;

/// A checked reply, owned: the kernel captures it when it accepts it,
/// because the handler's message buffer holds its next message by the
/// time the VP's CPU applies it (issue 9, finding 3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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

/// The VMCB's `EVENTINJ` for `event`, if the architecture can deliver it
/// (an external interrupt above the exceptions, an NMI on vector 2, an
/// exception with its error code exactly when it pushes one).
pub fn checked_event(event: Event) -> Result<EventInjection, ReplyError> {
    let Event {
        vector,
        kind,
        error_code,
    } = event;
    let checked = match kind {
        EventKind::External if error_code.is_none() && vector >= 32 => {
            tessera_svm::Event::ExternalInterrupt { vector }
        }
        EventKind::Nmi if error_code.is_none() && vector == 2 => tessera_svm::Event::Nmi,
        EventKind::Exception => tessera_svm::Event::Exception {
            vector: ExceptionVector::new(vector).ok_or(ReplyError::BadEvent)?,
            error_code,
        },
        EventKind::Software if error_code.is_none() => {
            tessera_svm::Event::SoftwareInterrupt { vector }
        }
        _ => return Err(ReplyError::BadEvent),
    };
    checked.encode().map_err(|_| ReplyError::BadEvent)
}

/// Converts an ABI event word (`tessera_abi::vm::event`) into the VMCB's
/// `EVENTINJ`.
pub fn event_injection(word: u64) -> Result<EventInjection, ReplyError> {
    checked_event(Event::decode(word)?)
}

/// Decodes and checks reply words 0-5 and the message-buffer words that
/// came with them. `msr_exit` says whether the exit was an MSR intercept
/// (the only one `FAULT` applies to).
pub fn decode(words: &[u64; 6], buffer: &[u64], msr_exit: bool) -> Result<Reply, ReplyError> {
    let mut reply = Reply::default();
    decode_into(words, buffer, msr_exit, &mut reply)?;
    Ok(reply)
}

/// [`decode`] into `out`, which the kernel keeps in the VP's record: a
/// reply built apart and moved there copied its register array twice on
/// every forwarded exit. On an error `out` is unspecified.
#[inline]
pub fn decode_into(
    words: &[u64; 6],
    buffer: &[u64],
    msr_exit: bool,
    out: &mut Reply,
) -> Result<(), ReplyError> {
    // The same checks in the same order as `ExitReply::decode`, then the
    // kernel's own.
    let actions = ReplyActions::decode(words)?;
    if actions.set_registers {
        out.registers.decode_into(buffer)?;
    } else {
        out.registers.clear();
    }
    if actions.fault && (!msr_exit || actions.result.is_some() || actions.advance_rip) {
        return Err(ReplyError::FaultNotApplicable);
    }
    out.inject = match actions.inject {
        Some(event) => Some(checked_event(event)?),
        None => None,
    };
    out.advance_rip = actions.advance_rip;
    out.result = actions.result;
    out.stop = actions.stop;
    out.fault = actions.fault;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_abi::vm::{action, event};

    fn words(actions: u64) -> [u64; 6] {
        [actions, 0, 7, 8, 0, 0]
    }

    proptest::proptest! {
        /// The kernel decodes every reply into the one its VP record
        /// keeps: whatever that held before, the outcome is `decode`'s.
        #[test]
        fn decoding_into_a_used_reply_is_decoding(
            previous in proptest::array::uniform6(proptest::prelude::any::<u64>()),
            previous_buffer in proptest::collection::vec(0x1_FFF0u64..0x2_0018, 0..6),
            actions in 0u64..0x100,
            rest in proptest::array::uniform5(proptest::prelude::any::<u64>()),
            // Around RAX..RFLAGS (0x20000..0x20011): settable names and not.
            names in proptest::collection::vec(0x1_FFF0u64..0x2_0018, 0..6),
            value in proptest::prelude::any::<u64>(),
            msr_exit in proptest::prelude::any::<bool>(),
        ) {
            let mut kept = Reply::default();
            let _ = decode_into(&previous, &previous_buffer, msr_exit, &mut kept);
            let _ = decode_into(&words(action::SET_REGISTERS), &[u64::from(Name::X64_RBX.0), 9], false, &mut kept);
            let words = [actions, rest[0], rest[1], rest[2], rest[3], rest[4]];
            let buffer: std::vec::Vec<u64> = names.iter().flat_map(|&name| [name, value]).collect();
            let fresh = decode(&words, &buffer, msr_exit);
            let into = decode_into(&words, &buffer, msr_exit, &mut kept).map(|()| kept);
            proptest::prop_assert_eq!(into, fresh);
        }
    }

    #[test]
    fn faults_answer_msr_exits_alone() {
        assert!(decode(&words(action::FAULT), &[], true).unwrap().fault);
        for (actions, msr) in [
            (action::FAULT, false),
            (action::FAULT | action::ADVANCE_RIP, true),
            (action::FAULT | action::RESULT, true),
        ] {
            assert_eq!(
                decode(&words(actions), &[], msr),
                Err(ReplyError::FaultNotApplicable),
                "{actions:#x}"
            );
        }
        // What the protocol refuses, the kernel refuses too.
        assert_eq!(
            decode(&words(1 << 40), &[], true),
            Err(ReplyError::UnknownAction)
        );
        let reply = decode(&words(action::ADVANCE_RIP | action::RESULT), &[], false).unwrap();
        assert!(reply.advance_rip && !reply.fault);
        assert_eq!(reply.result, Some([7, 8]));
    }

    #[test]
    fn the_reply_owns_its_register_values() {
        let set = words(action::SET_REGISTERS);
        let mut buffer = [u64::from(Name::X64_RBX.0), 5];
        let reply = decode(&set, &buffer, false).unwrap();
        buffer[1] = 99;
        assert_eq!(reply.register_pairs().next(), Some((Name::X64_RBX, 5)));
        assert_eq!(buffer[1], 99);
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
        // A software interrupt (type 4, bit 10 set) is one the ABI names.
        let int80 = event_injection(event::new(0x80, event::TYPE_SOFTWARE)).unwrap();
        assert!(int80.valid() && !int80.error_code_valid());
        assert_eq!(int80.vector(), 0x80);
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
