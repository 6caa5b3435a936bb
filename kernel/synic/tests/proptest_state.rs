//! Property tests of the SynIC state machine: message slots, MessagePending
//! and EOM under any interleaving of posts and guest actions; event flags
//! and the 0→1 rule; timers on their grid.

mod common;

use std::collections::BTreeMap;

use common::{World, s};
use proptest::prelude::*;
use tessera_synic::ports::{ConnectSpec, PortKind, PortSpec};
use tessera_synic::timer::{Stimer, StimerPolicy};
use tessera_synic::{Owner, slot};
use tlfs::HvStatus;
use tlfs::msr as m;
use tlfs::timer::HvStimerConfig;

/// (port ID, VP, SINT) of the message ports.
const PORTS: [(u32, u32, u32); 3] = [(0x100, 0, 2), (0x101, 0, 3), (0x102, 1, 2)];
/// Connection → port index; two connections share port 0.
const CONNECTIONS: [(u32, usize); 4] = [(1, 0), (2, 1), (3, 2), (4, 0)];

fn message_world() -> World {
    let mut world = World::new(2);
    let p = world.partition;
    for vp in 0..2 {
        world.enable(vp);
        world.unmask(vp, 2, 0x42);
        world.unmask(vp, 3, 0x43);
    }
    for (id, vp, sint) in PORTS {
        let spec = PortSpec {
            id,
            kind: PortKind::Message,
            vp,
            sint: s(sint),
        };
        world.synic.create_port(p, spec, Owner::Manifest).unwrap();
    }
    for (connection, port) in CONNECTIONS {
        let spec = ConnectSpec {
            id: connection,
            port: PORTS[port].0,
            port_type: tlfs::synic::HvPortType::MESSAGE,
        };
        world.synic.connect(p, spec, p, Owner::Manifest).unwrap();
    }
    world
}

#[derive(Clone, Debug)]
enum MessageOp {
    Post(usize),
    /// The guest takes the slot's message and writes EOM if it is flagged.
    Take(usize),
    /// The guest clears the slot and writes nothing.
    TakeQuietly(usize),
    Eom(u32),
    Eoi(u32, u8),
    ToggleSimp(u32),
}

fn message_op() -> impl Strategy<Value = MessageOp> {
    prop_oneof![
        4 => (0..CONNECTIONS.len()).prop_map(MessageOp::Post),
        3 => (0..PORTS.len()).prop_map(MessageOp::Take),
        1 => (0..PORTS.len()).prop_map(MessageOp::TakeQuietly),
        1 => (0..2_u32).prop_map(MessageOp::Eom),
        1 => (0..2_u32, prop_oneof![Just(0x42_u8), Just(0x43)]).prop_map(|(vp, v)| MessageOp::Eoi(vp, v)),
        1 => (0..2_u32).prop_map(MessageOp::ToggleSimp),
    ]
}

/// The guest's view of what each port delivered, by the sequence number
/// each post carried.
#[derive(Default)]
struct Ledger {
    accepted: BTreeMap<u32, Vec<u32>>,
    consumed: BTreeMap<u32, Vec<u32>>,
}

impl Ledger {
    fn consume(&mut self, message: &tlfs::HvMessage) {
        let port = message.header.port().id();
        let sequence = u32::from_le_bytes(message.payload_bytes()[..4].try_into().unwrap());
        self.consumed.entry(port).or_default().push(sequence);
    }

    fn check_prefix(&self) {
        for (port, consumed) in &self.consumed {
            let accepted = self.accepted.get(port).map_or(&[][..], Vec::as_slice);
            assert!(
                accepted.starts_with(consumed),
                "port {port:#x}: consumed {consumed:?} is not a prefix of accepted {accepted:?}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// No message is lost, duplicated, reordered or invented; the buffers
    /// refuse only when 16 are in use; a busy slot with more waiting is
    /// always flagged MessagePending.
    #[test]
    fn messages(ops in prop::collection::vec(message_op(), 1..120)) {
        let mut world = message_world();
        let p = world.partition;
        let mut ledger = Ledger::default();
        let mut sequence = 0_u32;
        for op in ops {
            match op {
                MessageOp::Post(c) => {
                    let (connection, port) = CONNECTIONS[c];
                    let (id, vp, sint) = PORTS[port];
                    sequence += 1;
                    let queued = world.synic.queued(p, vp, s(sint)).count();
                    let status = world.post(connection, 7, &sequence.to_le_bytes());
                    let simp = world.synic.registers(p, vp).unwrap().simp.enable();
                    match status {
                        HvStatus::SUCCESS => ledger.accepted.entry(id).or_default().push(sequence),
                        HvStatus::INVALID_SYNIC_STATE => prop_assert!(!simp),
                        HvStatus::INSUFFICIENT_BUFFERS => {
                            // Only port 0 shares its SINT's queue with
                            // nobody else: count this port's messages.
                            let mine = world
                                .synic
                                .queued(p, vp, s(sint))
                                .filter(|m| m.header.port().id() == id)
                                .count();
                            prop_assert_eq!(mine, 16, "queued {}", queued);
                        }
                        other => prop_assert!(false, "unexpected {:?}", other),
                    }
                }
                MessageOp::Take(port) => {
                    let (_, vp, sint) = PORTS[port];
                    if let Some(message) = world.take(vp, sint) {
                        ledger.consume(&message);
                    }
                }
                MessageOp::TakeQuietly(port) => {
                    let (_, vp, sint) = PORTS[port];
                    if let Some(message) = world.synic.pages_mut(p, vp).unwrap().take_message(s(sint)) {
                        ledger.consume(&message);
                    }
                }
                MessageOp::Eom(vp) => {
                    world.wrmsr(vp, m::HV_X64_MSR_EOM, 0).unwrap();
                }
                MessageOp::Eoi(vp, vector) => {
                    let deliveries = world.synic.eoi(p, vp, vector, world.now);
                    world.interrupts.extend(deliveries);
                }
                MessageOp::ToggleSimp(vp) => {
                    let simp = world.rdmsr(vp, m::HV_X64_MSR_SIMP).unwrap();
                    world.wrmsr(vp, m::HV_X64_MSR_SIMP, simp ^ 1).unwrap();
                }
            }
            ledger.check_prefix();
            for (_, vp, sint) in PORTS {
                let pages = world.synic.pages(p, vp).unwrap();
                let busy = !slot::slot_is_empty(pages, s(sint));
                let waiting = world.synic.queued(p, vp, s(sint)).next().is_some();
                if busy && waiting {
                    prop_assert!(pages.message(s(sint)).header.message_flags.message_pending());
                }
            }
        }
        // Drain: every accepted message arrives.
        for vp in 0..2 {
            let simp = world.rdmsr(vp, m::HV_X64_MSR_SIMP).unwrap();
            world.wrmsr(vp, m::HV_X64_MSR_SIMP, simp | 1).unwrap();
            world.wrmsr(vp, m::HV_X64_MSR_EOM, 0).unwrap();
        }
        for _ in 0..64 {
            for (_, vp, sint) in PORTS {
                if let Some(message) = world.take(vp, sint) {
                    ledger.consume(&message);
                }
            }
        }
        prop_assert_eq!(&ledger.consumed, &ledger.accepted);
    }
}

#[derive(Clone, Debug)]
enum FlagOp {
    Signal(u16),
    Clear(u16),
    ToggleMask,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// A signal sets its flag; it interrupts exactly when the flag was 0
    /// and the SINT is unmasked; a masked SINT refuses and sets nothing.
    #[test]
    fn event_flags(ops in prop::collection::vec(prop_oneof![
        3 => (0..16_u16).prop_map(FlagOp::Signal),
        2 => (0..16_u16).prop_map(FlagOp::Clear),
        1 => Just(FlagOp::ToggleMask),
    ], 1..100)) {
        let mut world = World::new(1);
        let p = world.partition;
        world.enable(0);
        world.unmask(0, 6, 0x66);
        let spec = PortSpec {
            id: 9,
            kind: PortKind::Event { base_flag: 100, flag_count: 16 },
            vp: 0,
            sint: s(6),
        };
        world.synic.create_port(p, spec, Owner::Manifest).unwrap();
        let connect = ConnectSpec { id: 5, port: 9, port_type: tlfs::synic::HvPortType::EVENT };
        world.synic.connect(p, connect, p, Owner::Manifest).unwrap();
        let mut model = 0_u16;
        let mut masked = false;
        for op in ops {
            match op {
                FlagOp::Signal(flag) => {
                    world.drain_interrupts();
                    let status = world.signal(5, flag);
                    let raised = world.drain_interrupts();
                    if masked {
                        prop_assert_eq!(status, HvStatus::INVALID_SYNIC_STATE);
                        prop_assert!(raised.is_empty());
                    } else {
                        prop_assert_eq!(status, HvStatus::SUCCESS);
                        let was = model & 1 << flag != 0;
                        prop_assert_eq!(raised.len(), usize::from(!was));
                        model |= 1 << flag;
                    }
                }
                FlagOp::Clear(flag) => {
                    let was = world.synic.pages_mut(p, 0).unwrap().clear_flag(s(6), 100 + flag);
                    prop_assert_eq!(was, model & 1 << flag != 0);
                    model &= !(1 << flag);
                }
                FlagOp::ToggleMask => {
                    masked = !masked;
                    let value = if masked { 0x1_0066 } else { 0x66 };
                    world.wrmsr(0, m::HV_X64_MSR_SINT0 + 6, value).unwrap();
                }
            }
            let flags = world.synic.pages(p, 0).unwrap().event_flags(s(6));
            for flag in 0..2048 {
                let expected = (100..116).contains(&flag) && model & 1 << (flag - 100) != 0;
                prop_assert_eq!(flags.flag(flag), Some(expected));
            }
        }
    }
}

#[derive(Clone, Debug)]
enum TimerOp {
    Count(u64),
    Config {
        periodic: bool,
        lazy: bool,
        auto: bool,
        enable: bool,
    },
    Advance(u64),
    Release,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Expirations never come early; a periodic timer's lie on its grid and
    /// every grid point passed is either delivered or counted missed; a
    /// one-shot fires once, at its count.
    #[test]
    fn timers(ops in prop::collection::vec(prop_oneof![
        2 => (0..2_000_u64).prop_map(TimerOp::Count),
        2 => (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>())
            .prop_map(|(periodic, lazy, auto, enable)| TimerOp::Config { periodic, lazy, auto, enable }),
        4 => (0..1_500_u64).prop_map(TimerOp::Advance),
        2 => Just(TimerOp::Release),
    ], 1..80)) {
        let mut timer = Stimer::default();
        let policy = StimerPolicy { direct_mode: false };
        let mut now = 0_u64;
        // Since the timer was last armed: (grid base, period) or the
        // one-shot count, and what came of it.
        let mut armed: Option<(u64, u64, bool)> = None;
        let mut fired = 0_u64;
        let mut missed_at_arm = 0_u64;
        let mut last: Option<u64> = None;
        for op in ops {
            let before = timer.deadline();
            match op {
                TimerOp::Count(count) => timer.write_count(count, now),
                TimerOp::Config { periodic, lazy, auto, enable } => {
                    let config = HvStimerConfig::new()
                        .with_enable(enable)
                        .with_periodic(periodic)
                        .with_lazy(lazy)
                        .with_auto_enable(auto)
                        .with_sintx(1);
                    timer.write_config(config.into_bits(), now, &policy).unwrap();
                }
                TimerOp::Advance(ticks) => now += ticks,
                TimerOp::Release => {
                    timer.release_buffer();
                }
            }
            if !matches!(op, TimerOp::Advance(_) | TimerOp::Release) || before.is_none() != timer.deadline().is_none() {
                // (Re)armed or disarmed by a register write.
                armed = timer.deadline().map(|deadline| {
                    let periodic = timer.config().periodic();
                    let base = if periodic { deadline - timer.count() } else { deadline };
                    (base, timer.count(), periodic)
                });
                fired = 0;
                missed_at_arm = timer.missed();
                last = None;
            }
            while let Some(expiry) = timer.poll(now) {
                prop_assert!(expiry.expiration <= now, "early: {} > {}", expiry.expiration, now);
                prop_assert!(last.is_none_or(|l| l < expiry.expiration));
                last = Some(expiry.expiration);
                fired += 1;
                let (base, count, periodic) = armed.unwrap();
                if periodic {
                    prop_assert_eq!((expiry.expiration - base) % count, 0);
                } else {
                    prop_assert_eq!(expiry.expiration, count);
                    prop_assert_eq!(fired, 1);
                }
            }
            if let Some((base, period, true)) = armed {
                prop_assert!(timer.deadline().unwrap() > now);
                let passed = if now >= base { (now - base) / period } else { 0 };
                prop_assert_eq!(fired + timer.missed() - missed_at_arm, passed);
            }
        }
    }
}
