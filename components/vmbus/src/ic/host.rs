//! The host's side of one IC channel: negotiation, then one request at a
//! time.
//!
//! Each request is a packet with a fresh transaction ID (the packet's
//! `trans_id`, which Linux echoes: `vmbus_sendpacket(..., requestid, ...)`).
//! An answer must carry the transaction the host waits for, be marked a
//! response, and be of the request's type; anything else is refused
//! without changing the state, so a confused or hostile guest can only
//! make its own IC useless. A channel that is opened again starts over
//! with negotiation ([`IcHost::start`]).

use alloc::vec::Vec;

use zerocopy::byteorder::little_endian::{U16, U32};
use zerocopy::{FromBytes, IntoBytes};

use super::negotiate::{self, NegotiateError, Negotiated};
use super::{
    ICMSG_HDR, ICMSGHDRFLAG_REQUEST, ICMSGHDRFLAG_RESPONSE, ICMSGHDRFLAG_TRANSACTION, IcHeader,
    IcMessageType, IcVersion, PIPE_PACKET_DATA, PipeHeader,
};

/// A packet to send: in-band data with this transaction ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The packet's `trans_id`.
    pub trans_id: u64,
    /// The packet's data: pipe header, IC header, message.
    pub data: Vec<u8>,
}

/// What an answer held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer<'a> {
    /// Negotiation finished.
    Negotiated(Negotiated),
    /// The answer to a request.
    Reply {
        /// The IC header's status (`HV_S_OK` or a failure).
        status: u32,
        /// The message after the headers, as the guest left it.
        body: &'a [u8],
    },
}

/// Why an answer was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcError {
    /// No request with this transaction ID waits for an answer.
    UnexpectedTransaction(u64),
    /// Shorter than the headers.
    TooShort(usize),
    /// Not marked as a response, or of another message type.
    NotTheAnswer,
    /// Negotiation failed; the IC is unusable until the channel reopens.
    Negotiation(NegotiateError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Closed,
    Negotiating,
    Ready(Negotiated),
    Failed,
}

/// One IC channel's host side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IcHost {
    message_type: IcMessageType,
    versions: &'static [IcVersion],
    state: State,
    next_trans_id: u64,
    waiting: Option<(u64, IcMessageType)>,
}

impl IcHost {
    /// An IC sending `message_type` messages, offering `versions` (newest
    /// first).
    #[must_use]
    pub const fn new(message_type: IcMessageType, versions: &'static [IcVersion]) -> Self {
        Self {
            message_type,
            versions,
            state: State::Closed,
            next_trans_id: 1,
            waiting: None,
        }
    }

    /// The versions in use, once negotiated.
    #[must_use]
    pub fn negotiated(&self) -> Option<Negotiated> {
        match self.state {
            State::Ready(negotiated) => Some(negotiated),
            _ => None,
        }
    }

    /// Whether negotiation failed.
    #[must_use]
    pub fn failed(&self) -> bool {
        self.state == State::Failed
    }

    /// Whether a request waits for its answer.
    #[must_use]
    pub fn busy(&self) -> bool {
        self.waiting.is_some()
    }

    /// The channel opened: start over with the negotiation request.
    pub fn start(&mut self) -> Request {
        self.state = State::Negotiating;
        let body = negotiate::request_body(self.versions);
        self.send(IcMessageType::NEGOTIATE, IcVersion::default(), IcVersion::default(), &body)
    }

    /// A request of this IC's message type with `body`; `None` before
    /// negotiation finished or while another request waits.
    pub fn request(&mut self, body: &[u8]) -> Option<Request> {
        let State::Ready(negotiated) = self.state else {
            return None;
        };
        if self.busy() {
            return None;
        }
        Some(self.send(self.message_type, negotiated.framework, negotiated.message, body))
    }

    fn send(
        &mut self,
        message_type: IcMessageType,
        framework: IcVersion,
        message: IcVersion,
        body: &[u8],
    ) -> Request {
        let trans_id = self.next_trans_id;
        self.next_trans_id = self.next_trans_id.wrapping_add(1).max(1);
        let header = IcHeader {
            icverframe: framework,
            icmsgtype: U16::new(message_type.0),
            icvermsg: message,
            icmsgsize: U16::new(body.len() as u16),
            status: U32::ZERO,
            ictransaction_id: trans_id as u8,
            icflags: ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_REQUEST,
            reserved: [0; 2],
        };
        let pipe = PipeHeader {
            flags: U32::new(PIPE_PACKET_DATA),
            msgsize: U32::new((size_of::<IcHeader>() + body.len()) as u32),
        };
        let mut data = Vec::with_capacity(ICMSG_HDR + body.len());
        data.extend_from_slice(pipe.as_bytes());
        data.extend_from_slice(header.as_bytes());
        data.extend_from_slice(body);
        self.waiting = Some((trans_id, message_type));
        Request { trans_id, data }
    }

    /// Takes the guest's answer: the data of a packet with `trans_id`.
    ///
    /// # Errors
    ///
    /// [`IcError`]; only a failed negotiation changes the state.
    pub fn receive<'a>(&mut self, trans_id: u64, data: &'a [u8]) -> Result<Answer<'a>, IcError> {
        let Some((_, message_type)) = self.waiting.filter(|&(id, _)| id == trans_id) else {
            return Err(IcError::UnexpectedTransaction(trans_id));
        };
        let Some(header) = data
            .get(size_of::<PipeHeader>()..)
            .and_then(|rest| IcHeader::read_from_prefix(rest).ok())
            .map(|(header, _)| header)
        else {
            return Err(IcError::TooShort(data.len()));
        };
        if header.icflags & ICMSGHDRFLAG_RESPONSE == 0 || header.icmsgtype.get() != message_type.0 {
            return Err(IcError::NotTheAnswer);
        }
        self.waiting = None;
        let body = &data[ICMSG_HDR..];
        let size = usize::from(header.icmsgsize.get()).min(body.len());
        let body = &body[..size];
        if message_type != IcMessageType::NEGOTIATE {
            return Ok(Answer::Reply {
                status: header.status.get(),
                body,
            });
        }
        match negotiate::read_answer(body, self.versions) {
            Ok(negotiated) => {
                self.state = State::Ready(negotiated);
                Ok(Answer::Negotiated(negotiated))
            }
            Err(error) => {
                self.state = State::Failed;
                Err(IcError::Negotiation(error))
            }
        }
    }
}
