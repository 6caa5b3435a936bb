//! Restart: the `synic` component may die between any two of its kernel
//! calls (or after its last, before its own state caught up); a new
//! instance rebuilds its state from the kernel and handles the interrupted
//! exit again from the start, as the VP is still waiting for it.
//!
//! The property: a run with such crashes is, to the guest, the same run
//! as one without — the same MSR values, statuses and messages — and no
//! message that `HvCallPostMessage` accepted is lost or delivered twice:
//! each one reaches the guest once, or is freed with its port ("Deletion
//! of the target port will always free all of the port's message buffers,
//! whether they are available or contain undelivered (queued) messages",
//! TLFS md `inter-partition-communication.md`), which the test device's
//! destroy operation does.
//! (An interrupt may be raised once more after a restart; the SynIC's
//! state is in its pages and queues, not in the interrupt, so that is
//! harmless and not compared.)

mod common;

use common::{World, s};
use proptest::prelude::*;
use tessera_hv1::hypercall::{Caller, HypercallRegisters};
use tessera_synic::component::HypercallStep;
use tessera_synic::{KernelCall, StimerMsr, SynicComponent};
use tlfs::msr as m;
use tlfs::timer::HvStimerConfig;
use tlfs::{HvStatus, HypercallCode, HypercallInputValue};
use zerocopy::IntoBytes;

/// A test-device write: `conn << 24 | op << 16 | vp << 8 | sint`.
const fn dev(connection: u32, op: u32, vp: u32, sint: u32) -> u32 {
    connection << 24 | op << 16 | vp << 8 | sint
}

const DEVICE_WRITES: [u32; 10] = [
    dev(0x10, 4, 0, 2),
    dev(0x11, 4, 1, 2),
    dev(0x10, 5, 0, 2),
    dev(0x11, 5, 1, 2),
    dev(0x20, 6, 0, 3),
    dev(0x21, 6, 1, 3),
    dev(0x20, 7, 0, 3),
    dev(0, 1, 1, 3),
    dev(0, 3, 1, 3),
    dev(0, 2, 1, 3),
];

const MSRS: [u32; 6] = [
    m::HV_X64_MSR_SCONTROL,
    m::HV_X64_MSR_SIMP,
    m::HV_X64_MSR_SIEFP,
    m::HV_X64_MSR_SINT0 + 2,
    m::HV_X64_MSR_SINT0 + 3,
    m::HV_X64_MSR_EOM,
];

const VALUES: [u64; 6] = [0, 1, 0x3_0001, 0x0_0042, 0x1_0043, 0x7];

#[derive(Clone, Debug)]
enum Action {
    Wrmsr(u32, usize, usize),
    Rdmsr(u32, usize),
    Post(u32),
    Signal(u32, u16),
    Device(usize),
    Take(u32, u32),
    Clear(u32, u16),
    Timer(u32, u64),
    Tick(u64),
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => (0..2_u32, 0..MSRS.len(), 0..VALUES.len()).prop_map(|(vp, r, v)| Action::Wrmsr(vp, r, v)),
        1 => (0..2_u32, 0..MSRS.len()).prop_map(|(vp, r)| Action::Rdmsr(vp, r)),
        4 => prop_oneof![Just(0x10_u32), Just(0x11), Just(0x12)].prop_map(Action::Post),
        2 => (prop_oneof![Just(0x20_u32), Just(0x21)], 0..2_u16).prop_map(|(c, f)| Action::Signal(c, f)),
        2 => (0..DEVICE_WRITES.len()).prop_map(Action::Device),
        3 => (0..2_u32, 2..4_u32).prop_map(|(vp, sint)| Action::Take(vp, sint)),
        1 => (0..2_u32, prop_oneof![Just(0x20_u16), Just(0x21)]).prop_map(|(vp, f)| Action::Clear(vp, f)),
        1 => (0..2_u32, 1..300_u64).prop_map(|(vp, t)| Action::Timer(vp, t)),
        1 => (1..200_u64).prop_map(Action::Tick),
    ]
}

/// What the guest sees of one action.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    Nothing,
    Write(bool),
    Value(Result<u64, ()>),
    Status(HvStatus),
    Message(Option<(u32, Vec<u8>, bool)>),
    Cleared(bool),
}

/// A world whose component may die: `crash` is how many of the action's
/// kernel calls get made before it does.
struct Run {
    world: World,
    accepted: Vec<u32>,
    consumed: Vec<u32>,
    /// Queued in a port when it was deleted.
    discarded: Vec<u32>,
    sequence: u32,
}

impl Run {
    fn new() -> Self {
        let mut world = World::new(2);
        for vp in 0..2 {
            world.enable(vp);
            world.unmask(vp, 2, 0x42);
            world.unmask(vp, 3, 0x43);
        }
        Self {
            world,
            accepted: Vec::new(),
            consumed: Vec::new(),
            discarded: Vec::new(),
            sequence: 0,
        }
    }

    fn restart(&mut self) {
        self.world.component = SynicComponent::start(&self.world.synic);
    }

    /// Makes `calls`, or only the first `crash` of them and then dies.
    /// Returns the answers, or `None` if it died.
    fn make(&mut self, calls: &[KernelCall], crash: Option<usize>) -> Option<Vec<bool>> {
        let mut answers = Vec::new();
        for (made, call) in calls.iter().enumerate() {
            if crash == Some(made) {
                self.restart();
                return None;
            }
            if let KernelCall::DeletePort { partition, id } = *call {
                self.note_discarded(partition, id);
            }
            let answer = self.world.synic.apply(call, self.world.now);
            if crash == Some(made + 1) && made + 1 == calls.len() {
                // Dies after its last call (which was the reply), before
                // its own state follows.
                self.restart();
                return Some(vec![answer.is_ok(); 1]);
            }
            self.world.component.completed(call, &answer);
            answers.push(answer.is_ok());
        }
        if crash.is_some_and(|at| at > calls.len()) {
            self.restart();
        }
        Some(answers)
    }

    fn note_discarded(&mut self, partition: tessera_synic::PartitionRef, id: u32) {
        let synic = &self.world.synic;
        let Some(port) = synic.ports(partition).find(|p| p.spec.id == id) else {
            return;
        };
        let sequences: Vec<u32> = synic
            .queued(partition, port.spec.vp, port.spec.sint)
            .filter(|m| m.header.port().id() == id && m.header.message_type.0 == 9)
            .map(|m| u32::from_le_bytes(m.payload_bytes()[..4].try_into().unwrap()))
            .collect();
        self.discarded.extend(sequences);
    }

    fn act(&mut self, action: &Action, mut crash: Option<usize>) -> Seen {
        loop {
            if let Some(seen) = self.try_act(action, crash) {
                return seen;
            }
            // The VP still waits for its exit: the new instance handles it.
            crash = None;
        }
    }

    /// `None`: the component died before answering.
    fn try_act(&mut self, action: &Action, crash: Option<usize>) -> Option<Seen> {
        let p = self.world.partition;
        Some(match *action {
            Action::Wrmsr(vp, register, value) => {
                let call = self
                    .world
                    .component
                    .write_msr(p, vp, MSRS[register], VALUES[value]);
                match call {
                    Err(_) => Seen::Write(false),
                    Ok(call) => {
                        let answers = self.make(&[call], crash)?;
                        Seen::Write(answers[0])
                    }
                }
            }
            Action::Rdmsr(vp, register) => {
                if crash.is_some() {
                    self.restart();
                    return None;
                }
                Seen::Value(
                    self.world
                        .component
                        .read_msr(p, vp, MSRS[register])
                        .map_err(|_| ()),
                )
            }
            Action::Post(connection) => {
                let sequence = self.sequence + 1;
                let input = common::post_input(connection, 9, &sequence.to_le_bytes());
                let status =
                    self.hypercall(HypercallCode::POST_MESSAGE, false, input.as_bytes(), crash)?;
                self.sequence = sequence;
                if status == HvStatus::SUCCESS {
                    self.accepted.push(sequence);
                }
                Seen::Status(status)
            }
            Action::Signal(connection, flag) => {
                if let Some(result) = self.world.synic.signal_event_fast(p, connection, flag) {
                    return Some(Seen::Status(result.err().unwrap_or(HvStatus::SUCCESS)));
                }
                let input = u64::from(connection) | u64::from(flag) << 32;
                Seen::Status(self.hypercall(
                    HypercallCode::SIGNAL_EVENT,
                    true,
                    &input.to_le_bytes(),
                    crash,
                )?)
            }
            Action::Device(write) => {
                let plan = self
                    .world
                    .component
                    .testdev(&self.world.synic, p, DEVICE_WRITES[write])
                    .unwrap();
                self.make(&plan, crash)?;
                Seen::Nothing
            }
            Action::Take(vp, sint) => {
                let taken = self
                    .world
                    .synic
                    .pages_mut(p, vp)
                    .unwrap()
                    .take_message(s(sint));
                Seen::Message(taken.map(|message| {
                    if message.header.message_type.0 == 9 {
                        let bytes = message.payload_bytes()[..4].try_into().unwrap();
                        self.consumed.push(u32::from_le_bytes(bytes));
                    }
                    let size = usize::from(message.header.payload_size);
                    (
                        message.header.message_type.0,
                        message.payload_bytes()[..size].to_vec(),
                        message.header.message_flags.message_pending(),
                    )
                }))
            }
            Action::Clear(vp, flag) => Seen::Cleared(
                self.world
                    .synic
                    .pages_mut(p, vp)
                    .unwrap()
                    .clear_flag(s(3), flag),
            ),
            Action::Timer(vp, ticks) => {
                // The kernel's fast path: no component involved.
                let now = self.world.now;
                let config = HvStimerConfig::new().with_enable(true).with_sintx(2);
                let count = StimerMsr::from_msr(m::HV_X64_MSR_STIMER1_COUNT).unwrap();
                let conf = StimerMsr::from_msr(m::HV_X64_MSR_STIMER1_CONFIG).unwrap();
                let _ = self.world.synic.write_timer(p, vp, count, now + ticks, now);
                let _ = self
                    .world
                    .synic
                    .write_timer(p, vp, conf, config.into_bits(), now);
                Seen::Nothing
            }
            Action::Tick(ticks) => {
                self.world.advance(ticks);
                Seen::Nothing
            }
        })
    }

    fn hypercall(
        &mut self,
        code: HypercallCode,
        fast: bool,
        input: &[u8],
        crash: Option<usize>,
    ) -> Option<HvStatus> {
        let mut rdx = common::INPUT_GPA;
        if fast {
            rdx = u64::from_le_bytes(input.try_into().unwrap());
        } else {
            tessera_hv1::hypercall::GuestMemory::write(&mut self.world.memory, rdx, input).unwrap();
        }
        let control = HypercallInputValue::new()
            .with_call_code(code)
            .with_fast(fast);
        let regs = HypercallRegisters {
            rcx: control.into_bits(),
            rdx,
            ..Default::default()
        };
        let step = self.world.component.hypercall(
            self.world.partition,
            Caller::KERNEL64,
            &regs,
            &[0_u128; 6],
            &self.world.memory,
            &self.world.hypercalls,
        );
        match step {
            HypercallStep::Call { call, .. } => {
                if crash == Some(0) {
                    self.restart();
                    return None;
                }
                // The call is the reply: the kernel completes the hypercall
                // with its status in the same step.
                let answer = self.world.synic.apply(&call, self.world.now);
                if crash.is_some() {
                    self.restart();
                }
                Some(answer.err().map_or(HvStatus::SUCCESS, |e| e.status()))
            }
            HypercallStep::Complete(writeback) => Some(writeback.result.unwrap().result()),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// The guest empties every slot (writing EOM between) until nothing
    /// comes.
    fn drain(&mut self) {
        let p = self.world.partition;
        for vp in 0..2 {
            for (msr, value) in [(m::HV_X64_MSR_SCONTROL, 1), (m::HV_X64_MSR_SIMP, 0x3_0001)] {
                let simp = 0x10 + u64::from(vp) * 2;
                let value = if msr == m::HV_X64_MSR_SIMP {
                    simp << 12 | 1
                } else {
                    value
                };
                let call = self.world.component.write_msr(p, vp, msr, value).unwrap();
                self.make(&[call], None).unwrap();
            }
        }
        for _ in 0..40 {
            for vp in 0..2 {
                for sint in 2..4 {
                    self.try_act(&Action::Take(vp, sint), None);
                }
                let eom = self
                    .world
                    .component
                    .write_msr(p, vp, m::HV_X64_MSR_EOM, 0)
                    .unwrap();
                self.make(&[eom], None).unwrap();
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn crash_anywhere_and_rebuild(
        script in prop::collection::vec((action(), prop::option::weighted(0.3, 0..4_usize)), 1..100)
    ) {
        let mut clean = Run::new();
        let mut crashy = Run::new();
        for (step, (action, crash)) in script.iter().enumerate() {
            let expected = clean.act(action, None);
            let seen = crashy.act(action, *crash);
            prop_assert_eq!(&seen, &expected, "step {}: {:?} crash {:?}", step, action, crash);
            // The rebuilt component is the one that never died.
            prop_assert_eq!(&crashy.world.component, &clean.world.component);
            prop_assert_eq!(
                crashy.world.synic.connections(crashy.world.partition),
                clean.world.synic.connections(clean.world.partition)
            );
        }
        for run in [&mut clean, &mut crashy] {
            run.drain();
            // Every accepted post arrived once or went with its port.
            let mut accounted: Vec<u32> = run.consumed.iter().chain(&run.discarded).copied().collect();
            accounted.sort_unstable();
            prop_assert_eq!(&accounted, &run.accepted);
        }
        prop_assert_eq!(&crashy.consumed, &clean.consumed);
        prop_assert_eq!(&crashy.discarded, &clean.discarded);
    }
}
