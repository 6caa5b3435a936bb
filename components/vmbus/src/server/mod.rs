//! The host's channel management for one partition: a state machine that
//! takes the messages the guest posts and the host's own changes (devices
//! added, removed, restarted), queues the messages for the guest, and says
//! what the device components must do.
//!
//! One [`VmbusServer`] per partition: nothing a guest sends reaches another
//! partition's state. Every guest message is answered as the protocol
//! answers it, or dropped with a warning in the log — never a panic; the
//! README's table says which, message by message.
//!
//! Messages for the guest wait in a bounded queue ([`VmbusServer::pop`]),
//! which the component drains as the guest's SIM slot frees. The component
//! takes a guest message only while [`VmbusServer::accepts_guest_messages`]
//! says so; the rest wait in its SynIC port, so the guest's
//! `HvCallPostMessage` meets `HV_STATUS_INSUFFICIENT_BUFFERS` and retries,
//! as Linux's `vmbus_post_msg` does.

mod channels;
mod connect;
mod gpadls;
pub mod outputs;

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use crate::gpadl::{Gpadl, GpadlBuilder, GuestRam};
use crate::protocol::parse::{GuestMessage, parse};
use crate::protocol::{Guid, HostMessage};
use crate::synic::{MessageConnection, MessageTarget};
use crate::version::{VMBUS_MESSAGE_TYPE, Version};

pub use outputs::{ChannelOpen, DeviceId, DeviceRequest, Outgoing};

/// The most devices one partition's VMBus offers.
pub const MAX_DEVICES: usize = 64;

/// The messages for the guest the queue holds: every offer and its
/// ALLOFFERS_DELIVERED, plus the answers to the messages taken meanwhile.
pub const OUTBOX_CAPACITY: usize = 2 * MAX_DEVICES + 16;

/// The queue length up to which guest messages are taken: whatever one
/// guest message or host change adds still fits.
const OUTBOX_ACCEPT_LIMIT: usize = OUTBOX_CAPACITY - MAX_DEVICES - 2;

/// How many GPADLs, and how many range entries (range headers and page
/// numbers), a partition may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// GPADLs, complete or not.
    pub gpadls: usize,
    /// Range entries in one GPADL.
    pub gpadl_entries: usize,
    /// Range entries in all of them.
    pub total_entries: usize,
}

impl Default for Limits {
    /// 64 GPADLs of up to 2 MiB (an IC's ring pair takes 32 KiB), 32 MiB
    /// in all.
    fn default() -> Self {
        Self {
            gpadls: 64,
            gpadl_entries: 513,
            total_entries: 8192,
        }
    }
}

/// A partition's VMBus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The partition, for log lines.
    pub partition: u32,
    /// Its VPs (valid targets for messages and interrupts).
    pub vp_count: u32,
    /// Its RAM: the only pages a GPADL may name.
    pub ram: GuestRam,
    /// The newest version to accept, below what Tessera supports (to test
    /// a guest's fallback, as Linux's `max_version` parameter does).
    pub max_version: Option<Version>,
    /// A channel's guest→host connection ID is this plus its relid.
    pub event_connection_base: u32,
    /// GPADL limits.
    pub limits: Limits,
}

/// The default [`Config::event_connection_base`]: IDs `0x2001`–`0x27FF`,
/// clear of VMBus's message connections (1, 4) and of the 24-bit limit.
pub const EVENT_CONNECTION_BASE: u32 = 0x2000;

/// A device offered to the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Device {
    /// The component that serves it.
    pub id: DeviceId,
    /// Its class (`if_type`).
    pub interface: Guid,
    /// Its instance (`if_instance`).
    pub instance: Guid,
    /// Named-pipe message mode (the ICs): the ring's packets carry a pipe
    /// header.
    pub pipe: bool,
    /// MMIO space it wants, in MiB.
    pub mmio_megabytes: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct DeviceSlot {
    device: Device,
    /// Offered by the host (not removed).
    present: bool,
    /// Released by the guest while offered: not offered again until the
    /// next contact.
    declined: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Connected {
    version: Version,
    target: MessageTarget,
    offers_sent: bool,
}

/// A channel's state, as the host sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelState {
    /// Offered, not open.
    Closed,
    /// Open on a ring GPADL.
    Open {
        /// The ring GPADL.
        gpadl: u32,
        /// The VP signalled ([`TARGET_VP_NONE`](crate::protocol::TARGET_VP_NONE): none).
        target_vp: u32,
    },
    /// Rescinded by the host; waiting for the guest's RELID_RELEASED.
    Revoked,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Channel {
    slot: usize,
    state: ChannelState,
    /// What the device component was told when the channel opened (kept
    /// to tell a restarted component again).
    open: Option<ChannelOpen>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum GpadlState {
    Building(GpadlBuilder),
    Ready {
        gpadl: Gpadl,
        /// The guest asked to tear it down while it is an open ring; it is
        /// torn down when the channel closes.
        teardown_pending: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct GpadlRecord {
    relid: u32,
    entries: usize,
    state: GpadlState,
}

/// One partition's VMBus host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmbusServer {
    config: Config,
    devices: Vec<DeviceSlot>,
    connection: Option<Connected>,
    channels: BTreeMap<u32, Channel>,
    gpadls: BTreeMap<u32, GpadlRecord>,
    outbox: VecDeque<Outgoing>,
}

impl VmbusServer {
    /// A disconnected VMBus that will offer `devices` (at most
    /// [`MAX_DEVICES`]; the rest are left out with a warning).
    #[must_use]
    pub fn new(config: Config, devices: &[Device]) -> Self {
        let mut server = Self {
            config,
            devices: Vec::new(),
            connection: None,
            channels: BTreeMap::new(),
            gpadls: BTreeMap::new(),
            outbox: VecDeque::new(),
        };
        for &device in devices {
            server.add_device(device);
        }
        server
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The negotiated version, while connected.
    #[must_use]
    pub fn version(&self) -> Option<Version> {
        self.connection.map(|c| c.version)
    }

    /// Where messages go, while connected.
    #[must_use]
    pub fn target(&self) -> Option<MessageTarget> {
        self.connection.map(|c| c.target)
    }

    /// The channels the guest knows, by relid: the device serving each and
    /// its state.
    pub fn channels(&self) -> impl Iterator<Item = (u32, DeviceId, ChannelState)> + '_ {
        self.channels
            .iter()
            .map(|(&relid, channel)| (relid, self.devices[channel.slot].device.id, channel.state))
    }

    /// The GPADLs (complete or not): ID, channel, range entries.
    pub fn gpadls(&self) -> impl Iterator<Item = (u32, u32, usize)> + '_ {
        self.gpadls
            .iter()
            .map(|(&id, record)| (id, record.relid, record.entries))
    }

    /// A complete GPADL.
    #[must_use]
    pub fn gpadl(&self, id: u32) -> Option<&Gpadl> {
        match &self.gpadls.get(&id)?.state {
            GpadlState::Ready { gpadl, .. } => Some(gpadl),
            GpadlState::Building(_) => None,
        }
    }

    /// Whether the component may take the next guest message now.
    #[must_use]
    pub fn accepts_guest_messages(&self) -> bool {
        self.outbox.len() <= OUTBOX_ACCEPT_LIMIT
    }

    /// The next message for the guest, without taking it (post it; if the
    /// SynIC cannot take it yet, try again later).
    #[must_use]
    pub fn peek(&self) -> Option<&Outgoing> {
        self.outbox.front()
    }

    /// Takes the next message for the guest (once posted).
    pub fn pop(&mut self) -> Option<Outgoing> {
        self.outbox.pop_front()
    }

    /// Messages waiting for the guest.
    #[must_use]
    pub fn queued(&self) -> usize {
        self.outbox.len()
    }

    /// Takes a message the guest posted on `connection` with SynIC message
    /// type `message_type`.
    pub fn handle(
        &mut self,
        connection: MessageConnection,
        message_type: u32,
        payload: &[u8],
    ) -> Vec<DeviceRequest> {
        let mut requests = Vec::new();
        if message_type != VMBUS_MESSAGE_TYPE {
            self.drop_message(format_args!("SynIC message type {message_type:#x}"));
            return requests;
        }
        let message = match parse(payload) {
            Ok(message) => message,
            Err(error) => {
                self.drop_message(format_args!("{error}"));
                return requests;
            }
        };
        let Some(connected) = self.connection else {
            if let GuestMessage::InitiateContact(contact) = message {
                self.initiate_contact(connection, &contact, &mut requests);
            } else {
                self.drop_message(format_args!("{:?} before INITIATE_CONTACT", message.message_type()));
            }
            return requests;
        };
        match message {
            GuestMessage::InitiateContact(contact) => {
                self.initiate_contact(connection, &contact, &mut requests);
            }
            GuestMessage::RequestOffers => self.request_offers(),
            GuestMessage::GpadlHeader(header, data) => self.gpadl_header(&header, data),
            GuestMessage::GpadlBody(body, data) => self.gpadl_body(&body, data),
            GuestMessage::GpadlTeardown(teardown) => self.gpadl_teardown(&teardown),
            GuestMessage::OpenChannel(open) => self.open_channel(&open, &mut requests),
            GuestMessage::CloseChannel(close) => self.close_channel(&close, &mut requests),
            GuestMessage::RelidReleased(released) => self.relid_released(&released, &mut requests),
            GuestMessage::Unload => self.unload(&mut requests),
            GuestMessage::TlConnectRequest(request) => self.tl_connect(connected.version, &request),
            GuestMessage::ModifyChannel(modify) => {
                self.modify_channel(connected.version, &modify, &mut requests);
            }
        }
        requests
    }

    /// Logs a guest message that is dropped, and why.
    fn drop_message(&self, why: core::fmt::Arguments<'_>) {
        log::warn!("vmbus: partition {}: dropped a guest message: {why}", self.config.partition);
    }

    /// Queues `message` for the connected guest (nothing while
    /// disconnected).
    fn send(&mut self, message: HostMessage) {
        if let Some(connected) = self.connection {
            self.send_to(connected.target, message);
        }
    }

    /// Queues `message` for `target`.
    fn send_to(&mut self, target: MessageTarget, message: HostMessage) {
        if self.outbox.len() >= OUTBOX_CAPACITY {
            log::error!(
                "vmbus: partition {}: message queue full, {:?} lost",
                self.config.partition,
                message.message_type()
            );
            return;
        }
        self.outbox.push_back(Outgoing { target, message });
    }
}
