//! Capabilities for the Tessera microkernel: capability spaces, the
//! derivation tree, rights, badges and kernel-memory quotas.
//!
//! Pure logic with no hardware access, tested on the host. The kernel wraps
//! one [`CapTable`] (behind its lock) and calls it from every system call.
//! The key words MUST, MUST NOT, SHOULD and MAY are used as in RFC 2119
//! where a statement is a promise of the component ABI.
//!
//! # Model
//!
//! - A **capability** names a kernel object ([`Object`]: domain, thread,
//!   endpoint, notification, memory region, console, partition, VP) and the
//!   [`Rights`] held on it; an endpoint capability MAY carry a [`Badge`].
//!   Object ids carry a generation ([`id`]), so a capability never names an
//!   object that reused a destroyed one's slot.
//! - A **capability space** ([`CSpaceId`]) belongs to one protection domain:
//!   a fixed number of slots addressed by a [`Selector`]; lookups are O(1).
//! - The **derivation tree** (CDT) links every capability to the one it was
//!   derived or granted from, across all spaces. Object creation makes a
//!   root.
//!
//! # Operations and their promises
//!
//! - Every system call MUST resolve its capabilities with
//!   [`CapTable::lookup`], which checks kind and rights; a wrong capability
//!   is a [`CapError`] (a stable code), never a kernel fault. A failed
//!   operation changes nothing.
//! - **Derive** ([`CapTable::derive`], needs `DERIVE`) and **grant**
//!   ([`CapTable::grant`], needs `GRANT`; how IPC moves capabilities) make
//!   a child whose rights are a subset of the parent's: rights are never
//!   amplified. A right that does not apply to the kind is refused
//!   ([`rights`] has the table). A badge MAY be set once, on an unbadged
//!   endpoint capability, while deriving; children inherit it and it never
//!   changes. **Transfer** ([`CapTable::transfer`], needs `GRANT`) moves a
//!   capability and keeps its place in the tree.
//! - **Revoke** ([`CapTable::revoke`], needs `REVOKE`) deletes every
//!   descendant wherever it was granted and keeps the capability itself.
//!   It is iterative (no recursion) and can be cut into bounded steps
//!   ([`CapTable::revoke_bounded`]). The table is global, so a revocation
//!   is seen by every CPU once it returns; what the kernel built from a
//!   deleted capability (mappings, TLB entries) the kernel MUST tear down
//!   on every CPU before the system call returns, driven by the
//!   [`Removal`] reports.
//! - **Delete** ([`CapTable::delete`]) removes one capability. Decision:
//!   its children are *kept* and re-parented to its parent (as in seL4,
//!   where deletion does not revoke), so a domain dropping an intermediate
//!   capability does not silently take others' capabilities with it, and
//!   any ancestor's revoke still reaches them. A component that wants its
//!   grants gone MUST revoke before it deletes.
//! - **Delete all** ([`CapTable::delete_all`], [`CapTable::destroy_cspace`])
//!   empties a faulted or destroyed domain's space. When the last
//!   capability to an object goes, [`Removal::ObjectReclaimed`] tells the
//!   kernel to destroy it. Holders that can never act and are named only
//!   by each other are invisible to that count: [`mod@unreachable`] finds them.
//!
//! # Kernel memory
//!
//! Each space has a [`Quota`] from the manifest. Its slots
//! ([`CapTable::slot_cost`] bytes each) are charged when it is created, each
//! object created into it is charged its size (refunded when reclaimed), and
//! the kernel charges other per-domain memory with [`CapTable::charge`]. So
//! no component can exhaust the kernel, and once a space exists, no table
//! operation allocates.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

mod accounting;
/// The arena the tables use ([`tessera_slots::arena`]).
pub use tessera_slots::arena;
mod audit;
mod cap;
mod cdt;
mod error;
pub mod id;
mod inspect;
mod object;
mod quota;
mod remove;
pub mod rights;
mod table;
pub mod unreachable;

#[cfg(test)]
mod tests;

pub use accounting::FRAME_BYTES;
pub use cap::{Badge, Capability, Removal, RevokeProgress, Selector, SlotAddr};
pub use error::CapError;
pub use id::{
    CSpaceId, DomainId, EndpointId, MemoryId, NotificationId, PartitionId, RawId, ThreadId, VpId,
};
pub use object::{KernelObject, Object, ObjectKind};
pub use quota::Quota;
pub use rights::Rights;
pub use table::CapTable;
