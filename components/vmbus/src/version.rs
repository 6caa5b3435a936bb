//! VMBus protocol versions, the connections and SINT a guest reaches the
//! host on, and what each version changes.
//!
//! A version is `major << 16 | minor` (Linux `include/linux/hyperv.h`,
//! `VERSION_*`). Linux 6.1 tries, newest first, 5.3, 5.2, 5.1, 5.0, 4.1,
//! 4.0, 3.0 and 2.4 (`drivers/hv/connection.c`, `vmbus_versions`); 0.13
//! (Windows Server 2008) and 1.1 (Windows 7) are "no longer supported in
//! Linux guests". Tessera accepts exactly Linux 6.1's list: the two older
//! versions need the shared interrupt page for host→guest signals, which
//! no guest Tessera targets uses.

use core::fmt;

/// A VMBus protocol version.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u32);

impl Version {
    /// 0.13, Windows Server 2008 (not accepted).
    pub const WS2008: Self = Self::new(0, 13);
    /// 1.1, Windows 7 / Server 2008 R2 (not accepted).
    pub const WIN7: Self = Self::new(1, 1);
    /// 2.4, Windows 8 / Server 2012: the oldest Linux 6.1 offers. Channels
    /// signal with dedicated event flags; OPENCHANNEL's `target_vp` is
    /// honoured.
    pub const WIN8: Self = Self::new(2, 4);
    /// 3.0, Windows 8.1 / Server 2012 R2: INITIATE_CONTACT's `target_vcpu`
    /// is honoured (messages may go to a VP other than 0), and UNLOAD
    /// reconnects ("Pre-Win2012R2 hosts don't support reconnect").
    pub const WIN8_1: Self = Self::new(3, 0);
    /// 4.0, Windows 10: hvsock connect requests (TL_CONNECT_REQUEST).
    pub const WIN10: Self = Self::new(4, 0);
    /// 4.1, Windows 10 RS3: MODIFYCHANNEL.
    pub const WIN10_V4_1: Self = Self::new(4, 1);
    /// 5.0: INITIATE_CONTACT goes to connection 4 and names the guest's
    /// message SINT; VERSION_RESPONSE names the connection for the rest.
    pub const WIN10_V5: Self = Self::new(5, 0);
    /// 5.1, Windows 10 RS4.
    pub const WIN10_V5_1: Self = Self::new(5, 1);
    /// 5.2, Windows Server 2019 (RS5): the oldest an isolated guest accepts.
    pub const WIN10_V5_2: Self = Self::new(5, 2);
    /// 5.3, Windows Server 2022: the host acknowledges MODIFYCHANNEL with
    /// MODIFYCHANNEL_RESPONSE.
    pub const WIN10_V5_3: Self = Self::new(5, 3);

    /// `major.minor`.
    #[must_use]
    pub const fn new(major: u16, minor: u16) -> Self {
        Self((major as u32) << 16 | minor as u32)
    }

    /// The major number.
    #[must_use]
    pub const fn major(self) -> u16 {
        (self.0 >> 16) as u16
    }

    /// The minor number.
    #[must_use]
    pub const fn minor(self) -> u16 {
        self.0 as u16
    }

    /// Whether INITIATE_CONTACT's `target_vcpu` says where messages go
    /// (3.0 on; before, VP 0).
    #[must_use]
    pub const fn honours_target_vcpu(self) -> bool {
        self.0 >= Self::WIN8_1.0
    }

    /// Whether INITIATE_CONTACT carries the message SINT in place of the
    /// interrupt page, and VERSION_RESPONSE the message connection ID
    /// (5.0 on).
    #[must_use]
    pub const fn names_message_connection(self) -> bool {
        self.0 >= Self::WIN10_V5.0
    }

    /// Whether the guest may send TL_CONNECT_REQUEST (4.0 on).
    #[must_use]
    pub const fn has_hvsock(self) -> bool {
        self.0 >= Self::WIN10.0
    }

    /// Whether the guest may send MODIFYCHANNEL (4.1 on).
    #[must_use]
    pub const fn has_modify_channel(self) -> bool {
        self.0 >= Self::WIN10_V4_1.0
    }

    /// Whether the host answers MODIFYCHANNEL (5.3 on; Linux's
    /// `vmbus_send_modifychannel` waits for the answer only then).
    #[must_use]
    pub const fn acknowledges_modify_channel(self) -> bool {
        self.0 >= Self::WIN10_V5_3.0
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major(), self.minor())
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The versions Linux 6.1 offers, in the order it offers them.
pub const LINUX_6_1_VERSIONS: [Version; 8] = [
    Version::WIN10_V5_3,
    Version::WIN10_V5_2,
    Version::WIN10_V5_1,
    Version::WIN10_V5,
    Version::WIN10_V4_1,
    Version::WIN10,
    Version::WIN8_1,
    Version::WIN8,
];

/// The versions Tessera's host accepts (newest first).
pub const SUPPORTED_VERSIONS: &[Version] = &LINUX_6_1_VERSIONS;

/// The connection a guest posts INITIATE_CONTACT on for versions before
/// 5.0, and every later message on with any version
/// (`VMBUS_MESSAGE_CONNECTION_ID`; the VERSION_RESPONSE of 5.0 on names it).
pub const MESSAGE_CONNECTION_ID: u32 = 1;

/// The connection a guest posts INITIATE_CONTACT on for 5.0 and later
/// (`VMBUS_MESSAGE_CONNECTION_ID_4`).
pub const MESSAGE_CONNECTION_ID_4: u32 = 4;

/// The SINT VMBus messages and channel event flags arrive on
/// (`VMBUS_MESSAGE_SINT`); from 5.0 the guest names it in INITIATE_CONTACT,
/// and Linux names this one.
pub const VMBUS_SINT: u8 = 2;

/// The `HV_MESSAGE_TYPE` of every VMBus channel message, both ways (Linux
/// `vmbus_post_msg` posts type 1; any non-zero type fills a SIM slot).
pub const VMBUS_MESSAGE_TYPE: u32 = 1;
