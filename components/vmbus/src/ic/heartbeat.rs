//! The heartbeat IC (`HV_HEART_BEAT_GUID`,
//! `{57164f39-9115-4e78-ab55-382f3bd5422d}`).
//!
//! The host sends a sequence number; the guest answers it plus one
//! (`heartbeat_onchannelcallback`: "Every two seconds, Hyper-V send us a
//! heartbeat request message. we respond to this message, and Hyper-V
//! knows we are alive."). The message is `struct heartbeat_msg_data`: the
//! 64-bit sequence number and 32 reserved bytes (Linux reads only the
//! number). Message versions: 3.0, 1.0; Linux 6.1 takes 3.0.

use zerocopy::byteorder::little_endian::U64;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::host::{Answer, IcError, IcHost, Request};
use super::negotiate::Negotiated;
use super::{HV_S_OK, IcMessageType, IcVersion};

/// The message versions the host offers (`HB_VERSION`, `HB_VERSION_1`).
pub const VERSIONS: &[IcVersion] = &[IcVersion::new(3, 0), IcVersion::new(1, 0)];

/// `struct heartbeat_msg_data` (40 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct HeartbeatMessage {
    /// The sequence number.
    pub seq_num: U64,
    /// Reserved.
    pub reserved: [u8; 32],
}

/// What an answer told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeartbeatEvent {
    /// Versions agreed: heartbeats can start.
    Negotiated(Negotiated),
    /// The guest answered a heartbeat as it should.
    Alive {
        /// The number it answered.
        sequence: u64,
    },
    /// The guest answered wrongly (a failure status or another number).
    Unwell {
        /// The status.
        status: u32,
        /// The number it answered, if it answered one.
        sequence: Option<u64>,
    },
}

/// The heartbeat IC's host side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    ic: IcHost,
    sequence: u64,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Self::new()
    }
}

impl Heartbeat {
    /// A heartbeat IC whose channel is not open yet.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            ic: IcHost::new(IcMessageType::HEARTBEAT, VERSIONS),
            sequence: 0,
        }
    }

    /// The IC's negotiation and transactions.
    #[must_use]
    pub fn ic(&self) -> &IcHost {
        &self.ic
    }

    /// The channel opened: negotiate.
    pub fn start(&mut self) -> Request {
        self.ic.start()
    }

    /// The next heartbeat, unless negotiation is unfinished or the last
    /// one is unanswered.
    pub fn beat(&mut self) -> Option<Request> {
        let message = HeartbeatMessage {
            seq_num: U64::new(self.sequence),
            reserved: [0; 32],
        };
        self.ic.request(message.as_bytes())
    }

    /// Takes the guest's answer.
    ///
    /// # Errors
    ///
    /// [`IcError`].
    pub fn receive(&mut self, trans_id: u64, data: &[u8]) -> Result<HeartbeatEvent, IcError> {
        match self.ic.receive(trans_id, data)? {
            Answer::Negotiated(negotiated) => Ok(HeartbeatEvent::Negotiated(negotiated)),
            Answer::Reply { status, body } => {
                let answered = U64::read_from_prefix(body).ok().map(|(n, _)| n.get());
                let expected = self.sequence.wrapping_add(1);
                if status == HV_S_OK && answered == Some(expected) {
                    self.sequence = expected;
                    Ok(HeartbeatEvent::Alive { sequence: expected })
                } else {
                    Ok(HeartbeatEvent::Unwell {
                        status,
                        sequence: answered,
                    })
                }
            }
        }
    }
}
