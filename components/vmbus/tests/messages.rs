//! The message layouts against Linux 6.1's `__packed` structs, offset by
//! offset; GUIDs; reading guest messages and host messages.

mod common;

use std::mem::offset_of;

use vmbus::protocol::guid::{interface, instance};
use vmbus::protocol::messages::*;
use vmbus::protocol::parse::{GuestMessage, ParseError, parse};
use vmbus::protocol::{Guid, HostMessage, MessageHeader, MessageType};
use vmbus::ring::packet::PacketDescriptor;
use vmbus::ic::{IcHeader, NegotiateHeader, PipeHeader};
use vmbus::ic::heartbeat::HeartbeatMessage;
use vmbus::ic::shutdown::ShutdownMessage;
use vmbus::ic::timesync::{TimeSyncMessage, TimeSyncRefMessage};

#[test]
fn sizes_are_linuxs() {
    assert_eq!(size_of::<MessageHeader>(), 8);
    assert_eq!(size_of::<InitiateContact>(), 40);
    assert_eq!(size_of::<VersionResponse>(), 16);
    assert_eq!(size_of::<OfferChannel>(), 196);
    assert_eq!(size_of::<RescindOffer>(), 12);
    assert_eq!(size_of::<OpenChannel>(), 148);
    assert_eq!(size_of::<OpenResult>(), 20);
    assert_eq!(size_of::<CloseChannel>(), 12);
    assert_eq!(size_of::<GpadlHeader>(), 20);
    assert_eq!(size_of::<GpaRange>(), 8);
    assert_eq!(size_of::<GpadlBody>(), 16);
    assert_eq!(size_of::<GpadlCreated>(), 20);
    assert_eq!(size_of::<GpadlTeardown>(), 16);
    assert_eq!(size_of::<GpadlTorndown>(), 12);
    assert_eq!(size_of::<RelidReleased>(), 12);
    assert_eq!(size_of::<TlConnectRequest>(), 40);
    assert_eq!(size_of::<ModifyChannel>(), 16);
    assert_eq!(size_of::<ModifyChannelResponse>(), 16);
    assert_eq!(size_of::<Guid>(), 16);
    // Rings and ICs.
    assert_eq!(size_of::<PacketDescriptor>(), 16);
    assert_eq!(size_of::<PipeHeader>(), 8);
    assert_eq!(size_of::<IcHeader>(), 20);
    assert_eq!(size_of::<NegotiateHeader>(), 8);
    assert_eq!(size_of::<HeartbeatMessage>(), 40);
    assert_eq!(size_of::<ShutdownMessage>(), 12 + 2048);
    assert_eq!(size_of::<TimeSyncMessage>(), 25);
    assert_eq!(size_of::<TimeSyncRefMessage>(), 22);
}

#[test]
fn offsets_are_linuxs() {
    assert_eq!(offset_of!(InitiateContact, vmbus_version_requested), 8);
    assert_eq!(offset_of!(InitiateContact, target_vcpu), 12);
    assert_eq!(offset_of!(InitiateContact, interrupt_page_or_sint), 16);
    assert_eq!(offset_of!(InitiateContact, monitor_page1), 24);
    assert_eq!(offset_of!(InitiateContact, monitor_page2), 32);

    assert_eq!(offset_of!(VersionResponse, version_supported), 8);
    assert_eq!(offset_of!(VersionResponse, connection_state), 9);
    assert_eq!(offset_of!(VersionResponse, msg_conn_id), 12);

    assert_eq!(offset_of!(OfferChannel, if_type), 8);
    assert_eq!(offset_of!(OfferChannel, if_instance), 24);
    assert_eq!(offset_of!(OfferChannel, chn_flags), 56);
    assert_eq!(offset_of!(OfferChannel, mmio_megabytes), 58);
    assert_eq!(offset_of!(OfferChannel, user_def), 60);
    assert_eq!(offset_of!(OfferChannel, sub_channel_index), 180);
    assert_eq!(offset_of!(OfferChannel, child_relid), 184);
    assert_eq!(offset_of!(OfferChannel, monitorid), 188);
    assert_eq!(offset_of!(OfferChannel, monitor_allocated), 189);
    assert_eq!(offset_of!(OfferChannel, is_dedicated_interrupt), 190);
    assert_eq!(offset_of!(OfferChannel, connection_id), 192);

    assert_eq!(offset_of!(OpenChannel, child_relid), 8);
    assert_eq!(offset_of!(OpenChannel, openid), 12);
    assert_eq!(offset_of!(OpenChannel, ringbuffer_gpadlhandle), 16);
    assert_eq!(offset_of!(OpenChannel, target_vp), 20);
    assert_eq!(offset_of!(OpenChannel, downstream_ringbuffer_pageoffset), 24);
    assert_eq!(offset_of!(OpenChannel, userdata), 28);

    assert_eq!(offset_of!(OpenResult, status), 16);
    assert_eq!(offset_of!(GpadlHeader, range_buflen), 16);
    assert_eq!(offset_of!(GpadlHeader, rangecount), 18);
    assert_eq!(offset_of!(GpadlBody, msgnumber), 8);
    assert_eq!(offset_of!(GpadlBody, gpadl), 12);
    assert_eq!(offset_of!(GpadlCreated, creation_status), 16);
    assert_eq!(offset_of!(GpadlTeardown, gpadl), 12);
    assert_eq!(offset_of!(GpadlTorndown, gpadl), 8);
    assert_eq!(offset_of!(TlConnectRequest, host_service_id), 24);
    assert_eq!(offset_of!(ModifyChannel, target_vp), 12);
    assert_eq!(offset_of!(ModifyChannelResponse, status), 12);

    assert_eq!(offset_of!(PacketDescriptor, offset8), 2);
    assert_eq!(offset_of!(PacketDescriptor, len8), 4);
    assert_eq!(offset_of!(PacketDescriptor, flags), 6);
    assert_eq!(offset_of!(PacketDescriptor, trans_id), 8);

    assert_eq!(offset_of!(IcHeader, icmsgtype), 4);
    assert_eq!(offset_of!(IcHeader, icvermsg), 6);
    assert_eq!(offset_of!(IcHeader, icmsgsize), 10);
    assert_eq!(offset_of!(IcHeader, status), 12);
    assert_eq!(offset_of!(IcHeader, ictransaction_id), 16);
    assert_eq!(offset_of!(IcHeader, icflags), 17);
    assert_eq!(offset_of!(ShutdownMessage, flags), 8);
    assert_eq!(offset_of!(TimeSyncMessage, flags), 24);
    assert_eq!(offset_of!(TimeSyncRefMessage, vmreferencetime), 8);
    assert_eq!(offset_of!(TimeSyncRefMessage, flags), 16);
}

#[test]
fn message_types_are_linuxs() {
    let expected = [
        (MessageType::OFFERCHANNEL, 1),
        (MessageType::RESCIND_CHANNELOFFER, 2),
        (MessageType::REQUESTOFFERS, 3),
        (MessageType::ALLOFFERS_DELIVERED, 4),
        (MessageType::OPENCHANNEL, 5),
        (MessageType::OPENCHANNEL_RESULT, 6),
        (MessageType::CLOSECHANNEL, 7),
        (MessageType::GPADL_HEADER, 8),
        (MessageType::GPADL_BODY, 9),
        (MessageType::GPADL_CREATED, 10),
        (MessageType::GPADL_TEARDOWN, 11),
        (MessageType::GPADL_TORNDOWN, 12),
        (MessageType::RELID_RELEASED, 13),
        (MessageType::INITIATE_CONTACT, 14),
        (MessageType::VERSION_RESPONSE, 15),
        (MessageType::UNLOAD, 16),
        (MessageType::UNLOAD_RESPONSE, 17),
        (MessageType::TL_CONNECT_REQUEST, 21),
        (MessageType::MODIFYCHANNEL, 22),
        (MessageType::TL_CONNECT_RESULT, 23),
        (MessageType::MODIFYCHANNEL_RESPONSE, 24),
    ];
    for (message_type, value) in expected {
        assert_eq!(message_type.0, value, "{message_type:?}");
    }
}

#[test]
fn guids_read_as_linux_writes_them() {
    assert_eq!(interface::SHUTDOWN.to_string(), "0e0b6031-5213-4934-818b-38d90ced39db");
    assert_eq!(interface::TIMESYNC.to_string(), "9527e630-d0ae-497b-adce-e80ab0175caf");
    assert_eq!(interface::HEARTBEAT.to_string(), "57164f39-9115-4e78-ab55-382f3bd5422d");
    assert_eq!(interface::KVP.to_string(), "a9a0f4e7-5a45-4d96-b827-8a841e8c03e6");
    assert_eq!(instance::SHUTDOWN.to_string(), "b6650ff7-33bc-4840-8048-e0676786f393");
    // GUID_INIT(0x0e0b6031, 0x5213, 0x4934, 0x81, 0x8b, ...): the first three
    // fields little-endian.
    assert_eq!(
        interface::SHUTDOWN.0,
        [0x31, 0x60, 0x0b, 0x0e, 0x13, 0x52, 0x34, 0x49, 0x81, 0x8b, 0x38, 0xd9, 0x0c, 0xed, 0x39, 0xdb]
    );
}

#[test]
fn every_guest_message_parses_at_its_size_and_not_shorter() {
    let sizes = [
        (MessageType::INITIATE_CONTACT, 40),
        (MessageType::REQUESTOFFERS, 8),
        (MessageType::GPADL_HEADER, 20),
        (MessageType::GPADL_BODY, 16),
        (MessageType::GPADL_TEARDOWN, 16),
        (MessageType::OPENCHANNEL, 148),
        (MessageType::CLOSECHANNEL, 12),
        (MessageType::RELID_RELEASED, 12),
        (MessageType::UNLOAD, 8),
        (MessageType::TL_CONNECT_REQUEST, 40),
        (MessageType::MODIFYCHANNEL, 16),
    ];
    for (message_type, size) in sizes {
        let mut bytes = vec![0u8; size];
        bytes[..4].copy_from_slice(&message_type.0.to_le_bytes());
        let parsed = parse(&bytes).unwrap_or_else(|e| panic!("{message_type:?}: {e}"));
        assert_eq!(parsed.message_type(), message_type);
        // Longer is fine (padding, newer layouts).
        let mut longer = bytes.clone();
        longer.resize(240, 0xEE);
        assert_eq!(parse(&longer).unwrap().message_type(), message_type);
        if size > 8 {
            assert_eq!(
                parse(&bytes[..size - 1]),
                Err(ParseError::TooShort { message_type, size: size - 1, needed: size })
            );
        }
    }
}

#[test]
fn guest_message_ranges_follow_the_layout() {
    let message = common::guest::gpadl_messages(5, 0xE1E10, &[0x100, 0x101]);
    match parse(&message[0]) {
        Ok(GuestMessage::GpadlHeader(header, data)) => {
            assert_eq!(header.child_relid.get(), 5);
            assert_eq!(header.gpadl.get(), 0xE1E10);
            assert_eq!(header.range_buflen.get(), 24);
            assert_eq!(header.rangecount.get(), 1);
            assert_eq!(data.len(), 24);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn host_types_and_unknown_types_are_not_guest_messages() {
    for t in [0u32, 1, 2, 4, 6, 10, 12, 15, 17, 18, 19, 20, 23, 24, 25, 0xFFFF_FFFF] {
        let mut bytes = vec![0u8; 240];
        bytes[..4].copy_from_slice(&t.to_le_bytes());
        assert_eq!(parse(&bytes), Err(ParseError::NotAGuestMessage(MessageType(t))), "type {t}");
    }
    assert!(matches!(parse(&[14, 0, 0]), Err(ParseError::TooShort { .. })));
    assert_eq!(parse(&[0u8; 241]), Err(ParseError::TooLong(241)));
}

#[test]
fn host_messages_need_what_linux_needs() {
    // channel_message_table's min_payload_len for each handled type.
    let minimums = [
        (MessageType::OFFERCHANNEL, 196),
        (MessageType::RESCIND_CHANNELOFFER, 12),
        (MessageType::OPENCHANNEL_RESULT, 20),
        (MessageType::GPADL_CREATED, 20),
        (MessageType::GPADL_TORNDOWN, 12),
        (MessageType::VERSION_RESPONSE, 16),
        (MessageType::MODIFYCHANNEL_RESPONSE, 16),
    ];
    for (message_type, size) in minimums {
        let mut bytes = vec![0u8; size];
        bytes[..4].copy_from_slice(&message_type.0.to_le_bytes());
        assert!(HostMessage::parse(&bytes).is_some(), "{message_type:?}");
        assert!(HostMessage::parse(&bytes[..size - 1]).is_none(), "{message_type:?} short");
    }
    for message_type in [MessageType::ALLOFFERS_DELIVERED, MessageType::UNLOAD_RESPONSE] {
        assert!(HostMessage::parse(&message_type.0.to_le_bytes()).is_some());
    }
}
