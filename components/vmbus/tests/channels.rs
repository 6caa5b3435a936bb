//! Offers, GPADLs, open, close, teardown, rescind, release, modify, hvsock:
//! the answers and the device requests, good paths and bad.

mod common;

use common::guest::{self, UNSUCCESSFUL};
use common::{HEARTBEAT, Harness, SHUTDOWN, TIMESYNC, config, ic_devices, status_of};
use vmbus::protocol::HostMessage;
use vmbus::protocol::guid::interface;
use vmbus::protocol::messages::{OFFER_ENUMERATE_DEVICE_INTERFACE, OFFER_NAMED_PIPE_MODE};
use vmbus::ring::pair::RingPages;
use vmbus::server::{ChannelState, EVENT_CONNECTION_BASE};
use vmbus::synic::{EventConnection, GuestSignal, Sint};
use vmbus::{Config, Device, DeviceId, DeviceRequest, Version};

#[test]
fn one_offer_per_device_then_all_offers_delivered() {
    let mut bus = Harness::new();
    let offers = bus.connect_and_offer();
    let expected = [(1, interface::SHUTDOWN), (2, interface::TIMESYNC), (3, interface::HEARTBEAT)];
    assert_eq!(offers.len(), expected.len());
    for (offer, (relid, interface)) in offers.iter().zip(expected) {
        assert_eq!(offer.child_relid.get(), relid);
        assert_eq!(offer.if_type, interface);
        assert_eq!(offer.chn_flags.get(), OFFER_ENUMERATE_DEVICE_INTERFACE | OFFER_NAMED_PIPE_MODE);
        assert_eq!(&offer.user_def[..4], &4u32.to_le_bytes(), "pipe in message mode");
        assert_eq!(offer.sub_channel_index.get(), 0);
        assert_eq!(offer.monitor_allocated, 0, "no monitor pages: Linux signals with HvSignalEvent");
        assert_eq!(offer.is_dedicated_interrupt.get(), 1);
        assert_eq!(offer.connection_id.get(), EVENT_CONNECTION_BASE + relid);
        assert_eq!(offer.reserved1.get(), 0);
    }
    // A second REQUESTOFFERS is dropped.
    bus.post(&guest::request_offers());
    assert!(bus.take().is_empty());
}

#[test]
fn a_device_that_is_not_a_pipe_is_offered_plainly() {
    let device = Device {
        id: DeviceId(1),
        interface: interface::KVP,
        instance: interface::KVP,
        pipe: false,
        mmio_megabytes: 8,
    };
    let mut bus = Harness::with(config(), &[device]);
    let offers = bus.connect_and_offer();
    assert_eq!(offers[0].chn_flags.get(), 0);
    assert_eq!(offers[0].user_def, [0; 120]);
    assert_eq!(offers[0].mmio_megabytes.get(), 8);
}

#[test]
fn gpadls_in_one_message_and_in_many() {
    let mut bus = Harness::new();
    bus.connect_and_offer();
    // 8 pages fit the header; 26 exactly; 27 needs a body; 26 + 28 + 1 two.
    for (id, pages) in [(1, 8u64), (2, 26), (3, 27), (4, 55), (5, 200)] {
        assert_eq!(bus.gpadl(1, id, 0x100 * u64::from(id), pages), guest::gpadl_created(1, id, 0));
        let gpadl = bus.server.gpadl(id).unwrap();
        assert_eq!(gpadl.page_count(), pages as usize);
        let first = 0x100 * u64::from(id);
        assert_eq!(gpadl.whole_pages().unwrap(), (first..first + pages).collect::<Vec<_>>());
    }
}

#[test]
fn gpadls_refused_with_gpadl_created_and_a_failure() {
    let mut bus = Harness::new();
    bus.connect_and_offer();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("unknown channel", guest::gpadl_header(9, 1, 16, 1, &[guest::range(4096, 0), 0x10])),
        ("range_buflen 0", guest::gpadl_header(1, 2, 0, 1, &[])),
        ("range_buflen not a multiple of 8", guest::gpadl_header(1, 3, 12, 1, &[guest::range(4096, 0), 0x10])),
        ("no ranges", guest::gpadl_header(1, 4, 16, 0, &[guest::range(4096, 0), 0x10])),
        ("an empty range", guest::gpadl_header(1, 5, 16, 1, &[guest::range(0, 0), 0x10])),
        ("offset outside the first page", guest::gpadl_header(1, 6, 16, 1, &[guest::range(1, 4096), 0x10])),
        ("fewer pages than bytes", guest::gpadl_header(1, 7, 16, 1, &[guest::range(4097, 0), 0x10])),
        ("offset pushes into a page more", guest::gpadl_header(1, 8, 16, 1, &[guest::range(4096, 1), 0x10])),
        ("not RAM", guest::gpadl_header(1, 9, 16, 1, &[guest::range(4096, 0), common::RAM_PAGES])),
        ("too large", guest::gpadl_header(1, 10, 8 * 600, 1, &[guest::range(599 * 4096, 0)])),
        ("second range missing", guest::gpadl_header(1, 11, 24, 2, &[guest::range(4096, 0), 0x10, guest::range(4096, 0)])),
    ];
    for (why, message) in cases {
        assert!(bus.post(&message).is_empty());
        let relid = u32::from_le_bytes(message[8..12].try_into().unwrap());
        let id = u32::from_le_bytes(message[12..16].try_into().unwrap());
        assert_eq!(bus.messages(), vec![guest::gpadl_created(relid, id, UNSUCCESSFUL)], "{why}");
        assert!(bus.server.gpadl(id).is_none(), "{why}");
    }
    assert_eq!(bus.server.gpadls().count(), 0);
}

#[test]
fn ranges_with_offsets_and_several_ranges_are_accepted() {
    let mut bus = Harness::new();
    bus.connect_and_offer();
    // 100 bytes at 4000 touch two pages; then a second range of one page.
    let data = [guest::range(100, 4000), 0x10, 0x11, guest::range(4096, 0), 0x20];
    bus.post(&guest::gpadl_header(1, 1, 40, 2, &data));
    assert_eq!(bus.messages(), vec![guest::gpadl_created(1, 1, 0)]);
    let gpadl = bus.server.gpadl(1).unwrap();
    assert_eq!(gpadl.ranges().len(), 2);
    assert_eq!(gpadl.ranges()[0].pages, vec![0x10, 0x11]);
    assert_eq!(gpadl.whole_pages(), None, "not a ring: two ranges");
}

#[test]
fn gpadl_ids_are_unique_and_bodies_need_their_header() {
    let mut bus = Harness::new();
    bus.connect_and_offer();
    let messages = guest::gpadl_messages(1, 0x42, &(0x100..0x140).collect::<Vec<_>>());
    bus.post(&messages[0]);
    assert!(bus.take().is_empty(), "waits for its bodies");
    // The same ID again, on any channel, while it is being built.
    bus.post(&guest::gpadl_messages(2, 0x42, &[0x200])[0]);
    assert_eq!(bus.messages(), vec![guest::gpadl_created(2, 0x42, UNSUCCESSFUL)]);
    // A body for a GPADL that does not exist: no channel to answer on.
    bus.post(&guest::gpadl_body(0x43, &[0x300]));
    assert!(bus.take().is_empty());
    // The real bodies complete it.
    for body in &messages[1..] {
        bus.post(body);
    }
    assert_eq!(bus.messages(), vec![guest::gpadl_created(1, 0x42, 0)]);
    // A body for a complete GPADL is dropped.
    bus.post(&guest::gpadl_body(0x42, &[0x300]));
    assert!(bus.take().is_empty());
    // And the ID stays taken while the GPADL lives.
    assert_eq!(bus.gpadl(3, 0x42, 0x400, 1), guest::gpadl_created(3, 0x42, UNSUCCESSFUL));
}

#[test]
fn gpadl_limits_hold() {
    let limits = vmbus::server::Limits { gpadls: 3, gpadl_entries: 64, total_entries: 100 };
    let mut bus = Harness::with(Config { limits, ..config() }, &ic_devices());
    bus.connect_and_offer();
    assert_eq!(status_of(&bus.gpadl(1, 1, 0x100, 63)), Some(0));
    assert_eq!(status_of(&bus.gpadl(1, 2, 0x200, 64)), Some(UNSUCCESSFUL), "64 pages + range > 64 entries");
    assert_eq!(status_of(&bus.gpadl(1, 3, 0x300, 40)), Some(UNSUCCESSFUL), "over the partition's 100");
    assert_eq!(status_of(&bus.gpadl(1, 4, 0x400, 30)), Some(0));
    assert_eq!(status_of(&bus.gpadl(1, 5, 0x500, 1)), Some(0));
    assert_eq!(status_of(&bus.gpadl(1, 6, 0x600, 1)), Some(UNSUCCESSFUL), "a fourth GPADL");
    bus.post(&guest::teardown(1, 1));
    assert_eq!(bus.messages(), vec![guest::torndown(1)]);
    assert_eq!(status_of(&bus.gpadl(1, 6, 0x600, 40)), Some(0), "room again");
}

#[test]
fn open_gives_the_device_its_rings_signal_and_connection() {
    let mut bus = Harness::new();
    bus.connect_and_offer();
    let requests = bus.open(2, 0xE1E10, 0x1000);
    let expected = DeviceRequest::Open(vmbus::server::ChannelOpen {
        relid: 2,
        device: TIMESYNC,
        pages: (0x1000..0x1008).collect(),
        rings: RingPages { incoming: 0..4, outgoing: 4..8 },
        signal: Some(GuestSignal { vp: 1, sint: Sint::VMBUS, flag: 2 }),
        guest_connection: EventConnection(EVENT_CONNECTION_BASE + 2),
        user_data: [0; 120],
    });
    assert_eq!(requests, vec![expected]);
    assert!(matches!(
        bus.server.channels().nth(1),
        Some((2, TIMESYNC, ChannelState::Open { gpadl: 0xE1E10, target_vp: 1 }))
    ));
}

#[test]
fn opens_refused_with_a_failure_status() {
    let mut bus = Harness::new();
    bus.connect_and_offer();
    assert_eq!(status_of(&bus.gpadl(1, 1, 0x100, 8)), Some(0));
    assert_eq!(status_of(&bus.gpadl(2, 2, 0x200, 8)), Some(0));
    let two_ranges = [guest::range(4096, 0), 0x300, guest::range(4096, 0), 0x301];
    bus.post(&guest::gpadl_header(1, 3, 32, 2, &two_ranges));
    assert_eq!(status_of(&bus.messages()[0]), Some(0));
    let cases = [
        ("a GPADL that does not exist", guest::open(1, 7, 99, 0, 4)),
        ("another channel's GPADL", guest::open(1, 7, 2, 0, 4)),
        ("not one range of whole pages", guest::open(1, 7, 3, 0, 1)),
        ("downstream offset 0", guest::open(1, 7, 1, 0, 0)),
        ("downstream offset 1: no data page upstream", guest::open(1, 7, 1, 0, 1)),
        ("downstream offset 7: no data page downstream", guest::open(1, 7, 1, 0, 7)),
        ("downstream offset past the end", guest::open(1, 7, 1, 0, 9)),
        ("a VP that does not exist", guest::open(1, 7, 1, 2, 4)),
    ];
    for (why, message) in cases {
        assert!(bus.post(&message).is_empty(), "{why}");
        assert_eq!(bus.messages(), vec![guest::open_result(1, 7, UNSUCCESSFUL)], "{why}");
    }
    // No interrupts at all is allowed.
    let requests = bus.post(&guest::open(1, 7, 1, u32::MAX, 4));
    assert_eq!(bus.messages(), vec![guest::open_result(1, 7, 0)]);
    assert!(matches!(&requests[..], [DeviceRequest::Open(open)] if open.signal.is_none()));
    // Opening it twice is refused, the first open stands.
    assert!(bus.post(&guest::open(1, 8, 1, 0, 4)).is_empty());
    assert_eq!(bus.messages(), vec![guest::open_result(1, 8, UNSUCCESSFUL)]);
    assert!(matches!(bus.server.channels().next(), Some((1, _, ChannelState::Open { .. }))));
    // An open of a channel that does not exist is dropped.
    assert!(bus.post(&guest::open(40, 8, 1, 0, 4)).is_empty());
    assert!(bus.take().is_empty());
}

#[test]
fn close_then_teardown_as_linux_closes() {
    let mut bus = Harness::new();
    bus.connect_and_offer();
    bus.open(3, 0x99, 0x400);
    let requests = bus.post(&guest::close(3));
    assert_eq!(requests, vec![DeviceRequest::Close { relid: 3, device: HEARTBEAT }]);
    assert!(bus.take().is_empty(), "CLOSECHANNEL has no answer");
    bus.post(&guest::teardown(3, 0x99));
    assert_eq!(bus.messages(), vec![guest::torndown(0x99)]);
    // Closing again, and tearing down again, are dropped.
    assert!(bus.post(&guest::close(3)).is_empty());
    bus.post(&guest::teardown(3, 0x99));
    assert!(bus.take().is_empty());
    // The channel opens again on a new ring.
    bus.open(3, 0x9A, 0x500);
}

#[test]
fn tearing_down_an_open_ring_waits_for_the_close() {
    let mut bus = Harness::new();
    bus.connect_and_offer();
    bus.open(1, 5, 0x100);
    bus.post(&guest::teardown(1, 5));
    assert!(bus.take().is_empty(), "the device still maps the ring");
    // Still the ring: opening another channel on it is refused.
    assert!(bus.post(&guest::close(1)).len() == 1);
    assert_eq!(bus.messages(), vec![guest::torndown(5)]);
    assert!(bus.server.gpadl(5).is_none());
}

#[test]
fn teardowns_that_name_another_channel_or_an_incomplete_gpadl_are_dropped() {
    let mut bus = Harness::new();
    bus.connect_and_offer();
    assert_eq!(status_of(&bus.gpadl(1, 5, 0x100, 4)), Some(0));
    bus.post(&guest::teardown(2, 5));
    assert!(bus.take().is_empty());
    bus.post(&guest::gpadl_messages(1, 6, &(0..40).collect::<Vec<_>>())[0]);
    bus.post(&guest::teardown(1, 6));
    assert!(bus.take().is_empty());
    assert!(bus.server.gpadl(5).is_some());
}

#[test]
fn rescind_close_teardown_release_and_offer_again() {
    let mut bus = Harness::new();
    bus.connect_and_offer();
    bus.open(1, 0xA, 0x100);
    // The shutdown component restarts its driver from scratch.
    let requests = bus.server.reoffer_device(SHUTDOWN);
    assert_eq!(requests, vec![DeviceRequest::Close { relid: 1, device: SHUTDOWN }]);
    assert_eq!(bus.messages(), vec![guest::rescind(1)]);
    // Linux's driver closes (ignored: rescinded), tears down (answered at
    // once: nothing maps it any more) and releases the ID.
    assert!(bus.post(&guest::close(1)).is_empty());
    assert!(bus.take().is_empty());
    bus.post(&guest::open(1, 1, 0xA, 0, 4));
    assert!(bus.take().is_empty(), "an open of a rescinded channel is ignored");
    bus.post(&guest::teardown(1, 0xA));
    assert_eq!(bus.messages(), vec![guest::torndown(0xA)]);
    bus.post(&guest::relid_released(1));
    match bus.messages().as_slice() {
        [HostMessage::OfferChannel(offer)] => {
            assert_eq!(offer.if_type, interface::SHUTDOWN);
            assert_eq!(offer.child_relid.get(), 1, "the lowest free ID");
        }
        other => panic!("expected the offer again, got {other:?}"),
    }
}

#[test]
fn a_removed_device_is_not_offered_again() {
    let mut bus = Harness::new();
    bus.connect_and_offer();
    bus.server.remove_device(TIMESYNC);
    assert_eq!(bus.messages(), vec![guest::rescind(2)]);
    bus.post(&guest::relid_released(2));
    assert!(bus.take().is_empty());
    assert_eq!(bus.server.channels().count(), 2);
    // Added again: offered at once, with the freed ID.
    assert!(bus.server.add_device(ic_devices()[1]));
    assert!(matches!(bus.messages().as_slice(), [HostMessage::OfferChannel(o)] if o.child_relid.get() == 2));
}

#[test]
fn the_guest_releasing_a_channel_declines_it_until_the_next_contact() {
    let mut bus = Harness::new();
    bus.connect_and_offer();
    // Linux does this when it cannot set the channel up.
    bus.post(&guest::relid_released(3));
    assert!(bus.take().is_empty());
    assert_eq!(bus.server.channels().count(), 2);
    // Releasing an open channel is dropped.
    bus.open(1, 1, 0x100);
    bus.post(&guest::relid_released(1));
    assert!(matches!(bus.server.channels().next(), Some((1, _, ChannelState::Open { .. }))));
    bus.post(&guest::unload());
    bus.take();
    assert_eq!(bus.connect_and_offer().len(), 3);
}

#[test]
fn a_released_channels_gpadls_are_forgotten() {
    let mut bus = Harness::new();
    bus.connect_and_offer();
    assert_eq!(status_of(&bus.gpadl(2, 77, 0x100, 4)), Some(0));
    bus.post(&guest::relid_released(2));
    assert!(bus.server.gpadl(77).is_none());
}

#[test]
fn a_restarted_device_is_told_its_open_channels_again() {
    let mut bus = Harness::new();
    bus.connect_and_offer();
    let opened = bus.open(1, 1, 0x100);
    bus.open(2, 2, 0x200);
    assert_eq!(bus.server.device_restarted(SHUTDOWN), opened);
    assert!(bus.server.device_restarted(HEARTBEAT).is_empty());
}

#[test]
fn modify_channel_by_version() {
    for (version, answers) in [
        (Version::WIN10_V5_3, true),
        (Version::WIN10_V5_2, false),
        (Version::WIN10_V4_1, false),
        (Version::WIN10, false),
    ] {
        let mut bus = Harness::new();
        bus.connect(version);
        bus.post(&guest::request_offers());
        bus.take();
        bus.open(1, 1, 0x100);
        let requests = bus.post(&guest::modify_channel(1, 0));
        if version.has_modify_channel() {
            assert_eq!(
                requests,
                vec![DeviceRequest::Retarget {
                    relid: 1,
                    device: SHUTDOWN,
                    signal: Some(GuestSignal { vp: 0, sint: Sint::VMBUS, flag: 1 }),
                }],
                "{version}"
            );
        } else {
            assert!(requests.is_empty(), "{version}: MODIFYCHANNEL did not exist");
        }
        let expected = if answers { vec![guest::modify_response(1, 0)] } else { vec![] };
        assert_eq!(bus.messages(), expected, "{version}");
        // A VP that does not exist, a channel that is not open.
        for message in [guest::modify_channel(1, 5), guest::modify_channel(2, 0)] {
            assert!(bus.post(&message).is_empty());
            let relid = u32::from_le_bytes(message[8..12].try_into().unwrap());
            let expected = if answers { vec![guest::modify_response(relid, UNSUCCESSFUL)] } else { vec![] };
            assert_eq!(bus.messages(), expected, "{version}");
        }
        // The restarted device gets the new target.
        match bus.server.device_restarted(SHUTDOWN).as_slice() {
            [DeviceRequest::Open(open)] => {
                let vp = if version.has_modify_channel() { 0 } else { 1 };
                assert_eq!(open.signal.unwrap().vp, vp);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn hvsock_connects_are_refused_from_4_0() {
    let mut bus = Harness::new();
    bus.connect(Version::WIN10_V5_3);
    bus.post(&guest::tl_connect([1; 16], [2; 16]));
    match bus.messages().as_slice() {
        [HostMessage::TlConnectResult(r)] => {
            assert_eq!(r.guest_endpoint_id.0, [1; 16]);
            assert_eq!(r.host_service_id.0, [2; 16]);
            assert_eq!(r.status.get(), 0xC000_0236, "STATUS_CONNECTION_REFUSED");
        }
        other => panic!("{other:?}"),
    }
    let mut bus = Harness::new();
    bus.connect(Version::WIN8_1);
    bus.post(&guest::tl_connect([1; 16], [2; 16]));
    assert!(bus.take().is_empty());
}

#[test]
fn offers_go_after_request_and_hot_added_devices_at_once() {
    let mut bus = Harness::with(config(), &[]);
    bus.connect(Version::WIN10_V5_3);
    assert!(bus.server.add_device(ic_devices()[0]));
    assert!(bus.take().is_empty(), "not before REQUESTOFFERS");
    bus.post(&guest::request_offers());
    assert_eq!(bus.messages().len(), 2);
    assert!(bus.server.add_device(ic_devices()[1]));
    assert!(matches!(bus.messages().as_slice(), [HostMessage::OfferChannel(_)]));
    assert!(!bus.server.add_device(ic_devices()[1]), "the same device twice");
}

#[test]
fn the_queue_asks_for_backpressure_before_it_overflows() {
    let devices: Vec<Device> = (0..vmbus::server::MAX_DEVICES as u32)
        .map(|i| Device {
            id: DeviceId(i),
            interface: interface::HEARTBEAT,
            instance: vmbus::protocol::Guid::from_fields(i, 0, 0, [0; 8]),
            pipe: true,
            mmio_megabytes: 0,
        })
        .collect();
    let mut bus = Harness::with(config(), &devices);
    bus.connect(Version::WIN10_V5_3);
    bus.post(&guest::request_offers());
    assert_eq!(bus.server.queued(), vmbus::server::MAX_DEVICES + 1);
    // The guest keeps posting without taking its messages.
    let mut taken = 0;
    while bus.server.accepts_guest_messages() {
        bus.post(&guest::gpadl_messages(1, 1000 + taken, &[0x10])[0]);
        taken += 1;
        assert!(taken < 1000);
    }
    assert!(bus.server.queued() <= vmbus::server::OUTBOX_CAPACITY);
    let queued = bus.server.queued();
    assert_eq!(bus.take().len(), queued, "nothing was lost");
}
