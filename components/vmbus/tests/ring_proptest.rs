//! Properties of the rings under any interleaving.
//!
//! Honest peers: the host (this crate) and Linux (`common::linux_ring`)
//! each process their ring only when signalled — Linux's channel interrupt,
//! the host's event — so a signal the rules leave out shows as a packet
//! never delivered or a writer stuck forever. Everything written arrives,
//! intact and in order, and nobody waits at the end.
//!
//! A hostile guest rewrites any control field or data byte at any time:
//! the host never touches memory outside the ring (the memory panics), and
//! never panics itself.

mod common;

use std::collections::VecDeque;

use common::linux_ring::LinuxRing;
use common::memory::FlatRing;
use proptest::prelude::*;
use vmbus::ring::outgoing::WriteError;
use vmbus::ring::packet::{OutgoingPacket, PacketType};
use vmbus::ring::{ControlField, IncomingRing, OutgoingRing, RingMemory};

#[derive(Clone, Debug)]
enum Step {
    /// The host wants to send a packet of this many bytes.
    HostSubmit(usize),
    /// The guest wants to send one.
    GuestSubmit(usize),
    /// The guest's channel interrupt runs (if it was signalled).
    GuestInterrupt { batched: bool },
    /// The host's event runs (if it was signalled).
    HostEvent,
}

fn payload(seq: u64, len: usize) -> Vec<u8> {
    let mut data: Vec<u8> = (0..len).map(|i| (seq as usize * 31 + i) as u8).collect();
    if len >= 8 {
        data[..8].copy_from_slice(&seq.to_le_bytes());
    }
    data
}

struct World<'a> {
    host_out: OutgoingRing<&'a FlatRing>,
    host_in: IncomingRing<&'a FlatRing>,
    guest_in: LinuxRing<&'a FlatRing>,
    guest_out: LinuxRing<&'a FlatRing>,
    host_queue: VecDeque<(u64, Vec<u8>)>,
    guest_queue: VecDeque<(u64, Vec<u8>)>,
    guest_irq: bool,
    host_event: bool,
    guest_got: Vec<(u64, Vec<u8>)>,
    host_got: Vec<(u64, Vec<u8>)>,
}

impl World<'_> {
    fn host_flush(&mut self) {
        while let Some((seq, data)) = self.host_queue.front() {
            let packet = OutgoingPacket { packet_type: PacketType::DATA_INBAND, flags: 0, trans_id: *seq, data };
            match self.host_out.write(&packet) {
                Ok(written) => {
                    self.guest_irq |= written.signal_guest;
                    self.host_queue.pop_front();
                }
                Err(WriteError::Full { .. }) => break,
                Err(other) => panic!("honest ring refused a write: {other:?}"),
            }
        }
    }

    fn guest_flush(&mut self) {
        while let Some((seq, data)) = self.guest_queue.front() {
            match self.guest_out.send(6, 0, *seq, data) {
                Ok(signal) => {
                    self.host_event |= signal;
                    self.guest_queue.pop_front();
                    self.guest_out.mem.store(ControlField::PendingSendSize, 0);
                }
                Err(()) => {
                    // As netvsc does: say how much room is needed, wait.
                    let needed = (16 + data.len() as u32).next_multiple_of(8) + 8;
                    self.guest_out.mem.store(ControlField::PendingSendSize, needed);
                    break;
                }
            }
        }
    }

    fn guest_interrupt(&mut self, batched: bool) {
        if !std::mem::take(&mut self.guest_irq) {
            return;
        }
        loop {
            if batched {
                self.guest_in.begin_read();
            }
            while let Some((data, trans_id, signal)) = self.guest_in.recv(8192).expect("fits") {
                self.host_event |= signal;
                self.guest_got.push((trans_id, data));
            }
            if !batched || self.guest_in.end_read() == 0 {
                break;
            }
        }
        self.guest_flush();
    }

    fn host_event(&mut self) {
        if !std::mem::take(&mut self.host_event) {
            return;
        }
        let mut buffer = vec![0; 8192];
        loop {
            self.host_in.mask();
            while let Some(packet) = self.host_in.read(&mut buffer).expect("honest packet") {
                let data = packet.data(&buffer).to_vec();
                self.host_got.push((packet.descriptor.trans_id.get(), data));
                self.guest_irq |= self.host_in.commit();
            }
            if !self.host_in.unmask().expect("honest index") {
                break;
            }
        }
        self.host_flush();
    }
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0usize..1500).prop_map(Step::HostSubmit),
        3 => (0usize..1500).prop_map(Step::GuestSubmit),
        2 => any::<bool>().prop_map(|batched| Step::GuestInterrupt { batched }),
        2 => Just(Step::HostEvent),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn honest_rings_deliver_everything_and_lose_no_wakeup(
        pages in 1usize..4,
        steps in proptest::collection::vec(step(), 1..200),
    ) {
        let down = FlatRing::new(pages);
        let up = FlatRing::new(pages);
        let guest_in = LinuxRing::init(&down);
        let guest_out = LinuxRing::init(&up);
        let mut world = World {
            host_out: OutgoingRing::new(&down).unwrap(),
            host_in: IncomingRing::new(&up).unwrap(),
            guest_in,
            guest_out,
            host_queue: VecDeque::new(),
            guest_queue: VecDeque::new(),
            guest_irq: false,
            host_event: false,
            guest_got: Vec::new(),
            host_got: Vec::new(),
        };
        let mut host_sent = Vec::new();
        let mut guest_sent = Vec::new();
        for (seq, step) in steps.into_iter().enumerate() {
            let seq = seq as u64;
            match step {
                Step::HostSubmit(len) => {
                    let data = payload(seq, len);
                    host_sent.push((seq, data.clone()));
                    world.host_queue.push_back((seq, data));
                    world.host_flush();
                }
                Step::GuestSubmit(len) => {
                    let data = payload(seq, len);
                    guest_sent.push((seq, data.clone()));
                    world.guest_queue.push_back((seq, data));
                    world.guest_flush();
                }
                Step::GuestInterrupt { batched } => world.guest_interrupt(batched),
                Step::HostEvent => world.host_event(),
            }
            // Never full: the writer always leaves a gap.
            prop_assert!(world.host_out.free().unwrap() >= 8);
        }
        let mut rounds = 0;
        while world.guest_irq || world.host_event {
            world.guest_interrupt(rounds % 2 == 0);
            world.host_event();
            rounds += 1;
            prop_assert!(rounds < 10_000, "signals never settle");
        }
        prop_assert!(world.host_queue.is_empty(), "the host waits for room forever");
        prop_assert!(world.guest_queue.is_empty(), "the guest waits for room forever");
        // Linux's data includes the padding to 8; the host's too.
        let trim = |got: Vec<(u64, Vec<u8>)>, sent: &[(u64, Vec<u8>)]| -> Vec<(u64, Vec<u8>)> {
            got.into_iter()
                .zip(sent)
                .map(|((seq, mut data), (_, original))| {
                    data.truncate(original.len());
                    (seq, data)
                })
                .collect()
        };
        prop_assert_eq!(world.guest_got.len(), host_sent.len());
        prop_assert_eq!(world.host_got.len(), guest_sent.len());
        prop_assert_eq!(trim(world.guest_got, &host_sent), host_sent);
        prop_assert_eq!(trim(world.host_got, &guest_sent), guest_sent);
    }
}

#[derive(Clone, Debug)]
enum Hostile {
    Write(usize),
    Read(usize),
    Commit,
    Mask,
    Unmask,
    Poke { downstream: bool, field: u8, value: u32 },
    Scribble { downstream: bool, offset: usize, bytes: Vec<u8> },
    GuestSend(usize),
    GuestRecv,
}

fn hostile() -> impl Strategy<Value = Hostile> {
    let value = prop_oneof![any::<u32>(), (0u32..64).prop_map(|v| v * 8), 0u32..20000];
    prop_oneof![
        (0usize..5000).prop_map(Hostile::Write),
        (0usize..5000).prop_map(Hostile::Read),
        Just(Hostile::Commit),
        Just(Hostile::Mask),
        Just(Hostile::Unmask),
        (any::<bool>(), 0u8..5, value).prop_map(|(downstream, field, value)| Hostile::Poke { downstream, field, value }),
        (any::<bool>(), 0usize..20000, proptest::collection::vec(any::<u8>(), 1..24))
            .prop_map(|(downstream, offset, bytes)| Hostile::Scribble { downstream, offset, bytes }),
        (0usize..3000).prop_map(Hostile::GuestSend),
        Just(Hostile::GuestRecv),
    ]
}

const FIELDS: [ControlField; 5] = [
    ControlField::WriteIndex,
    ControlField::ReadIndex,
    ControlField::InterruptMask,
    ControlField::PendingSendSize,
    ControlField::FeatureBits,
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn a_hostile_guest_keeps_the_host_inside_the_ring(
        pages in 1usize..3,
        steps in proptest::collection::vec(hostile(), 1..150),
    ) {
        let down = FlatRing::new(pages);
        let up = FlatRing::new(pages);
        let mut guest_out = LinuxRing::init(&up);
        let mut guest_in = LinuxRing::init(&down);
        let mut host_out = OutgoingRing::new(&down).unwrap();
        let mut host_in = IncomingRing::new(&up).unwrap();
        for (seq, step) in steps.into_iter().enumerate() {
            match step {
                Hostile::Write(len) => {
                    let data = payload(seq as u64, len);
                    let _ = host_out.write(&OutgoingPacket {
                        packet_type: PacketType::DATA_INBAND,
                        flags: 0,
                        trans_id: 0,
                        data: &data,
                    });
                }
                Hostile::Read(len) => {
                    let mut buffer = vec![0; len];
                    if let Ok(Some(packet)) = host_in.read(&mut buffer) {
                        prop_assert!(packet.len as usize <= buffer.len());
                        prop_assert!(packet.data(&buffer).len() <= packet.len as usize);
                    }
                }
                Hostile::Commit => { host_in.commit(); }
                Hostile::Mask => host_in.mask(),
                Hostile::Unmask => { let _ = host_in.unmask(); }
                Hostile::Poke { downstream, field, value } => {
                    let ring = if downstream { &down } else { &up };
                    ring.poke_control(FIELDS[usize::from(field)], value);
                }
                Hostile::Scribble { downstream, offset, bytes } => {
                    let ring = if downstream { &down } else { &up };
                    ring.poke_data(offset, &bytes);
                }
                // The guest's own code only runs on indices it can use;
                // Linux's reader clamps lengths, its writer trusts its own.
                Hostile::GuestSend(len) => {
                    let (read, write) = (up_index(&up, ControlField::ReadIndex), up_index(&up, ControlField::WriteIndex));
                    if read < (pages * 4096) as u32 && write < (pages * 4096) as u32 && read % 8 == 0 && write % 8 == 0 {
                        let _ = guest_out.send(6, 0, seq as u64, &payload(seq as u64, len));
                    }
                }
                Hostile::GuestRecv => {
                    guest_in.resync();
                    let _ = guest_in.recv(8192);
                }
            }
        }
    }
}

fn up_index(ring: &FlatRing, field: ControlField) -> u32 {
    (&ring).load(field)
}
