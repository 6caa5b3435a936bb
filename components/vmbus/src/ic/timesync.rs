//! The time synchronisation IC (`HV_TS_GUID`,
//! `{9527e630-d0ae-497b-adce-e80ab0175caf}`).
//!
//! The host sends its wall-clock time: UTC in 100 ns units since
//! 1601-01-01 (Linux converts with `WLTIMEDELTA`, the units between 1601
//! and 1970). From version 4.0 the message (`struct ictimesync_ref_data`,
//! 22 bytes) also carries the partition's reference time (the reference
//! counter, 100 ns units) at which the host read its clock, and Linux adds
//! the reference time elapsed since; before 4.0 (`struct ictimesync_data`,
//! 25 bytes) Linux assumes no time passed. `ICTIMESYNCFLAG_SYNC` (1) asks
//! the guest to set its clock (Linux: `do_settimeofday64`);
//! `ICTIMESYNCFLAG_SAMPLE` (2) is a hint it may use (Linux keeps it for its
//! PTP clock). Linux answers every message with its header's flags turned
//! into a response. Message versions: 4.0, 3.0, 1.0; Linux 6.1 takes 4.0.

use zerocopy::byteorder::little_endian::U64;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::host::{Answer, IcError, IcHost, Request};
use super::negotiate::Negotiated;
use super::{IcMessageType, IcVersion};

/// 4.0: messages carry the reference time.
pub const VERSION_4_0: IcVersion = IcVersion::new(4, 0);
/// The message versions the host offers (`TS_VERSION`, `TS_VERSION_3`,
/// `TS_VERSION_1`).
pub const VERSIONS: &[IcVersion] = &[VERSION_4_0, IcVersion::new(3, 0), IcVersion::new(1, 0)];

/// 100 ns units from 1601-01-01 to 1970-01-01 (`WLTIMEDELTA`).
pub const UNIX_EPOCH_IN_1601_UNITS: u64 = 116_444_736_000_000_000;

/// `ICTIMESYNCFLAG_SYNC`.
pub const FLAG_SYNC: u8 = 1;
/// `ICTIMESYNCFLAG_SAMPLE`.
pub const FLAG_SAMPLE: u8 = 2;

/// `struct ictimesync_data` (25 bytes), before 4.0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct TimeSyncMessage {
    /// The host's UTC time, 100 ns units since 1601.
    pub parenttime: U64,
    /// Unused.
    pub childtime: U64,
    /// Unused.
    pub roundtriptime: U64,
    /// `FLAG_*`.
    pub flags: u8,
}

/// `struct ictimesync_ref_data` (22 bytes), 4.0 on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct TimeSyncRefMessage {
    /// The host's UTC time, 100 ns units since 1601.
    pub parenttime: U64,
    /// The partition's reference time when it was read.
    pub vmreferencetime: U64,
    /// `FLAG_*`.
    pub flags: u8,
    /// NTP leap indicator (unused by Linux).
    pub leapflags: u8,
    /// NTP stratum (unused by Linux).
    pub stratum: u8,
    /// Reserved.
    pub reserved: [u8; 3],
}

/// The host's clock at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeSample {
    /// UTC, 100 ns units since 1601-01-01.
    pub utc: u64,
    /// The partition's reference time at that instant.
    pub reference_time: u64,
}

/// UTC in 100 ns units since 1601 from a Unix time (saturating, some
/// 58 000 years from now).
#[must_use]
pub const fn utc_from_unix(seconds: u64, nanoseconds: u32) -> u64 {
    seconds
        .saturating_mul(10_000_000)
        .saturating_add(UNIX_EPOCH_IN_1601_UNITS + nanoseconds as u64 / 100)
}

/// What an answer told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeSyncEvent {
    /// Versions agreed: samples can be sent.
    Negotiated(Negotiated),
    /// The guest took a sample.
    Acknowledged {
        /// The status it answered.
        status: u32,
    },
}

/// The time synchronisation IC's host side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeSync {
    ic: IcHost,
}

impl Default for TimeSync {
    fn default() -> Self {
        Self::new()
    }
}

impl TimeSync {
    /// A time sync IC whose channel is not open yet.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            ic: IcHost::new(IcMessageType::TIMESYNC, VERSIONS),
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

    /// A sample with `flags` ([`FLAG_SYNC`] after the partition starts or
    /// resumes, [`FLAG_SAMPLE`] otherwise), in the negotiated format; `None`
    /// before negotiation finished or while another message waits.
    pub fn sample(&mut self, sample: TimeSample, flags: u8) -> Option<Request> {
        let negotiated = self.ic.negotiated()?;
        if negotiated.message >= VERSION_4_0 {
            let message = TimeSyncRefMessage {
                parenttime: U64::new(sample.utc),
                vmreferencetime: U64::new(sample.reference_time),
                flags,
                leapflags: 0,
                stratum: 0,
                reserved: [0; 3],
            };
            self.ic.request(message.as_bytes())
        } else {
            let message = TimeSyncMessage {
                parenttime: U64::new(sample.utc),
                childtime: U64::ZERO,
                roundtriptime: U64::ZERO,
                flags,
            };
            self.ic.request(message.as_bytes())
        }
    }

    /// Takes the guest's answer.
    ///
    /// # Errors
    ///
    /// [`IcError`].
    pub fn receive(&mut self, trans_id: u64, data: &[u8]) -> Result<TimeSyncEvent, IcError> {
        Ok(match self.ic.receive(trans_id, data)? {
            Answer::Negotiated(negotiated) => TimeSyncEvent::Negotiated(negotiated),
            Answer::Reply { status, .. } => TimeSyncEvent::Acknowledged { status },
        })
    }
}
