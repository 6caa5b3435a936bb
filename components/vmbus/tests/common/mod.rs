//! What the tests share: a guest that speaks channel management as Linux
//! 6.1 does, ring memory, Linux's side of a ring and of the ICs.
#![allow(dead_code, reason = "each test file uses a part")]
#![allow(missing_debug_implementations, reason = "test scaffolding")]

pub mod guest;
pub mod link;
pub mod linux_ring;
pub mod linux_util;
pub mod memory;

use vmbus::protocol::HostMessage;
use vmbus::protocol::guid::{instance, interface};
use vmbus::server::{Config, Device, DeviceId, DeviceRequest, EVENT_CONNECTION_BASE, Limits, Outgoing};
use vmbus::gpadl::GuestRam;
use vmbus::synic::MessageConnection;
use vmbus::version::VMBUS_MESSAGE_TYPE;
use vmbus::{Version, VmbusServer};

/// The RAM of the tests' partition: pages 0 to 0xFFFF (256 MiB).
pub const RAM_PAGES: u64 = 0x10000;

/// The tests' partition: 2 VPs, 256 MiB.
pub fn config() -> Config {
    Config {
        partition: 7,
        vp_count: 2,
        ram: GuestRam::new(vec![(0, RAM_PAGES)]),
        max_version: None,
        event_connection_base: EVENT_CONNECTION_BASE,
        limits: Limits::default(),
    }
}

pub const SHUTDOWN: DeviceId = DeviceId(10);
pub const TIMESYNC: DeviceId = DeviceId(11);
pub const HEARTBEAT: DeviceId = DeviceId(12);

/// The three ICs, as pipes.
pub fn ic_devices() -> Vec<Device> {
    vec![
        Device {
            id: SHUTDOWN,
            interface: interface::SHUTDOWN,
            instance: instance::SHUTDOWN,
            pipe: true,
            mmio_megabytes: 0,
        },
        Device {
            id: TIMESYNC,
            interface: interface::TIMESYNC,
            instance: instance::TIMESYNC,
            pipe: true,
            mmio_megabytes: 0,
        },
        Device {
            id: HEARTBEAT,
            interface: interface::HEARTBEAT,
            instance: instance::HEARTBEAT,
            pipe: true,
            mmio_megabytes: 0,
        },
    ]
}

/// A server and the messages it sent.
pub struct Harness {
    pub server: VmbusServer,
}

impl Harness {
    pub fn new() -> Self {
        Self::with(config(), &ic_devices())
    }

    pub fn with(config: Config, devices: &[Device]) -> Self {
        Self {
            server: VmbusServer::new(config, devices),
        }
    }

    /// Posts `bytes` on connection 1.
    pub fn post(&mut self, bytes: &[u8]) -> Vec<DeviceRequest> {
        self.post_on(MessageConnection::Standard, bytes)
    }

    pub fn post_on(&mut self, connection: MessageConnection, bytes: &[u8]) -> Vec<DeviceRequest> {
        assert!(self.server.accepts_guest_messages(), "a test posts into a full queue");
        self.server.handle(connection, VMBUS_MESSAGE_TYPE, bytes)
    }

    /// Everything queued for the guest, each read back as Linux reads it.
    pub fn take(&mut self) -> Vec<Outgoing> {
        let mut out = Vec::new();
        while let Some(message) = self.server.pop() {
            let bytes = message.message.payload();
            assert_eq!(
                HostMessage::parse(bytes.as_bytes()),
                Some(message.message),
                "the host's message reads back"
            );
            out.push(message);
        }
        out
    }

    /// Only the messages.
    pub fn messages(&mut self) -> Vec<HostMessage> {
        self.take().into_iter().map(|m| m.message).collect()
    }

    /// Connects as Linux with `version` from VP 0; the answer must accept.
    pub fn connect(&mut self, version: Version) {
        let bytes = guest::initiate_contact(version, 0);
        self.post_on(guest::contact_connection(version), &bytes);
        match self.messages().as_slice() {
            [HostMessage::VersionResponse(r)] => assert_eq!(r.version_supported, 1),
            other => panic!("unexpected answer to contact: {other:?}"),
        }
    }

    /// Connects with 5.3 and requests the offers; returns them by relid.
    pub fn connect_and_offer(&mut self) -> Vec<vmbus::protocol::messages::OfferChannel> {
        self.connect(Version::WIN10_V5_3);
        self.post(&guest::request_offers());
        let messages = self.messages();
        let (last, offers) = messages.split_last().expect("offers");
        assert_eq!(*last, HostMessage::AllOffersDelivered);
        offers
            .iter()
            .map(|m| match m {
                HostMessage::OfferChannel(offer) => *offer,
                other => panic!("not an offer: {other:?}"),
            })
            .collect()
    }

    /// Sends a ring GPADL of `pages` pages from page `first` for `relid`,
    /// as Linux splits it; returns the answer.
    pub fn gpadl(&mut self, relid: u32, id: u32, first: u64, pages: u64) -> HostMessage {
        let pfns: Vec<u64> = (first..first + pages).collect();
        for message in guest::gpadl_messages(relid, id, &pfns) {
            assert!(self.post(&message).is_empty());
        }
        let answers = self.messages();
        assert_eq!(answers.len(), 1, "one answer to a GPADL: {answers:?}");
        answers[0]
    }

    /// Opens `relid` on a fresh 8-page ring GPADL (4 + 4 pages), VP 1.
    pub fn open(&mut self, relid: u32, gpadl: u32, first: u64) -> Vec<DeviceRequest> {
        let answer = self.gpadl(relid, gpadl, first, 8);
        assert_eq!(status_of(&answer), Some(0), "{answer:?}");
        let requests = self.post(&guest::open(relid, relid, gpadl, 1, 4));
        assert_eq!(self.messages(), vec![guest::open_result(relid, relid, 0)]);
        requests
    }
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

/// The status of a GPADL_CREATED, OPENCHANNEL_RESULT or
/// MODIFYCHANNEL_RESPONSE.
pub fn status_of(message: &HostMessage) -> Option<u32> {
    match message {
        HostMessage::GpadlCreated(m) => Some(m.creation_status.get()),
        HostMessage::OpenResult(m) => Some(m.status.get()),
        HostMessage::ModifyChannelResponse(m) => Some(m.status.get()),
        _ => None,
    }
}
