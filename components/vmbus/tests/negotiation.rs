//! INITIATE_CONTACT and VERSION_RESPONSE version by version, UNLOAD, and
//! contact again.

mod common;

use common::{Harness, config, guest};
use vmbus::protocol::{HostMessage, messages::VersionResponse};
use vmbus::synic::{MessageConnection, MessageTarget, Sint};
use vmbus::version::{LINUX_6_1_VERSIONS, MESSAGE_CONNECTION_ID, Version};
use vmbus::Outgoing;

fn response(outgoing: &[Outgoing]) -> (MessageTarget, VersionResponse) {
    match outgoing {
        [Outgoing { target, message: HostMessage::VersionResponse(r) }] => (*target, *r),
        other => panic!("expected one VERSION_RESPONSE, got {other:?}"),
    }
}

fn sint(n: u8) -> Sint {
    Sint::new(n).unwrap()
}

#[test]
fn every_version_linux_6_1_offers_is_accepted_with_its_answer() {
    for version in LINUX_6_1_VERSIONS {
        let mut bus = Harness::new();
        let vp = 1;
        bus.post_on(guest::contact_connection(version), &guest::initiate_contact(version, vp));
        let (target, r) = response(&bus.take());
        assert_eq!(r.version_supported, 1, "{version}");
        assert_eq!(r.connection_state, 0, "{version}: SUCCESSFUL");
        assert_eq!(r.padding.get(), 0);
        if version >= Version::WIN10_V5 {
            assert_eq!(r.msg_conn_id.get(), MESSAGE_CONNECTION_ID, "{version}");
        } else {
            assert_eq!(r.msg_conn_id.get(), version.0, "{version}: the version, before 5.0");
        }
        // target_vcpu is honoured from 3.0 (WIN8_1); before, VP 0.
        let expected_vp = if version >= Version::WIN8_1 { vp } else { 0 };
        assert_eq!(target, MessageTarget { vp: expected_vp, sint: sint(2) }, "{version}");
        assert_eq!(bus.server.version(), Some(version));
        assert_eq!(bus.server.target(), Some(target));
    }
}

#[test]
fn linuxs_loop_settles_on_the_newest_version_the_host_accepts() {
    // Linux tries its list newest first until one is accepted
    // (vmbus_connect); cap the host as Linux's max_version would.
    for (i, &cap) in LINUX_6_1_VERSIONS.iter().enumerate() {
        let mut bus = Harness::with(
            vmbus::Config { max_version: Some(cap), ..config() },
            &common::ic_devices(),
        );
        let mut negotiated = None;
        for &version in &LINUX_6_1_VERSIONS {
            bus.post_on(guest::contact_connection(version), &guest::initiate_contact(version, 0));
            let (_, r) = response(&bus.take());
            if r.version_supported == 1 {
                negotiated = Some(version);
                break;
            }
            assert_eq!(bus.server.version(), None);
        }
        assert_eq!(negotiated, Some(LINUX_6_1_VERSIONS[i]));
    }
}

#[test]
fn versions_linux_6_1_does_not_offer_are_refused_where_the_guest_listens() {
    for version in [Version::WS2008, Version::WIN7, Version::new(6, 0), Version::new(5, 4), Version(0), Version(0xFFFF_FFFF)] {
        let mut bus = Harness::new();
        bus.post_on(MessageConnection::Contact, &guest::initiate_contact(version, 1));
        let (target, r) = response(&bus.take());
        assert_eq!(r.version_supported, 0, "{version}");
        assert_eq!(r.msg_conn_id.get(), 0);
        let expected_vp = if version >= Version::WIN8_1 { 1 } else { 0 };
        assert_eq!(target.vp, expected_vp, "{version}");
        assert_eq!(bus.server.version(), None, "{version}");
    }
}

#[test]
fn a_target_vp_that_does_not_exist_is_refused_on_vp_0() {
    let mut bus = Harness::new();
    bus.post_on(MessageConnection::Contact, &guest::initiate_contact(Version::WIN10_V5_3, 2));
    let (target, r) = response(&bus.take());
    assert_eq!(r.version_supported, 0);
    assert_eq!(target, MessageTarget { vp: 0, sint: sint(2) });
    assert_eq!(bus.server.version(), None);
}

#[test]
fn from_5_0_the_sint_is_the_guests_and_only_vmbuss_is_served() {
    let mut contact = guest::initiate_contact(Version::WIN10_V5_3, 1);
    contact[16] = 5;
    let mut bus = Harness::new();
    bus.post_on(MessageConnection::Contact, &contact);
    let (target, r) = response(&bus.take());
    assert_eq!(r.version_supported, 0);
    assert_eq!(target, MessageTarget { vp: 1, sint: sint(5) }, "answered where the guest listens");

    // A SINT past 15 names nowhere to answer: dropped.
    contact[16] = 16;
    bus.post_on(MessageConnection::Contact, &contact);
    assert!(bus.take().is_empty());
    assert_eq!(bus.server.version(), None);

    // Before 5.0 the field is the interrupt page, and the SINT is 2.
    let mut old = guest::initiate_contact(Version::WIN10_V4_1, 1);
    old[16] = 5;
    bus.post(&old);
    let (target, r) = response(&bus.take());
    assert_eq!(r.version_supported, 1);
    assert_eq!(target.sint, sint(2));
}

#[test]
fn contact_is_taken_on_either_connection() {
    for connection in [MessageConnection::Standard, MessageConnection::Contact] {
        for version in [Version::WIN8, Version::WIN10_V5_3] {
            let mut bus = Harness::new();
            bus.post_on(connection, &guest::initiate_contact(version, 0));
            assert_eq!(response(&bus.take()).1.version_supported, 1);
        }
    }
}

#[test]
fn nothing_but_contact_is_taken_before_contact() {
    let mut bus = Harness::new();
    for message in [
        guest::request_offers(),
        guest::unload(),
        guest::open(1, 1, 1, 0, 2),
        guest::close(1),
        guest::teardown(1, 1),
        guest::relid_released(1),
        guest::modify_channel(1, 0),
        guest::gpadl_messages(1, 1, &[1, 2, 3, 4]).remove(0),
    ] {
        assert!(bus.post(&message).is_empty());
        assert!(bus.take().is_empty(), "answered before contact: {message:?}");
    }
}

#[test]
fn messages_of_another_synic_type_are_dropped() {
    let mut bus = Harness::new();
    let contact = guest::initiate_contact(Version::WIN10_V5_3, 0);
    for message_type in [0, 2, 0x8000_0000] {
        bus.server.handle(MessageConnection::Contact, message_type, &contact);
        assert!(bus.take().is_empty());
    }
}

#[test]
fn unload_answers_and_disconnects_and_contact_works_again() {
    let mut bus = Harness::new();
    let offers = bus.connect_and_offer();
    assert_eq!(offers.len(), 3);
    let relid = offers[0].child_relid.get();
    let requests = bus.open(relid, 0xE1E10, 0x1000);
    assert_eq!(requests.len(), 1);

    let requests = bus.post(&guest::unload());
    assert_eq!(requests, vec![vmbus::DeviceRequest::Close { relid, device: common::SHUTDOWN }]);
    let out = bus.take();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].message, HostMessage::UnloadResponse);
    assert_eq!(out[0].target, MessageTarget { vp: 0, sint: sint(2) });
    assert_eq!(bus.server.version(), None);
    assert_eq!(bus.server.channels().count(), 0);
    assert_eq!(bus.server.gpadls().count(), 0);

    // UNLOAD again: nothing to unload.
    bus.post(&guest::unload());
    assert!(bus.take().is_empty());

    // A kexec'd kernel contacts again and gets every offer again.
    let offers = bus.connect_and_offer();
    assert_eq!(offers.len(), 3);
}

#[test]
fn contact_while_connected_starts_over_without_unload_response() {
    let mut bus = Harness::new();
    let offers = bus.connect_and_offer();
    let relid = offers[1].child_relid.get();
    bus.open(relid, 0x20, 0x2000);
    let requests =
        bus.post_on(MessageConnection::Contact, &guest::initiate_contact(Version::WIN10_V5_2, 1));
    assert_eq!(requests, vec![vmbus::DeviceRequest::Close { relid, device: common::TIMESYNC }]);
    let (target, r) = response(&bus.take());
    assert_eq!(r.version_supported, 1);
    assert_eq!(target.vp, 1);
    assert_eq!(bus.server.version(), Some(Version::WIN10_V5_2));
    assert_eq!(bus.server.channels().count(), 0, "offers come again after REQUESTOFFERS");
}

#[test]
fn a_refused_contact_leaves_the_host_disconnected() {
    let mut bus = Harness::new();
    bus.connect(Version::WIN10_V5_3);
    bus.post_on(MessageConnection::Contact, &guest::initiate_contact(Version::new(9, 9), 0));
    let (_, r) = response(&bus.take());
    assert_eq!(r.version_supported, 0);
    assert_eq!(bus.server.version(), None);
    bus.post(&guest::request_offers());
    assert!(bus.take().is_empty());
}

#[test]
fn partition_reset_forgets_the_guest() {
    let mut bus = Harness::new();
    let offers = bus.connect_and_offer();
    bus.open(offers[2].child_relid.get(), 7, 0x3000);
    let requests = bus.server.reset();
    assert_eq!(requests.len(), 1);
    assert_eq!(bus.server.version(), None);
    assert!(bus.take().is_empty(), "no answer to a reset");
    assert_eq!(bus.connect_and_offer().len(), 3);
}
