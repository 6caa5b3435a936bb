//! Integration services (ICs): small devices each offered as a named-pipe
//! channel, over which the host sends requests and the guest answers.
//!
//! Every IC message is one in-band packet whose data is a pipe header
//! (`struct vmbuspipe_hdr`: type 1, the length of the rest), an IC header
//! (`struct icmsg_hdr`, [`IcHeader`]) and the message. The guest answers
//! in place: same length, same transaction, the header's flags set to
//! transaction and response, and its status (Linux `hv_util.c`). The first
//! exchange on a channel is version negotiation ([`negotiate`]): the host
//! lists the framework and message versions it speaks, the guest picks the
//! first of its own lists (newest first) that the host offered.
//!
//! | IC | interface GUID | versions the host offers | Linux 6.1 picks | module |
//! | --- | --- | --- | --- | --- |
//! | framework | — | 3.0, 1.0 | 3.0 | [`negotiate`] |
//! | heartbeat | `57164f39-9115-4e78-ab55-382f3bd5422d` | 3.0, 1.0 | 3.0 | [`heartbeat`] |
//! | shutdown | `0e0b6031-5213-4934-818b-38d90ced39db` | 3.2, 3.1, 3.0, 1.0 | 3.2 | [`shutdown`] |
//! | time sync | `9527e630-d0ae-497b-adce-e80ab0175caf` | 4.0, 3.0, 1.0 | 4.0 | [`timesync`] |
//!
//! Each IC is a host state machine over packet data ([`host::IcHost`]): it
//! makes the next request, takes the guest's answer, and reports what
//! happened. The component serving the IC moves the data through the
//! channel's rings ([`crate::ring`]).

pub mod heartbeat;
pub mod host;
pub mod negotiate;
pub mod shutdown;
pub mod timesync;

use core::fmt;

use zerocopy::byteorder::little_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// `struct vmbuspipe_hdr` (8 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct PipeHeader {
    /// The pipe packet type ([`PIPE_PACKET_DATA`]).
    pub flags: U32,
    /// The bytes after this header.
    pub msgsize: U32,
}

/// A pipe packet of data.
pub const PIPE_PACKET_DATA: u32 = 1;

/// `struct ic_version` (4 bytes).
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct IcVersion {
    /// The major number.
    pub major: U16,
    /// The minor number.
    pub minor: U16,
}

impl IcVersion {
    /// `major.minor`.
    #[must_use]
    pub const fn new(major: u16, minor: u16) -> Self {
        Self {
            major: U16::new(major),
            minor: U16::new(minor),
        }
    }
}

impl fmt::Debug for IcVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major.get(), self.minor.get())
    }
}

impl fmt::Display for IcVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

tessera_open_enum::open_enum! {
    name;
    /// `icmsgtype`.
    pub struct IcMessageType(u16);

    /// Version negotiation.
    NEGOTIATE = 0 => "ICMSGTYPE_NEGOTIATE",
    /// Heartbeat.
    HEARTBEAT = 1 => "ICMSGTYPE_HEARTBEAT",
    /// Key-value pairs.
    KVPEXCHANGE = 2 => "ICMSGTYPE_KVPEXCHANGE",
    /// Shutdown.
    SHUTDOWN = 3 => "ICMSGTYPE_SHUTDOWN",
    /// Time synchronisation.
    TIMESYNC = 4 => "ICMSGTYPE_TIMESYNC",
    /// Volume shadow copy.
    VSS = 5 => "ICMSGTYPE_VSS",
    /// File copy.
    FCOPY = 7 => "ICMSGTYPE_FCOPY",
}

/// `icflags`: a transaction (an answer is expected or given).
pub const ICMSGHDRFLAG_TRANSACTION: u8 = 1;
/// `icflags`: a request.
pub const ICMSGHDRFLAG_REQUEST: u8 = 2;
/// `icflags`: a response.
pub const ICMSGHDRFLAG_RESPONSE: u8 = 4;

/// `status`: success (`HV_S_OK`).
pub const HV_S_OK: u32 = 0;
/// `status`: failure (`HV_E_FAIL`).
pub const HV_E_FAIL: u32 = 0x8000_4005;

/// `struct icmsg_hdr` (20 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct IcHeader {
    /// The framework version in use.
    pub icverframe: IcVersion,
    /// The message type ([`IcMessageType`]).
    pub icmsgtype: U16,
    /// The message version in use.
    pub icvermsg: IcVersion,
    /// The message's size after this header.
    pub icmsgsize: U16,
    /// The answer's status.
    pub status: U32,
    /// A transaction number.
    pub ictransaction_id: u8,
    /// `ICMSGHDRFLAG_*`.
    pub icflags: u8,
    /// Zero.
    pub reserved: [u8; 2],
}

/// Bytes before an IC message's body: pipe and IC headers (`ICMSG_HDR`).
pub const ICMSG_HDR: usize = size_of::<PipeHeader>() + size_of::<IcHeader>();

/// `struct icmsg_negotiate` without its versions (8 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct NegotiateHeader {
    /// Framework versions that follow.
    pub icframe_vercnt: U16,
    /// Message versions that follow the framework versions.
    pub icmsg_vercnt: U16,
    /// Zero.
    pub reserved: U32,
}

/// Framework 1.0 (`UTIL_WS2K8_FW_VERSION`).
pub const FRAMEWORK_1_0: IcVersion = IcVersion::new(1, 0);
/// Framework 3.0 (`UTIL_FW_VERSION`), the newest Linux 6.1 speaks.
pub const FRAMEWORK_3_0: IcVersion = IcVersion::new(3, 0);
/// The framework versions the host offers.
pub const FRAMEWORK_VERSIONS: &[IcVersion] = &[FRAMEWORK_3_0, FRAMEWORK_1_0];
