//! The shutdown IC (`HV_SHUTDOWN_GUID`,
//! `{0e0b6031-5213-4934-818b-38d90ced39db}`).
//!
//! The host asks the guest to power off, restart or hibernate
//! (`struct shutdown_msg_data`: a reason code, a timeout in seconds,
//! flags, and a 2048-byte display message; Linux ignores all but the flags
//! and refuses a message shorter than the whole structure). Flags: 0 power
//! off, 2 restart, 4 hibernate, each plus 1 to force it (Linux always
//! forces). The guest answers `HV_S_OK` and then acts (`orderly_poweroff`
//! for a power-off), or `HV_E_FAIL` for flags it does not know and for
//! hibernation it cannot do. Message versions: 3.2 (hibernate), 3.1
//! (restart), 3.0, 1.0; Linux 6.1 takes 3.2.

use zerocopy::byteorder::little_endian::U32;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::host::{Answer, IcError, IcHost, Request};
use super::negotiate::Negotiated;
use super::{HV_S_OK, IcMessageType, IcVersion};

/// 3.2: hibernation requests.
pub const VERSION_3_2: IcVersion = IcVersion::new(3, 2);
/// 3.1: restart requests.
pub const VERSION_3_1: IcVersion = IcVersion::new(3, 1);
/// The message versions the host offers (`SD_VERSION_3_2` … `SD_VERSION_1`).
pub const VERSIONS: &[IcVersion] = &[
    VERSION_3_2,
    VERSION_3_1,
    IcVersion::new(3, 0),
    IcVersion::new(1, 0),
];

/// `reason_code`: a planned shutdown (`SHTDN_REASON_FLAG_PLANNED`).
pub const REASON_PLANNED: u32 = 0x8000_0000;

/// `struct shutdown_msg_data` (2060 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ShutdownMessage {
    /// Why (a Windows shutdown reason).
    pub reason_code: U32,
    /// Seconds the guest has.
    pub timeout_seconds: U32,
    /// What to do: 0, 2 or 4, plus 1 to force.
    pub flags: U32,
    /// Text for the guest's users.
    pub display_message: [u8; 2048],
}

/// What the host asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShutdownKind {
    /// Power off.
    PowerOff,
    /// Restart (version 3.1 on).
    Restart,
    /// Hibernate (version 3.2 on).
    Hibernate,
}

impl ShutdownKind {
    /// The flags, forced or not.
    #[must_use]
    pub const fn flags(self, force: bool) -> u32 {
        let kind = match self {
            Self::PowerOff => 0,
            Self::Restart => 2,
            Self::Hibernate => 4,
        };
        kind | force as u32
    }

    /// The oldest message version that has it.
    #[must_use]
    pub const fn since(self) -> IcVersion {
        match self {
            Self::PowerOff => IcVersion::new(1, 0),
            Self::Restart => VERSION_3_1,
            Self::Hibernate => VERSION_3_2,
        }
    }
}

/// What an answer told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShutdownEvent {
    /// Versions agreed: requests can be sent.
    Negotiated(Negotiated),
    /// The guest will do it.
    Accepted,
    /// The guest will not.
    Refused {
        /// The status it answered.
        status: u32,
    },
}

/// The shutdown IC's host side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shutdown {
    ic: IcHost,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A shutdown IC whose channel is not open yet.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            ic: IcHost::new(IcMessageType::SHUTDOWN, VERSIONS),
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

    /// The request for `kind`; `None` before negotiation finished, while
    /// another request waits, or when the negotiated version lacks `kind`.
    pub fn request(&mut self, kind: ShutdownKind, force: bool, timeout_seconds: u32) -> Option<Request> {
        let negotiated = self.ic.negotiated()?;
        if negotiated.message < kind.since() {
            return None;
        }
        let message = ShutdownMessage {
            reason_code: U32::new(REASON_PLANNED),
            timeout_seconds: U32::new(timeout_seconds),
            flags: U32::new(kind.flags(force)),
            display_message: [0; 2048],
        };
        self.ic.request(message.as_bytes())
    }

    /// Takes the guest's answer.
    ///
    /// # Errors
    ///
    /// [`IcError`].
    pub fn receive(&mut self, trans_id: u64, data: &[u8]) -> Result<ShutdownEvent, IcError> {
        Ok(match self.ic.receive(trans_id, data)? {
            Answer::Negotiated(negotiated) => ShutdownEvent::Negotiated(negotiated),
            Answer::Reply { status: HV_S_OK, .. } => ShutdownEvent::Accepted,
            Answer::Reply { status, .. } => ShutdownEvent::Refused { status },
        })
    }
}
