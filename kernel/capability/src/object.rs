//! Kernel objects as capabilities name them.
//!
//! The table is generic over the object reference ([`KernelObject`]); the
//! kernel uses [`Object`], whose ids carry generations so a capability to a
//! destroyed object never names the object that reuses its slot.

use core::fmt;

use crate::id::{DomainId, EndpointId, MemoryId, NotificationId, PartitionId, ThreadId, VpId};

/// The kind of a kernel object: what a lookup checks a capability against.
/// The discriminants are ABI (system calls name the expected kind).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum ObjectKind {
    /// Protection domain (address space plus capability space).
    Domain = 0,
    /// Thread.
    Thread = 1,
    /// IPC endpoint.
    Endpoint = 2,
    /// Notification (asynchronous signal bits).
    Notification = 3,
    /// Memory region.
    Memory = 4,
    /// The kernel console (debug output).
    Console = 5,
    /// Partition (guest).
    Partition = 6,
    /// Virtual processor.
    Vp = 7,
    /// The deployment's verdict: ends a test deployment with pass or fail.
    Verdict = 8,
}

impl ObjectKind {
    /// Every kind, in discriminant order.
    pub const ALL: [Self; 9] = [
        Self::Domain,
        Self::Thread,
        Self::Endpoint,
        Self::Notification,
        Self::Memory,
        Self::Console,
        Self::Partition,
        Self::Vp,
        Self::Verdict,
    ];
}

/// What the capability table needs from an object reference.
pub trait KernelObject: Copy + Eq + fmt::Debug {
    /// The object's kind.
    fn kind(&self) -> ObjectKind;
}

/// The kernel's object reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Object {
    /// A protection domain.
    Domain(DomainId),
    /// A thread.
    Thread(ThreadId),
    /// An IPC endpoint (generation-numbered: see `tessera_ipc`).
    Endpoint(EndpointId),
    /// A notification.
    Notification(NotificationId),
    /// A memory region.
    Memory(MemoryId),
    /// The kernel console.
    Console,
    /// A partition.
    Partition(PartitionId),
    /// A virtual processor.
    Vp(VpId),
    /// The deployment's verdict.
    Verdict,
}

impl KernelObject for Object {
    fn kind(&self) -> ObjectKind {
        match self {
            Self::Domain(_) => ObjectKind::Domain,
            Self::Thread(_) => ObjectKind::Thread,
            Self::Endpoint(_) => ObjectKind::Endpoint,
            Self::Notification(_) => ObjectKind::Notification,
            Self::Memory(_) => ObjectKind::Memory,
            Self::Console => ObjectKind::Console,
            Self::Partition(_) => ObjectKind::Partition,
            Self::Vp(_) => ObjectKind::Vp,
            Self::Verdict => ObjectKind::Verdict,
        }
    }
}
