//! Round trips of every message and reply the protocol can carry, and
//! the decoders fed any words at all.
use proptest::prelude::*;
use tessera_abi::vm::{action, state};
use tessera_exit_protocol::exit::{message_type, size_mask};
use tessera_exit_protocol::{
    EncodedExit, Event, EventKind, Exit, ExitError, ExitMessage, ExitReply, GuestRegisters,
    Intercept, MemoryAccess, PartitionName, PostedWrite, ReplyError,
};
use tlfs::intercept::{
    HvX64CpuidInterceptMessage, HvX64InterceptMessageHeader, HvX64IoPortInterceptMessage,
    HvX64MemoryInterceptMessage, HvX64MsrInterceptMessage,
};
use tlfs::register::HvRegisterName as Name;
use zerocopy::FromBytes;

fn posted_write_strategy() -> impl Strategy<Value = PostedWrite> {
    (
        any::<u16>(),
        prop::sample::select(&[1u8, 2, 4][..]),
        any::<u32>(),
    )
        .prop_map(|(port, size, value)| PostedWrite {
            port,
            size,
            value: (u64::from(value) & size_mask(size)) as u32,
        })
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
        any::<[u64; 3]>().prop_map(|[control, input, output]| Exit::Hypercall {
            control,
            input,
            output
        }),
        any::<[u64; 3]>().prop_map(|[rip, exit_code, rsp]| Exit::UnrecoverableException {
            rip,
            exit_code,
            rsp,
        }),
        any::<u64>().prop_map(|message_type| Exit::HandlerDied { message_type }),
        (any::<u64>(), any::<u64>())
            .prop_map(|(exit_code, rip)| Exit::Unsupported { exit_code, rip }),
        Just(Exit::ResetRequest),
        Just(Exit::InterruptAcknowledge),
        Just(Exit::PostedWrites),
        any::<[u64; 4]>().prop_map(|parameters| Exit::GuestCrash { parameters }),
        any::<[u64; 4]>().prop_map(|words| Exit::PartitionAttach {
            name: PartitionName::from_words(words)
        }),
    ]
}

/// The intercept message the kernel sends with `exit`, from any bytes.
fn intercept_for(exit: &Exit, bytes: &[u8; 128]) -> Intercept {
    fn from<T: FromBytes>(bytes: &[u8]) -> T {
        T::read_from_prefix(bytes).unwrap().0
    }
    match exit {
        Exit::IoPort { .. } => Intercept::IoPort(from::<HvX64IoPortInterceptMessage>(bytes)),
        Exit::Msr { .. } => Intercept::Msr(from::<HvX64MsrInterceptMessage>(bytes)),
        Exit::Cpuid { .. } => Intercept::Cpuid(from::<HvX64CpuidInterceptMessage>(bytes)),
        Exit::Memory { .. } => Intercept::Memory(from::<HvX64MemoryInterceptMessage>(bytes)),
        Exit::Halt { .. }
        | Exit::Exception { .. }
        | Exit::Hypercall { .. }
        | Exit::UnrecoverableException { .. }
        | Exit::Unsupported { .. } => Intercept::Header(from::<HvX64InterceptMessageHeader>(bytes)),
        _ => Intercept::None,
    }
}

fn event_strategy() -> impl Strategy<Value = Event> {
    (
        any::<u8>(),
        prop::sample::select(
            &[
                EventKind::External,
                EventKind::Nmi,
                EventKind::Exception,
                EventKind::Software,
            ][..],
        ),
        any::<Option<u32>>(),
    )
        .prop_map(|(vector, kind, error_code)| Event {
            vector,
            kind,
            error_code,
        })
}

/// A register a reply may set and a value it may hold.
fn register_write() -> impl Strategy<Value = (Name, u64)> {
    prop_oneof![
        (0u32..16, any::<u64>()).prop_map(|(n, v)| (Name(Name::X64_RAX.0 + n), v)),
        any::<u64>().prop_map(|v| (Name::X64_RIP, v & 0x7FFF_FFFF_FFFF)),
        any::<u64>().prop_map(|v| (Name::X64_RFLAGS, (v & 0x3F_7FD7) | 2)),
    ]
}

fn reply_strategy() -> impl Strategy<Value = ExitReply> {
    (
        any::<[bool; 3]>(),
        any::<Option<[u64; 2]>>(),
        proptest::option::of(event_strategy()),
        prop::collection::vec(register_write(), 0..24),
    )
        .prop_map(|([advance_rip, stop, fault], result, inject, writes)| {
            let mut reply = ExitReply::new();
            reply.advance_rip = advance_rip;
            reply.stop = stop;
            reply.fault = fault;
            reply.result = result;
            reply.inject = inject;
            writes.into_iter().fold(reply, |reply, (name, value)| {
                reply.set_register(name, value)
            })
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// What a kernel sends — the writes it posted, the exit, its TLFS body
    /// and the registers the route asked for — comes back as it was sent.
    #[test]
    fn exit_messages_round_trip(
        exit in exit_strategy(),
        vp in any::<u32>(),
        bytes in any::<[u8; 128]>(),
        mask in 0u64..=state::ALL,
        registers in any::<[u64; 16]>(),
        posted in prop::collection::vec(posted_write_strategy(), 0..=32),
    ) {
        let intercept = intercept_for(&exit, &bytes);
        let mut message = EncodedExit::new(&exit, vp);
        intercept.encode(&mut message);
        message.registers(mask, |n| registers[usize::from(n)]);
        let attach = matches!(exit, Exit::PartitionAttach { .. });
        if !attach {
            let words: Vec<u64> = posted.iter().map(PostedWrite::word).collect();
            prop_assert!(message.prepend_posted(&words));
        }
        prop_assert!(message.buffer_words() <= tessera_exit_protocol::EXIT_BUFFER_WORDS);
        let received = ExitMessage::decode(&message.words, message.buffer());
        prop_assert_eq!(received.exit, Ok(exit));
        prop_assert_eq!(received.message_type, exit.message_type());
        prop_assert_eq!(received.intercept, intercept);
        if !attach {
            prop_assert_eq!(received.vp_index, u64::from(vp));
            prop_assert_eq!(received.posted, posted.len());
            let got: Vec<_> =
                tessera_exit_protocol::posted::writes(&message.words, message.buffer()).collect();
            let sent: Vec<_> = posted.iter().copied().map(Some).collect();
            prop_assert_eq!(got, sent);
        }
        let received = GuestRegisters::from_buffer(message.buffer(), mask).unwrap();
        for (n, &value) in registers.iter().enumerate() {
            let asked = mask & (1 << n) != 0;
            prop_assert_eq!(received.get(1 << n), asked.then_some(value));
        }
    }

    /// A kept message restarted for another exit, its buffer left as the
    /// last one filled it, is what a fresh one would be: same words, same
    /// buffer, same decoding.
    #[test]
    fn a_restarted_message_is_a_new_one(
        first in exit_strategy(),
        exit in exit_strategy(),
        vp in any::<u32>(),
        bytes in any::<[u8; 128]>(),
        mask in 0u64..=state::ALL,
        registers in any::<[u64; 16]>(),
    ) {
        let mut kept = EncodedExit::new(&first, vp ^ 1);
        intercept_for(&first, &bytes).encode(&mut kept);
        kept.registers(state::ALL, |n| !registers[usize::from(n)]);
        let intercept = intercept_for(&exit, &bytes);
        let mut fresh = EncodedExit::new(&exit, vp);
        intercept.encode(&mut fresh);
        fresh.registers(mask, |n| registers[usize::from(n)]);
        kept.restart(&exit, vp);
        intercept.encode(&mut kept);
        kept.registers(mask, |n| registers[usize::from(n)]);
        prop_assert_eq!(&kept.words, &fresh.words);
        prop_assert_eq!(kept.buffer(), fresh.buffer());
        prop_assert_eq!(&kept, &fresh);
        prop_assert_eq!(
            ExitMessage::decode(&kept.words, kept.buffer()),
            ExitMessage::decode(&fresh.words, fresh.buffer())
        );
    }

    /// Any words and any buffer decode, and what decodes is consistent.
    #[test]
    fn any_exit_message_decodes(
        words in any::<[u64; 6]>(),
        kind in 0usize..28,
        buffer in prop::collection::vec(any::<u64>(), 0..40),
    ) {
        use message_type::*;
        let known = [IO_PORT, MSR, CPUID, EXCEPTION, HALT, UNMAPPED_GPA, GPA_INTERCEPT,
            UNRECOVERABLE, HANDLER_DIED, UNSUPPORTED, PARTITION_ATTACH, RESET_REQUEST,
            GUEST_CRASH, HYPERCALL];
        let mut words = words;
        if let Some(&t) = known.get(kind) {
            words[0] = t;
        }
        let message = ExitMessage::decode(&words, &buffer);
        prop_assert_eq!(message.message_type, words[0]);
        match message.exit {
            Err(ExitError::Unknown(t)) => prop_assert!(!known.contains(&t)),
            Err(ExitError::Malformed { message_type, .. }) => {
                prop_assert!(known.contains(&message_type))
            }
            Ok(exit) => {
                // What decodes encodes to words that decode to it again.
                let again = Exit::decode(&exit.encode(words[1] as u32));
                prop_assert_eq!(again, Ok(exit));
            }
        }
        let _ = message.type_name();
    }

    /// Every reply the builder makes comes back as it was built.
    #[test]
    fn replies_round_trip(reply in reply_strategy()) {
        let encoded = reply.encode().unwrap();
        prop_assert_eq!(encoded.words[0] & !action::ALL, 0);
        prop_assert!(encoded.buffer().len() <= tessera_exit_protocol::reply::MAX_REPLY_REGISTER_WORDS);
        prop_assert_eq!(ExitReply::decode(&encoded.words, encoded.buffer()), Ok(reply));
    }

    /// No reply, however hostile, makes the decoder panic; what it accepts
    /// encodes to a reply that decodes the same.
    #[test]
    fn any_reply_decodes_or_is_refused(
        words in any::<[u64; 6]>(),
        actions in 0u64..=action::ALL,
        buffer in prop::collection::vec(any::<u64>(), 0..40),
        names in prop::collection::vec(0x0002_0000u64..0x0002_0013, 0..20),
    ) {
        let mut words = words;
        // Half the time only defined actions, and pairs naming registers
        // near the settable ones.
        if words[5] & 1 == 0 {
            words[0] = actions;
        }
        let mut buffer = buffer;
        for (slot, name) in buffer.iter_mut().step_by(2).zip(names) {
            *slot = name;
        }
        match ExitReply::decode(&words, &buffer) {
            Ok(reply) => {
                let encoded = reply.encode().unwrap();
                prop_assert_eq!(ExitReply::decode(&encoded.words, encoded.buffer()), Ok(reply));
            }
            Err(ReplyError::FaultNotApplicable | ReplyError::NothingToAdvance) => {
                prop_assert!(false, "the kernel's checks, not the decoder's");
            }
            Err(_) => {}
        }
    }

    /// Every event word the protocol defines round-trips.
    #[test]
    fn events_round_trip(event in event_strategy()) {
        prop_assert_eq!(Event::decode(event.encode()), Ok(event));
    }
}
