//! Channels: OPENCHANNEL, CLOSECHANNEL, RELID_RELEASED, MODIFYCHANNEL,
//! TL_CONNECT_REQUEST, and the host's side: devices added, removed
//! (RESCIND_CHANNELOFFER), offered again, restarted.
//!
//! An open names a complete GPADL of the same channel, of whole pages from
//! offset 0, that splits into two rings of at least two pages at the
//! downstream offset, and a VP that exists (or none). A refused open of a
//! known channel is answered with OPENCHANNEL_RESULT and a failure status
//! (an open of an open channel too); an open of a rescinded channel is
//! ignored, as Hyper-V does (Linux's `vmbus_on_msg_dpc` relies on that);
//! one of an unknown channel is dropped.

use alloc::vec::Vec;

use crate::protocol::messages::{
    CloseChannel, ModifyChannel, ModifyChannelResponse, OpenChannel, OpenResult, RelidReleased,
    RescindOffer, TlConnectRequest, TlConnectResult,
};
use crate::protocol::{HostMessage, MessageType, NtStatus, TARGET_VP_NONE, build};
use crate::ring::pair;
use crate::synic::{EventConnection, GuestSignal, Sint};
use crate::version::Version;

use super::{ChannelOpen, ChannelState, Device, DeviceId, DeviceRequest, DeviceSlot, GpadlState};
use super::{MAX_DEVICES, VmbusServer};

impl VmbusServer {
    /// The connection on which the guest signals channel `relid`.
    #[must_use]
    pub fn event_connection(&self, relid: u32) -> EventConnection {
        EventConnection(self.config.event_connection_base + relid)
    }

    /// The signal for `target_vp`, or none.
    fn guest_signal(&self, relid: u32, target_vp: u32) -> Option<GuestSignal> {
        let sint = self.connection.map_or(Sint::VMBUS, |c| c.target.sint);
        (target_vp != TARGET_VP_NONE).then_some(GuestSignal {
            vp: target_vp,
            sint,
            flag: relid as u16,
        })
    }

    /// Whether `vp` may be a channel's target.
    fn valid_target(&self, vp: u32) -> bool {
        vp == TARGET_VP_NONE || vp < self.config.vp_count
    }

    /// OPENCHANNEL.
    pub(super) fn open_channel(&mut self, open: &OpenChannel, requests: &mut Vec<DeviceRequest>) {
        let relid = open.child_relid.get();
        let Some(channel) = self.channels.get(&relid) else {
            self.drop_message(format_args!("OPENCHANNEL of unknown channel {relid}"));
            return;
        };
        match channel.state {
            ChannelState::Revoked => {
                log::info!(
                    "vmbus: partition {}: ignored OPENCHANNEL of rescinded channel {relid}",
                    self.config.partition
                );
                return;
            }
            ChannelState::Open { .. } => {
                self.refuse_open(open, "it is open");
                return;
            }
            ChannelState::Closed => {}
        }
        let slot = channel.slot;
        let gpadl_id = open.ringbuffer_gpadlhandle.get();
        let target_vp = open.target_vp.get();
        let pages = match self.gpadls.get(&gpadl_id) {
            Some(record) if record.relid == relid => match &record.state {
                GpadlState::Ready {
                    gpadl,
                    teardown_pending: false,
                } => gpadl.whole_pages(),
                _ => None,
            },
            _ => None,
        };
        let Some(pages) = pages else {
            self.refuse_open(open, "its ring GPADL is not a complete GPADL of whole pages");
            return;
        };
        let rings = match pair::split(pages.len(), open.downstream_ringbuffer_pageoffset.get()) {
            Ok(rings) => rings,
            Err(error) => {
                self.refuse_open(open, format_args!("{error:?}"));
                return;
            }
        };
        if !self.valid_target(target_vp) {
            self.refuse_open(open, format_args!("VP {target_vp} does not exist"));
            return;
        }
        let request = ChannelOpen {
            relid,
            device: self.devices[slot].device.id,
            pages: pages.to_vec(),
            rings,
            signal: self.guest_signal(relid, target_vp),
            guest_connection: self.event_connection(relid),
            user_data: open.userdata,
        };
        if let Some(channel) = self.channels.get_mut(&relid) {
            channel.state = ChannelState::Open {
                gpadl: gpadl_id,
                target_vp,
            };
            channel.open = Some(request.clone());
        }
        requests.push(DeviceRequest::Open(request));
        self.send(open_result(open, NtStatus::SUCCESS));
    }

    /// Answers `open` with a failure.
    fn refuse_open(&mut self, open: &OpenChannel, why: impl core::fmt::Display) {
        log::warn!(
            "vmbus: partition {}: refused OPENCHANNEL of channel {}: {why}",
            self.config.partition,
            open.child_relid.get()
        );
        self.send(open_result(open, NtStatus::UNSUCCESSFUL));
    }

    /// Closes open channel `relid` (it must be open), and finishes a
    /// teardown of its ring that waited.
    fn close_open(&mut self, relid: u32, requests: &mut Vec<DeviceRequest>) {
        let Some(channel) = self.channels.get_mut(&relid) else {
            return;
        };
        let ChannelState::Open { gpadl, .. } = channel.state else {
            return;
        };
        channel.state = ChannelState::Closed;
        channel.open = None;
        let device = self.devices[channel.slot].device.id;
        requests.push(DeviceRequest::Close { relid, device });
        self.finish_pending_teardown(gpadl);
    }

    /// CLOSECHANNEL.
    pub(super) fn close_channel(&mut self, close: &CloseChannel, requests: &mut Vec<DeviceRequest>) {
        let relid = close.child_relid.get();
        match self.channels.get(&relid).map(|channel| channel.state) {
            Some(ChannelState::Open { .. }) => self.close_open(relid, requests),
            Some(ChannelState::Revoked) => log::info!(
                "vmbus: partition {}: ignored CLOSECHANNEL of rescinded channel {relid}",
                self.config.partition
            ),
            Some(ChannelState::Closed) => {
                self.drop_message(format_args!("CLOSECHANNEL of channel {relid}, which is not open"));
            }
            None => self.drop_message(format_args!("CLOSECHANNEL of unknown channel {relid}")),
        }
    }

    /// RELID_RELEASED: the guest is done with a closed or rescinded
    /// channel; its ID may be reused. A rescinded device still present is
    /// offered again; one the guest released on its own is not, until the
    /// next contact.
    pub(super) fn relid_released(&mut self, released: &RelidReleased, _: &mut Vec<DeviceRequest>) {
        let relid = released.child_relid.get();
        let Some(channel) = self.channels.get(&relid) else {
            self.drop_message(format_args!("RELID_RELEASED of unknown channel {relid}"));
            return;
        };
        let slot = channel.slot;
        let revoked = match channel.state {
            ChannelState::Open { .. } => {
                self.drop_message(format_args!("RELID_RELEASED of open channel {relid}"));
                return;
            }
            ChannelState::Closed => false,
            ChannelState::Revoked => true,
        };
        self.channels.remove(&relid);
        let before = self.gpadls.len();
        self.gpadls.retain(|_, record| record.relid != relid);
        if self.gpadls.len() != before {
            log::warn!(
                "vmbus: partition {}: channel {relid} released with {} GPADLs left; forgotten",
                self.config.partition,
                before - self.gpadls.len()
            );
        }
        if revoked {
            self.offer_if_due(slot);
        } else {
            self.devices[slot].declined = true;
        }
    }

    /// MODIFYCHANNEL (4.1 on; answered from 5.3).
    pub(super) fn modify_channel(
        &mut self,
        version: Version,
        modify: &ModifyChannel,
        requests: &mut Vec<DeviceRequest>,
    ) {
        if !version.has_modify_channel() {
            self.drop_message(format_args!("MODIFYCHANNEL in version {version}"));
            return;
        }
        let relid = modify.child_relid.get();
        let target_vp = modify.target_vp.get();
        let signal = self.guest_signal(relid, target_vp);
        let valid = self.valid_target(target_vp);
        let status = match self.channels.get_mut(&relid) {
            Some(channel) if valid && matches!(channel.state, ChannelState::Open { .. }) => {
                if let ChannelState::Open { gpadl, .. } = channel.state {
                    channel.state = ChannelState::Open { gpadl, target_vp };
                }
                if let Some(open) = channel.open.as_mut() {
                    open.signal = signal;
                }
                let device = self.devices[channel.slot].device.id;
                requests.push(DeviceRequest::Retarget {
                    relid,
                    device,
                    signal,
                });
                NtStatus::SUCCESS
            }
            _ => {
                self.drop_message(format_args!(
                    "MODIFYCHANNEL of channel {relid} to VP {target_vp}: not an open channel and an existing VP"
                ));
                NtStatus::UNSUCCESSFUL
            }
        };
        if version.acknowledges_modify_channel() {
            self.send(HostMessage::ModifyChannelResponse(ModifyChannelResponse {
                header: build::header(MessageType::MODIFYCHANNEL_RESPONSE),
                child_relid: build::le(relid),
                status: build::status(status),
            }));
        }
    }

    /// TL_CONNECT_REQUEST (4.0 on): no hvsock service is offered, so every
    /// connect is refused.
    pub(super) fn tl_connect(&mut self, version: Version, request: &TlConnectRequest) {
        if !version.has_hvsock() {
            self.drop_message(format_args!("TL_CONNECT_REQUEST in version {version}"));
            return;
        }
        log::info!(
            "vmbus: partition {}: refused hvsock connect to service {}",
            self.config.partition,
            request.host_service_id
        );
        self.send(HostMessage::TlConnectResult(TlConnectResult {
            header: build::header(MessageType::TL_CONNECT_RESULT),
            guest_endpoint_id: request.guest_endpoint_id,
            host_service_id: request.host_service_id,
            status: build::status(NtStatus::CONNECTION_REFUSED),
        }));
    }

    /// Offers another device (at once if the guest has asked for offers).
    /// `false` if a present device has the same ID or [`MAX_DEVICES`] are
    /// in use.
    pub fn add_device(&mut self, device: Device) -> bool {
        if self.devices.iter().any(|slot| slot.present && slot.device.id == device.id) {
            log::warn!("vmbus: partition {}: {:?} is offered already", self.config.partition, device.id);
            return false;
        }
        let fresh = DeviceSlot {
            device,
            present: true,
            declined: false,
        };
        let unused = (0..self.devices.len()).find(|&slot| {
            !self.devices[slot].present && self.channels.values().all(|c| c.slot != slot)
        });
        let slot = match unused {
            Some(slot) => {
                self.devices[slot] = fresh;
                slot
            }
            None if self.devices.len() < MAX_DEVICES => {
                self.devices.push(fresh);
                self.devices.len() - 1
            }
            None => {
                log::warn!("vmbus: partition {}: too many devices", self.config.partition);
                return false;
            }
        };
        self.offer_if_due(slot);
        true
    }

    /// Withdraws a device: its channel is rescinded (closed first if open).
    pub fn remove_device(&mut self, id: DeviceId) -> Vec<DeviceRequest> {
        let mut requests = Vec::new();
        if let Some(slot) = self.present_slot(id) {
            self.devices[slot].present = false;
            self.rescind(slot, &mut requests);
        }
        requests
    }

    /// Rescinds a device's channel and offers the device again once the
    /// guest has released it (a fresh start for its driver).
    pub fn reoffer_device(&mut self, id: DeviceId) -> Vec<DeviceRequest> {
        let mut requests = Vec::new();
        if let Some(slot) = self.present_slot(id) {
            self.rescind(slot, &mut requests);
        }
        requests
    }

    /// A device component restarted: it is to serve its open channels
    /// again, as they are.
    #[must_use]
    pub fn device_restarted(&self, id: DeviceId) -> Vec<DeviceRequest> {
        self.channels
            .values()
            .filter(|channel| self.devices[channel.slot].device.id == id)
            .filter_map(|channel| channel.open.clone().map(DeviceRequest::Open))
            .collect()
    }

    fn present_slot(&self, id: DeviceId) -> Option<usize> {
        self.devices
            .iter()
            .position(|slot| slot.present && slot.device.id == id)
    }

    /// RESCIND_CHANNELOFFER for device `slot`'s live channel.
    fn rescind(&mut self, slot: usize, requests: &mut Vec<DeviceRequest>) {
        let live = self
            .channels
            .iter()
            .find(|(_, channel)| channel.slot == slot && channel.state != ChannelState::Revoked)
            .map(|(&relid, _)| relid);
        let Some(relid) = live else {
            return;
        };
        self.close_open(relid, requests);
        if let Some(channel) = self.channels.get_mut(&relid) {
            channel.state = ChannelState::Revoked;
        }
        self.send(HostMessage::RescindOffer(RescindOffer {
            header: build::header(MessageType::RESCIND_CHANNELOFFER),
            child_relid: build::le(relid),
        }));
    }
}

/// OPENCHANNEL_RESULT for `open`.
fn open_result(open: &OpenChannel, status: NtStatus) -> HostMessage {
    HostMessage::OpenResult(OpenResult {
        header: build::header(MessageType::OPENCHANNEL_RESULT),
        child_relid: open.child_relid,
        openid: open.openid,
        status: build::status(status),
    })
}
