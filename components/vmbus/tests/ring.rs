//! The host's ends of a ring against Linux's (`tests/common/linux_ring.rs`):
//! framing, the never-full rule, when each side signals, and what a guest
//! that rewrites the shared fields gets.

mod common;

use common::linux_ring::LinuxRing;
use common::memory::FlatRing;
use vmbus::ring::incoming::ReadError;
use vmbus::ring::outgoing::{WriteError, Written};
use vmbus::ring::packet::{OutgoingPacket, PacketType};
use vmbus::ring::{ControlField, IncomingRing, OutgoingRing, RingError, RingMemory};

fn packet(data: &[u8], trans_id: u64) -> OutgoingPacket<'_> {
    OutgoingPacket { packet_type: PacketType::DATA_INBAND, flags: 0, trans_id, data }
}

#[test]
fn a_host_packet_is_framed_as_linux_reads_it() {
    let memory = FlatRing::new(1);
    let mut guest = LinuxRing::init(&memory);
    let mut host = OutgoingRing::new(&memory).unwrap();
    let data = b"hello, guest";
    assert_eq!(host.write(&packet(data, 0x1122)), Ok(Written { signal_guest: true }));
    // Descriptor: type 6, offset8 2, len8 ceil((16 + 12) / 8) = 4, flags 0.
    let raw = memory.peek_data(0, 40);
    assert_eq!(&raw[0..2], &6u16.to_le_bytes());
    assert_eq!(&raw[2..4], &2u16.to_le_bytes());
    assert_eq!(&raw[4..6], &4u16.to_le_bytes());
    assert_eq!(&raw[8..16], &0x1122u64.to_le_bytes());
    assert_eq!(&raw[16..28], data);
    assert_eq!(&raw[28..32], &[0; 4], "padding to 8");
    assert_eq!(&raw[32..40], &0u64.to_le_bytes(), "trailer: start 0 << 32");
    assert_eq!((&memory).load(ControlField::WriteIndex), 40);
    let (got, trans_id, _) = guest.recv(4096).unwrap().unwrap();
    assert_eq!(trans_id, 0x1122);
    assert_eq!(&got[..data.len()], data);
    assert_eq!(got.len(), 16, "Linux's data includes the padding");
}

#[test]
fn the_trailer_holds_the_packets_start() {
    let memory = FlatRing::new(1);
    let _guest = LinuxRing::init(&memory);
    let mut host = OutgoingRing::new(&memory).unwrap();
    host.write(&packet(&[1; 8], 1)).unwrap();
    host.write(&packet(&[2; 8], 2)).unwrap();
    assert_eq!(memory.peek_data(32 + 24, 8), (32u64 << 32).to_le_bytes());
}

#[test]
fn guest_packets_are_read_with_their_descriptor() {
    let memory = FlatRing::new(1);
    let mut guest = LinuxRing::init(&memory);
    let mut host = IncomingRing::new(&memory).unwrap();
    assert_eq!(guest.send(6, 1, 77, b"abc"), Ok(true));
    let mut buffer = [0; 64];
    let packet = host.read(&mut buffer).unwrap().unwrap();
    assert_eq!(packet.descriptor.kind(), PacketType::DATA_INBAND);
    assert_eq!(packet.descriptor.flags.get(), 1);
    assert_eq!(packet.descriptor.trans_id.get(), 77);
    assert_eq!(packet.len, 24);
    assert_eq!(&packet.data(&buffer)[..3], b"abc");
    assert_eq!(host.read(&mut buffer), Ok(None));
    assert!(!host.commit());
    assert_eq!((&memory).load(ControlField::ReadIndex), 32);
}

#[test]
fn the_ring_is_never_filled_completely() {
    let memory = FlatRing::new(1);
    let _guest = LinuxRing::init(&memory);
    let mut host = OutgoingRing::new(&memory).unwrap();
    // 4096 bytes: packets of 16 + 104 + 8 = 128 ring bytes; 31 fit (3968),
    // the 32nd would fill the ring exactly.
    let data = [0xAB; 104];
    for i in 0..31 {
        host.write(&packet(&data, i)).unwrap();
    }
    assert_eq!(host.write(&packet(&data, 99)), Err(WriteError::Full { needed: 128 }));
    assert_eq!((&memory).load(ControlField::PendingSendSize), 128, "asks the guest for room");
    // Exactly filling never happens either way: a smaller packet that
    // leaves 8 bytes is fine.
    assert_eq!(host.free().unwrap(), 128);
    host.write(&packet(&[0; 96], 100)).unwrap();
    assert_eq!(host.free().unwrap(), 8);
    assert_eq!((&memory).load(ControlField::PendingSendSize), 0, "cleared once written");
}

#[test]
fn the_host_signals_only_when_the_ring_was_empty_and_not_masked() {
    let memory = FlatRing::new(1);
    let mut guest = LinuxRing::init(&memory);
    let mut host = OutgoingRing::new(&memory).unwrap();
    assert!(host.write(&packet(b"1", 1)).unwrap().signal_guest, "empty → non-empty");
    assert!(!host.write(&packet(b"2", 2)).unwrap().signal_guest, "was not empty");
    guest.begin_read();
    guest.recv(4096).unwrap().unwrap();
    guest.recv(4096).unwrap().unwrap();
    assert!(!host.write(&packet(b"3", 3)).unwrap().signal_guest, "masked while draining");
    assert_ne!(guest.end_read(), 0, "Linux sees it on unmasking (hv_end_read)");
    guest.recv(4096).unwrap().unwrap();
    assert!(host.write(&packet(b"4", 4)).unwrap().signal_guest);
}

#[test]
fn the_guest_signals_the_host_when_its_pending_send_size_is_met() {
    let memory = FlatRing::new(1);
    let mut guest = LinuxRing::init(&memory);
    let mut host = OutgoingRing::new(&memory).unwrap();
    let data = [0; 2100];
    host.write(&packet(&data, 1)).unwrap(); // 2128 ring bytes, 1968 left
    assert_eq!(host.write(&packet(&data, 2)), Err(WriteError::Full { needed: 2128 }));
    let (_, _, signal) = guest.recv(4096).unwrap().unwrap();
    assert!(signal, "Linux's hv_pkt_iter_close signals: the host asked for 2128");
    host.write(&packet(&data, 2)).unwrap();
}

#[test]
fn the_host_signals_the_guest_when_its_pending_send_size_is_met() {
    let memory = FlatRing::new(1);
    let mut guest = LinuxRing::init(&memory);
    let mut host = IncomingRing::new(&memory).unwrap();
    let mut buffer = vec![0; 4096];
    guest.send(6, 0, 1, &[0; 1000]).unwrap();
    guest.send(6, 0, 2, &[0; 1000]).unwrap();
    guest.send(6, 0, 3, &[0; 1000]).unwrap();
    // 3072 of 4096 used; the guest waits for 2500 free bytes and says so.
    memory.poke_control(ControlField::PendingSendSize, 2500);
    host.read(&mut buffer).unwrap().unwrap();
    assert!(!host.commit(), "2048 free: not enough");
    host.read(&mut buffer).unwrap().unwrap();
    assert!(host.commit(), "3072 free: more than 2500");
    host.read(&mut buffer).unwrap().unwrap();
    assert!(!host.commit(), "was enough before: no second signal");
    // Without the feature bit the guest polls: no signal.
    guest.send(6, 0, 4, &[0; 8]).unwrap();
    memory.poke_control(ControlField::FeatureBits, 0);
    host.read(&mut buffer).unwrap().unwrap();
    assert!(!host.commit());
}

#[test]
fn masking_the_incoming_ring_and_the_race_on_unmask() {
    let memory = FlatRing::new(1);
    let mut guest = LinuxRing::init(&memory);
    let host = IncomingRing::new(&memory).unwrap();
    host.mask();
    assert_eq!(guest.send(6, 0, 1, b"x"), Ok(false), "masked: Linux does not signal");
    assert_eq!(host.unmask(), Ok(true), "the host looks again");
}

#[test]
fn packets_wrap_around_the_end() {
    let memory = FlatRing::new(1);
    let mut guest = LinuxRing::init(&memory);
    let mut host = OutgoingRing::new(&memory).unwrap();
    for round in 0..200_u64 {
        let data: Vec<u8> = (0..(round * 37 % 700)).map(|i| (i + round) as u8).collect();
        host.write(&packet(&data, round)).unwrap();
        let (got, trans_id, _) = guest.recv(4096).unwrap().unwrap();
        assert_eq!(trans_id, round);
        assert_eq!(&got[..data.len()], &data[..]);
    }
}

#[test]
fn hostile_indices_are_refused_without_touching_memory_outside() {
    let memory = FlatRing::new(1);
    let _guest = LinuxRing::init(&memory);
    let mut host = OutgoingRing::new(&memory).unwrap();
    for bad in [4096, 4097, u32::MAX, 12] {
        memory.poke_control(ControlField::ReadIndex, bad);
        assert_eq!(
            host.write(&packet(b"x", 1)),
            Err(WriteError::Ring(RingError::BadIndex { field: ControlField::ReadIndex, value: bad }))
        );
    }
    let incoming = FlatRing::new(1);
    let _guest = LinuxRing::init(&incoming);
    let mut reader = IncomingRing::new(&incoming).unwrap();
    let mut buffer = [0; 4096];
    for bad in [4096, 0xFFFF_FFF8, 3] {
        incoming.poke_control(ControlField::WriteIndex, bad);
        assert!(matches!(reader.read(&mut buffer), Err(ReadError::Ring(RingError::BadIndex { .. }))));
    }
    // A ring that starts with a bad index is refused outright.
    incoming.poke_control(ControlField::ReadIndex, 5000);
    assert!(IncomingRing::new(&incoming).is_err());
}

#[test]
fn hostile_descriptors_are_refused() {
    let memory = FlatRing::new(1);
    let _guest = LinuxRing::init(&memory);
    let mut host = IncomingRing::new(&memory).unwrap();
    let mut buffer = [0; 4096];
    let descriptor = |offset8: u16, len8: u16| {
        let mut d = [0u8; 16];
        d[0..2].copy_from_slice(&6u16.to_le_bytes());
        d[2..4].copy_from_slice(&offset8.to_le_bytes());
        d[4..6].copy_from_slice(&len8.to_le_bytes());
        d
    };
    for (offset8, len8, write) in [
        (1, 4, 40),      // data inside the descriptor
        (5, 4, 40),      // data after the end
        (2, 0, 40),      // empty
        (2, 100, 40),    // longer than what was written
        (2, 4, 32),      // no room for the trailer
        (2, 0xFFFF, 40), // huge
    ] {
        memory.poke_data(0, &descriptor(offset8, len8));
        memory.poke_control(ControlField::WriteIndex, write);
        assert!(
            matches!(host.read(&mut buffer), Err(ReadError::Ring(RingError::BadDescriptor { .. }))),
            "offset8 {offset8} len8 {len8}"
        );
    }
    memory.poke_control(ControlField::WriteIndex, 8);
    assert_eq!(host.read(&mut buffer), Err(ReadError::Ring(RingError::ShortData(8))));
    // A good packet, too big for the buffer: nothing consumed.
    memory.poke_data(0, &descriptor(2, 4));
    memory.poke_control(ControlField::WriteIndex, 40);
    assert_eq!(host.read(&mut buffer[..16]), Err(ReadError::BufferTooSmall { needed: 32 }));
    assert!(host.read(&mut buffer).unwrap().is_some());
}

#[test]
fn oversized_packets_and_bad_ring_sizes() {
    let memory = FlatRing::new(1);
    let _guest = LinuxRing::init(&memory);
    let mut host = OutgoingRing::new(&memory).unwrap();
    assert_eq!(host.write(&packet(&[0; 4072], 1)), Err(WriteError::TooLarge));
    assert_eq!(host.write(&packet(&vec![0; 600_000], 1)), Err(WriteError::TooLarge));
    let empty = FlatRing::new(0);
    assert_eq!(OutgoingRing::new(&empty).err(), Some(RingError::BadSize(0)));
}
