//! GPADL_HEADER, GPADL_BODY, GPADL_TEARDOWN.
//!
//! A GPADL belongs to a channel the guest knows (in any state: a revoked
//! channel's driver may still set up and tear down). Its ID is unique in
//! the partition while it exists (Linux numbers GPADLs from one counter),
//! since GPADL_BODY and GPADL_TORNDOWN carry no channel. A refused GPADL
//! is answered with GPADL_CREATED and a failure status, and forgotten. A
//! body or a teardown that names no GPADL of the guest's cannot be
//! answered (those answers carry the channel, or mean success) and is
//! dropped. Tearing down the ring of an open channel is answered once the
//! channel closes: until then the device component still maps it.

use crate::gpadl::GpadlBuilder;
use crate::protocol::messages::{GpadlBody, GpadlCreated, GpadlHeader, GpadlTeardown, GpadlTorndown};
use crate::protocol::{HostMessage, MessageType, NtStatus, build};

use super::{ChannelState, GpadlRecord, GpadlState, VmbusServer};

impl VmbusServer {
    /// GPADL_HEADER.
    pub(super) fn gpadl_header(&mut self, header: &GpadlHeader, data: &[u8]) {
        let relid = header.child_relid.get();
        let id = header.gpadl.get();
        let refusal = if !self.channels.contains_key(&relid) {
            Some("its channel does not exist")
        } else if self.gpadls.contains_key(&id) {
            Some("the ID is in use")
        } else if self.gpadls.len() >= self.config.limits.gpadls {
            Some("the partition has too many GPADLs")
        } else {
            None
        };
        if let Some(why) = refusal {
            self.refuse_gpadl(relid, id, format_args!("{why}"));
            return;
        }
        let builder = match GpadlBuilder::new(header, self.config.limits.gpadl_entries) {
            Ok(builder) => builder,
            Err(error) => {
                self.refuse_gpadl(relid, id, format_args!("{error:?}"));
                return;
            }
        };
        let in_use: usize = self.gpadls.values().map(|record| record.entries).sum();
        if in_use + builder.capacity() > self.config.limits.total_entries {
            self.refuse_gpadl(relid, id, format_args!("the partition's GPADL budget is spent"));
            return;
        }
        self.gpadls.insert(
            id,
            GpadlRecord {
                relid,
                entries: builder.capacity(),
                state: GpadlState::Building(builder),
            },
        );
        self.gpadl_data(id, data);
    }

    /// GPADL_BODY.
    pub(super) fn gpadl_body(&mut self, body: &GpadlBody, data: &[u8]) {
        let id = body.gpadl.get();
        match self.gpadls.get(&id).map(|record| &record.state) {
            Some(GpadlState::Building(_)) => self.gpadl_data(id, data),
            Some(GpadlState::Ready { .. }) => {
                self.drop_message(format_args!("GPADL_BODY for complete GPADL {id:#x}"));
            }
            None => self.drop_message(format_args!("GPADL_BODY for unknown GPADL {id:#x}")),
        }
    }

    /// Adds range data to building GPADL `id`; answers once it is complete.
    fn gpadl_data(&mut self, id: u32, data: &[u8]) {
        let Some(record) = self.gpadls.get_mut(&id) else {
            return;
        };
        let relid = record.relid;
        let GpadlState::Building(builder) = &mut record.state else {
            return;
        };
        if !builder.append(data) {
            return;
        }
        match builder.finish(&self.config.ram) {
            Ok(gpadl) => {
                record.state = GpadlState::Ready {
                    gpadl,
                    teardown_pending: false,
                };
                self.send(gpadl_created(relid, id, NtStatus::SUCCESS));
            }
            Err(error) => {
                self.gpadls.remove(&id);
                self.refuse_gpadl(relid, id, format_args!("{error:?}"));
            }
        }
    }

    /// Answers GPADL `id` of channel `relid` with a failure.
    fn refuse_gpadl(&mut self, relid: u32, id: u32, why: core::fmt::Arguments<'_>) {
        log::warn!(
            "vmbus: partition {}: refused GPADL {id:#x} of channel {relid}: {why}",
            self.config.partition
        );
        self.send(gpadl_created(relid, id, NtStatus::UNSUCCESSFUL));
    }

    /// GPADL_TEARDOWN.
    pub(super) fn gpadl_teardown(&mut self, teardown: &GpadlTeardown) {
        let relid = teardown.child_relid.get();
        let id = teardown.gpadl.get();
        let is_ring = self
            .channels
            .get(&relid)
            .is_some_and(|channel| matches!(channel.state, ChannelState::Open { gpadl, .. } if gpadl == id));
        match self.gpadls.get_mut(&id) {
            Some(record) if record.relid == relid => match &mut record.state {
                GpadlState::Ready {
                    teardown_pending, ..
                } => {
                    if is_ring {
                        *teardown_pending = true;
                    } else {
                        self.gpadls.remove(&id);
                        self.send(gpadl_torndown(id));
                    }
                }
                GpadlState::Building(_) => {
                    self.drop_message(format_args!("GPADL_TEARDOWN of incomplete GPADL {id:#x}"));
                }
            },
            _ => self.drop_message(format_args!(
                "GPADL_TEARDOWN of GPADL {id:#x}, which channel {relid} does not have"
            )),
        }
    }

    /// Tears down ring GPADL `id` if the guest asked while it was in use.
    pub(super) fn finish_pending_teardown(&mut self, id: u32) {
        if let Some(GpadlRecord {
            state: GpadlState::Ready {
                teardown_pending: true,
                ..
            },
            ..
        }) = self.gpadls.get(&id)
        {
            self.gpadls.remove(&id);
            self.send(gpadl_torndown(id));
        }
    }
}

/// GPADL_CREATED.
fn gpadl_created(relid: u32, id: u32, status: NtStatus) -> HostMessage {
    HostMessage::GpadlCreated(GpadlCreated {
        header: build::header(MessageType::GPADL_CREATED),
        child_relid: build::le(relid),
        gpadl: build::le(id),
        creation_status: build::status(status),
    })
}

/// GPADL_TORNDOWN.
fn gpadl_torndown(id: u32) -> HostMessage {
    HostMessage::GpadlTorndown(GpadlTorndown {
        header: build::header(MessageType::GPADL_TORNDOWN),
        gpadl: build::le(id),
    })
}
