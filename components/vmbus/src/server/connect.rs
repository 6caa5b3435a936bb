//! Connecting and disconnecting: INITIATE_CONTACT, REQUESTOFFERS, UNLOAD,
//! and the offers.
//!
//! INITIATE_CONTACT is taken on either message connection, and at any time:
//! a connected guest that contacts again (a kexec'd kernel, a crash
//! kernel) loses its channels as after UNLOAD, without UNLOAD_RESPONSE.
//! Where the answer goes depends on the version asked for: VP 0 before
//! 3.0, `target_vcpu` from 3.0; SINT 2 before 5.0, the SINT the guest
//! names from 5.0. The answer accepts a supported version on VMBus's SINT
//! and an existing VP; it names connection 1 for later messages from 5.0
//! (`msg_conn_id`), and repeats the version before. Anything else gets
//! `version_supported = 0`, so the guest tries its next version (a VP that
//! does not exist is answered on VP 0; a SINT past 15 cannot be answered
//! and is dropped).
//!
//! Monitor pages: Linux always passes two; Tessera offers every channel
//! with `monitor_allocated = 0`, so Linux signals with `HvSignalEvent`
//! only (`vmbus_setevent`) and never reads a monitor page for the host's
//! sake: the host neither maps nor services them.

use alloc::vec::Vec;

use crate::protocol::messages::{
    InitiateContact, OFFER_ENUMERATE_DEVICE_INTERFACE, OFFER_NAMED_PIPE_MODE, OfferChannel,
    PIPE_TYPE_MESSAGE, USER_DEFINED_BYTES, VersionResponse,
};
use crate::protocol::{ConnectionState, HostMessage, MessageType, RELIDS, build};
use crate::synic::{MessageConnection, MessageTarget, Sint};
use crate::version::{MESSAGE_CONNECTION_ID, SUPPORTED_VERSIONS, VMBUS_SINT, Version};

use super::{Channel, ChannelState, Connected, DeviceRequest, VmbusServer};

impl VmbusServer {
    /// Whether `version` is accepted.
    pub(super) fn accepts_version(&self, version: Version) -> bool {
        SUPPORTED_VERSIONS.contains(&version)
            && self.config.max_version.is_none_or(|max| version <= max)
    }

    /// INITIATE_CONTACT.
    pub(super) fn initiate_contact(
        &mut self,
        connection: MessageConnection,
        contact: &InitiateContact,
        requests: &mut Vec<DeviceRequest>,
    ) {
        let version = Version(contact.vmbus_version_requested.get());
        if self.connection.is_some() {
            log::info!(
                "vmbus: partition {}: contact again: the channels are closed",
                self.config.partition
            );
            self.disconnect(requests);
        }
        let vp = if version.honours_target_vcpu() {
            contact.target_vcpu.get()
        } else {
            0
        };
        let sint = if version.names_message_connection() {
            contact.interrupt_page_or_sint.get() as u8
        } else {
            VMBUS_SINT
        };
        let Some(sint) = Sint::new(sint) else {
            self.drop_message(format_args!("INITIATE_CONTACT {version} names SINT {sint}"));
            return;
        };
        let target = MessageTarget { vp, sint };
        let refusal = if vp >= self.config.vp_count {
            Some((MessageTarget { vp: 0, sint }, "its target VP does not exist"))
        } else if sint != Sint::VMBUS {
            Some((target, "it names a SINT other than VMBus's"))
        } else if !self.accepts_version(version) {
            Some((target, "the version is not supported"))
        } else {
            None
        };
        if let Some((target, why)) = refusal {
            log::info!(
                "vmbus: partition {}: refused version {version} (on connection {}, {target:?}): {why}",
                self.config.partition,
                connection.id()
            );
            self.send_to(target, version_response(false, 0));
            return;
        }
        log::info!(
            "vmbus: partition {}: connected with version {version}, messages to {target:?}",
            self.config.partition
        );
        self.connection = Some(Connected {
            version,
            target,
            offers_sent: false,
        });
        for slot in &mut self.devices {
            slot.declined = false;
        }
        let named = if version.names_message_connection() {
            MESSAGE_CONNECTION_ID
        } else {
            version.0
        };
        self.send_to(target, version_response(true, named));
    }

    /// REQUESTOFFERS: every device, then ALLOFFERS_DELIVERED.
    pub(super) fn request_offers(&mut self) {
        let Some(connected) = self.connection.as_mut() else {
            return;
        };
        if connected.offers_sent {
            self.drop_message(format_args!("REQUESTOFFERS again"));
            return;
        }
        connected.offers_sent = true;
        for slot in 0..self.devices.len() {
            self.offer_if_due(slot);
        }
        self.send(HostMessage::AllOffersDelivered);
    }

    /// UNLOAD: close everything, answer UNLOAD_RESPONSE.
    pub(super) fn unload(&mut self, requests: &mut Vec<DeviceRequest>) {
        let Some(connected) = self.connection else {
            return;
        };
        self.disconnect(requests);
        log::info!("vmbus: partition {}: unloaded", self.config.partition);
        self.send_to(connected.target, HostMessage::UnloadResponse);
    }

    /// The partition was reset: forget the guest, as after UNLOAD but with
    /// no answer.
    pub fn reset(&mut self) -> Vec<DeviceRequest> {
        let mut requests = Vec::new();
        self.disconnect(&mut requests);
        requests
    }

    /// Closes every channel, forgets every GPADL and unsent message.
    fn disconnect(&mut self, requests: &mut Vec<DeviceRequest>) {
        for (&relid, channel) in &self.channels {
            if let ChannelState::Open { .. } = channel.state {
                requests.push(DeviceRequest::Close {
                    relid,
                    device: self.devices[channel.slot].device.id,
                });
            }
        }
        self.channels.clear();
        self.gpadls.clear();
        self.outbox.clear();
        self.connection = None;
        self.devices.retain(|slot| slot.present);
    }

    /// Offers device `slot` if the guest has asked for offers and the
    /// device is present, not declined, and without a channel.
    pub(super) fn offer_if_due(&mut self, slot: usize) {
        let Some(connected) = self.connection else {
            return;
        };
        let device = &self.devices[slot];
        if !connected.offers_sent
            || !device.present
            || device.declined
            || self.channels.values().any(|channel| channel.slot == slot)
        {
            return;
        }
        let Some(relid) = RELIDS.clone().find(|relid| !self.channels.contains_key(relid)) else {
            log::error!("vmbus: partition {}: no channel ID left", self.config.partition);
            return;
        };
        self.channels.insert(
            relid,
            Channel {
                slot,
                state: ChannelState::Closed,
                open: None,
            },
        );
        let offer = self.offer_message(slot, relid);
        self.send(HostMessage::OfferChannel(offer));
    }

    /// OFFERCHANNEL for device `slot` as channel `relid`.
    fn offer_message(&self, slot: usize, relid: u32) -> OfferChannel {
        let device = self.devices[slot].device;
        let mut user_def = [0; USER_DEFINED_BYTES];
        let flags = if device.pipe {
            user_def[..4].copy_from_slice(&PIPE_TYPE_MESSAGE.to_le_bytes());
            OFFER_ENUMERATE_DEVICE_INTERFACE | OFFER_NAMED_PIPE_MODE
        } else {
            0
        };
        OfferChannel {
            header: build::header(MessageType::OFFERCHANNEL),
            if_type: device.interface,
            if_instance: device.instance,
            reserved1: 0.into(),
            reserved2: 0.into(),
            chn_flags: flags.into(),
            mmio_megabytes: device.mmio_megabytes.into(),
            user_def,
            sub_channel_index: 0.into(),
            reserved3: 0.into(),
            child_relid: relid.into(),
            monitorid: 0,
            monitor_allocated: 0,
            is_dedicated_interrupt: 1.into(),
            connection_id: self.event_connection(relid).0.into(),
        }
    }
}

/// VERSION_RESPONSE.
fn version_response(supported: bool, msg_conn_id: u32) -> HostMessage {
    HostMessage::VersionResponse(VersionResponse {
        header: build::header(MessageType::VERSION_RESPONSE),
        version_supported: supported.into(),
        connection_state: ConnectionState::SUCCESSFUL.0,
        padding: 0.into(),
        msg_conn_id: build::le(msg_conn_id),
    })
}
