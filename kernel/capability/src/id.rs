//! Typed, generation-numbered object ids.
//!
//! Every kernel object lives in an arena slot; its id is the slot index plus
//! the slot's *generation*. When an object is destroyed and its slot reused,
//! the generation changes, so an id kept from before never names the new
//! object: lookups with it fail instead of aliasing. A slot whose generation
//! would wrap is retired for good (see [`crate::arena::Arena`]). The ids
//! implement [`SlotId`], so the kernel keeps each kind in a typed table.

use core::fmt;

pub use tessera_slots::RawId;
use tessera_slots::SlotId;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub RawId);

        impl $name {
            /// The id of the object in slot `index` at `generation`.
            #[must_use]
            pub const fn new(index: u32, generation: u32) -> Self {
                Self(RawId::new(index, generation))
            }

            /// The untyped id.
            #[must_use]
            pub const fn raw(self) -> RawId {
                self.0
            }

            /// The arena slot.
            #[must_use]
            pub const fn index(self) -> u32 {
                self.0.index()
            }

            /// The generation of the slot when this id was handed out.
            #[must_use]
            pub const fn generation(self) -> u32 {
                self.0.generation()
            }
        }

        impl SlotId for $name {
            fn from_raw(raw: RawId) -> Self {
                Self(raw)
            }

            fn to_raw(self) -> RawId {
                self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({:?})"), self.0)
            }
        }
    };
}

typed_id!(
    /// A protection domain: an address space plus a capability space.
    DomainId
);
typed_id!(
    /// A thread.
    ThreadId
);
typed_id!(
    /// An IPC endpoint. Its generation changes when its server restarts
    /// (`tessera_ipc`), so callers holding the old id see `StaleEndpoint`.
    EndpointId
);
typed_id!(
    /// A notification object (asynchronous signal bits).
    NotificationId
);
typed_id!(
    /// A memory region.
    MemoryId
);
typed_id!(
    /// A partition (guest). Reserved for the partition manager's issue.
    PartitionId
);
typed_id!(
    /// A virtual processor of a partition. Reserved likewise.
    VpId
);
typed_id!(
    /// A capability space, allocated by [`crate::CapTable`].
    CSpaceId
);
