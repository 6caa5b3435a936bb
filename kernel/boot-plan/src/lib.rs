//! The boot plan: the compact, versioned, binary form of a deployment
//! manifest that the kernel reads from a Multiboot module.
//!
//! The kernel never parses TOML. On the host, `tessera-manifest` validates a
//! manifest (`boot/deployments/*.toml`) and compiles it with `encode()`
//! (feature `encode`) into the bytes described here; xtask passes them to
//! GRUB as a module. At boot the kernel calls [`BootPlan::parse`], which
//! treats the bytes as untrusted input: any byte string yields either a
//! [`BootPlan`] whose every index, name, slot and limit has been checked, or a
//! [`PlanError`] — never a panic, never an out-of-bounds access.
//!
//! # Modules
//!
//! The plan is Multiboot module [`PLAN_MODULE`] (0, module string
//! [`PLAN_MODULE_NAME`]). Each record of the image section names the module
//! index that holds that component image; xtask passes the images in the
//! order of that section, so image `i` is module `i + 1`. The header says how
//! many modules the deployment expects in total (`module_count`), so the
//! kernel can refuse a boot whose loader passed a different number.
//!
//! # Format, version 1
//!
//! All integers are little-endian. Every record is a fixed-size `repr(C)`
//! struct of byte-aligned fields (see [`layout`]), so the plan can be read in
//! place from any address. Names are 32-byte fields holding 1 to 31 bytes of
//! `[a-z][a-z0-9-]*` followed by NUL padding ([`is_valid_name`]).
//!
//! Header ([`layout::Header`], 96 bytes):
//!
//! | offset | size | field | meaning |
//! | ---: | ---: | --- | --- |
//! | 0 | 4 | `magic` | `b"TSBP"` ([`MAGIC`]) |
//! | 4 | 2 | `version` | [`FORMAT_VERSION`] (1) |
//! | 6 | 2 | `header_size` | 96 ([`HEADER_SIZE`]) |
//! | 8 | 4 | `total_size` | length of the whole plan; the module must be exactly this long |
//! | 12 | 4 | `checksum` | FNV-1a (32-bit) of bytes `16..total_size` ([`checksum`]) |
//! | 16 | 4 | `flags` | reserved, 0 |
//! | 20 | 2 | `cpu_count` | CPUs the deployment expects, `1..=64` |
//! | 22 | 2 | `module_count` | Multiboot modules expected, the plan included, `1..=32` |
//! | 24 | 8 | `component_memory` | budget for all component quotas together, bytes |
//! | 32 | 32 | `name` | deployment name |
//! | 64 | 8 | `images` | section: `offset: u32`, `count: u32` |
//! | 72 | 8 | `components` | section |
//! | 80 | 8 | `endpoints` | section |
//! | 88 | 8 | `grants` | section |
//!
//! Sections appear in that order, each at an 8-aligned offset at or after the
//! end of the previous one (the first at or after the header), and end within
//! `total_size`. Bytes between sections are ignored (but checksummed).
//!
//! Image record ([`layout::ImageRecord`], 40 bytes):
//!
//! | offset | size | field | meaning |
//! | ---: | ---: | --- | --- |
//! | 0 | 32 | `name` | image name (the crate under `components/`, also the module string) |
//! | 32 | 2 | `module` | Multiboot module index, `1..module_count`, distinct per image |
//! | 34 | 6 | reserved | 0 |
//!
//! Component record ([`layout::ComponentRecord`], 56 bytes):
//!
//! | offset | size | field | meaning |
//! | ---: | ---: | --- | --- |
//! | 0 | 32 | `name` | component name, unique |
//! | 32 | 2 | `image` | index into the image section |
//! | 34 | 2 | `threads` | thread count, `1..=`[`MAX_THREADS`] |
//! | 36 | 1 | `priority` | 0 lowest .. 255 highest |
//! | 37 | 3 | reserved | 0 |
//! | 40 | 8 | `memory` | memory quota in bytes: non-zero, a multiple of [`PAGE_SIZE`] |
//! | 48 | 8 | `affinity` | CPU mask: bit `n` = may run on CPU `n`; non-zero, within `cpu_count` |
//!
//! Endpoint record ([`layout::EndpointRecord`], 40 bytes):
//!
//! | offset | size | field | meaning |
//! | ---: | ---: | --- | --- |
//! | 0 | 32 | `name` | endpoint name, unique per owner |
//! | 32 | 2 | `owner` | index of the component that serves it |
//! | 34 | 1 | `kind` | [`EndpointKind`]: 0 IPC endpoint, 1 notification |
//! | 35 | 1 | `slot` | slot of the owner's receive (IPC) or wait (notification) capability |
//! | 36 | 4 | reserved | 0 |
//!
//! Grant record ([`layout::GrantRecord`], 16 bytes): a capability the kernel
//! puts into a component's capability space before it starts.
//!
//! | offset | size | field | meaning |
//! | ---: | ---: | --- | --- |
//! | 0 | 2 | `holder` | index of the component that receives the capability |
//! | 2 | 1 | `kind` | [`GrantKind`]: 1 call, 2 signal, 3 console, 4 verdict |
//! | 3 | 1 | `slot` | slot in the holder's capability space |
//! | 4 | 2 | `target` | endpoint index; [`NO_TARGET`] (`0xffff`) for console and verdict |
//! | 6 | 2 | `rights` | [`Rights`] bits (0 for verdict) |
//! | 8 | 8 | `badge` | badge the server sees on messages/signals through this capability (0 for console and verdict) |
//!
//! # What [`BootPlan::parse`] guarantees
//!
//! Besides the framing (magic, version, sizes, checksum, section bounds,
//! counts within [`MAX_IMAGES`], [`MAX_COMPONENTS`], [`MAX_ENDPOINTS`],
//! [`MAX_GRANTS`], reserved fields zero):
//!
//! - every name is valid; image and component names are unique, endpoint
//!   names are unique per owner;
//! - every index (image, module, owner, holder, target) is in range, and no
//!   two images share a module;
//! - the quotas are non-zero page multiples whose sum fits the budget; thread
//!   counts are `1..=MAX_THREADS`; affinities are non-empty subsets of the
//!   deployment's CPUs;
//! - capability slots: `0..=3` are the kernel-given ones ([`SLOT_DOMAIN`],
//!   [`SLOT_THREAD`], [`SLOT_CONSOLE`], [`SLOT_VERDICT`]); a console grant sits
//!   in [`SLOT_CONSOLE`], a verdict grant in [`SLOT_VERDICT`], every other
//!   capability in
//!   `FIRST_FREE_SLOT..CSPACE_SLOTS`, and no component has two capabilities
//!   in one slot (endpoint receive slots and grant slots together);
//! - a grant's kind matches its target (call → IPC endpoint, signal →
//!   notification, console and verdict → none), its rights are non-empty and
//!   allowed for its kind (a verdict grant's rights are 0), and it does not
//!   target an endpoint of its own holder;
//! - at most one grant in the whole plan is a verdict grant;
//! - calls respect priorities (a holder's priority is at most the endpoint
//!   owner's) and the call graph between components has no cycle, so a
//!   chain of synchronous calls always ends.

#![no_std]
#![forbid(unsafe_code)]

#[cfg(any(test, feature = "encode"))]
extern crate alloc;
#[cfg(test)]
extern crate std;

#[cfg(any(test, feature = "encode"))]
mod encode;
mod error;
pub mod layout;
mod parse;
#[cfg(test)]
mod tests;

#[cfg(any(test, feature = "encode"))]
pub use encode::{ComponentModel, EndpointModel, GrantModel, ImageModel, PlanModel, encode};
pub use error::{PlanError, Section};
pub use parse::{BootPlan, Component, Endpoint, Grant, Image};

/// First bytes of every plan.
pub const MAGIC: [u8; 4] = *b"TSBP";
/// The format version this crate reads and writes.
pub const FORMAT_VERSION: u16 = 1;
/// Size of [`layout::Header`] in format version 1.
pub const HEADER_SIZE: usize = 96;
/// The checksum covers the plan from this offset (just after the checksum field) to its end.
pub const CHECKSUM_START: usize = 16;

/// Multiboot module index of the plan itself.
pub const PLAN_MODULE: u16 = 0;
/// Module string (file name under `/boot/`) xtask gives the plan. It cannot
/// collide with an image name, which never contains a dot.
pub const PLAN_MODULE_NAME: &str = "boot-plan.tsbp";

/// Longest name, in bytes (the 32-byte field keeps a terminating NUL).
pub const MAX_NAME_LEN: usize = 31;
/// Size of a name field.
pub const NAME_FIELD: usize = 32;

/// Most CPUs a deployment can name (the affinity mask is a `u64`).
pub const MAX_CPUS: u16 = 64;
/// Most Multiboot modules a plan may expect, the plan included (the kernel's
/// boot information keeps at most this many).
pub const MAX_MODULES: u16 = 32;
/// Most images (every module but the plan).
pub const MAX_IMAGES: u32 = MAX_MODULES as u32 - 1;
/// Most components (the call-cycle check uses one `u64` bitmap per component).
pub const MAX_COMPONENTS: u32 = 64;
/// Most endpoints, over all components.
pub const MAX_ENDPOINTS: u32 = 256;
/// Most grants, over all components.
pub const MAX_GRANTS: u32 = 1024;
/// Most threads per component.
pub const MAX_THREADS: u16 = 16;
/// Memory quotas are counted in pages of this size.
pub const PAGE_SIZE: u64 = 4096;

/// Capability slots per component (capability space size).
pub const CSPACE_SLOTS: u8 = 64;
/// Slot of the component's own protection domain (always given by the kernel).
pub const SLOT_DOMAIN: u8 = 0;
/// Slot of the component's initial thread (always given by the kernel).
pub const SLOT_THREAD: u8 = 1;
/// Slot of the console capability, if the plan grants one (else empty).
pub const SLOT_CONSOLE: u8 = 2;
/// Slot of the verdict capability, if the plan grants one (else empty): it
/// ends the deployment with pass or fail. At most one component has it.
pub const SLOT_VERDICT: u8 = 3;
/// First slot the plan may fill with endpoints and connections.
pub const FIRST_FREE_SLOT: u8 = 4;

/// `target` of a grant that names no endpoint (console).
pub const NO_TARGET: u16 = 0xffff;

/// What an endpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EndpointKind {
    /// A synchronous IPC endpoint: clients call, the owner receives and replies.
    Ipc = 0,
    /// A notification: clients signal (asynchronously, never blocking), the owner waits.
    Notification = 1,
}

impl EndpointKind {
    /// Decodes the `kind` byte of an endpoint record.
    pub const fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::Ipc),
            1 => Some(Self::Notification),
            _ => None,
        }
    }
}

/// What a granted capability is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum GrantKind {
    /// May call an IPC endpoint ([`Rights::CALL`], optionally [`Rights::GRANT`]).
    Call = 1,
    /// May signal a notification ([`Rights::SIGNAL`]).
    Signal = 2,
    /// May write to the kernel console ([`Rights::WRITE`]); always in [`SLOT_CONSOLE`].
    Console = 3,
    /// May end the deployment with a verdict (no rights: [`Rights::NONE`]);
    /// always in [`SLOT_VERDICT`], and at most one per plan.
    Verdict = 4,
}

impl GrantKind {
    /// Decodes the `kind` byte of a grant record.
    pub const fn from_u8(value: u8) -> Option<Self> {
        match value {
            1 => Some(Self::Call),
            2 => Some(Self::Signal),
            3 => Some(Self::Console),
            4 => Some(Self::Verdict),
            _ => None,
        }
    }

    /// The rights a capability of this kind may carry.
    pub const fn allowed_rights(self) -> Rights {
        match self {
            Self::Call => Rights(Rights::CALL.0 | Rights::GRANT.0),
            Self::Signal => Rights::SIGNAL,
            Self::Console => Rights::WRITE,
            Self::Verdict => Rights::NONE,
        }
    }

    /// Whether `rights` suit a grant of this kind: a non-empty subset of
    /// [`Self::allowed_rights`], or exactly none for a verdict grant.
    pub const fn rights_valid(self, rights: Rights) -> bool {
        match self {
            Self::Verdict => rights.is_empty(),
            _ => !rights.is_empty() && self.allowed_rights().contains(rights),
        }
    }

    /// The slot a grant of this kind must sit in, for the kinds whose slot
    /// is fixed (console and verdict); `None` for the others.
    pub const fn fixed_slot(self) -> Option<u8> {
        match self {
            Self::Console => Some(SLOT_CONSOLE),
            Self::Verdict => Some(SLOT_VERDICT),
            Self::Call | Self::Signal => None,
        }
    }

    /// The endpoint kind this grant must target (`None`: no target).
    pub const fn target_kind(self) -> Option<EndpointKind> {
        match self {
            Self::Call => Some(EndpointKind::Ipc),
            Self::Signal => Some(EndpointKind::Notification),
            Self::Console | Self::Verdict => None,
        }
    }
}

/// Rights bits of a granted capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rights(pub u16);

impl Rights {
    /// No rights.
    pub const NONE: Self = Self(0);
    /// Call the endpoint (send a message and wait for the reply).
    pub const CALL: Self = Self(1 << 0);
    /// Pass capabilities along with a call.
    pub const GRANT: Self = Self(1 << 1);
    /// Signal the notification.
    pub const SIGNAL: Self = Self(1 << 2);
    /// Write to the console.
    pub const WRITE: Self = Self(1 << 3);

    /// The raw bits.
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// Whether every bit of `other` is set in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets of bits.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// Whether `name` is a valid component, endpoint, image or deployment name:
/// 1 to [`MAX_NAME_LEN`] bytes of `[a-z][a-z0-9-]*`.
pub const fn is_valid_name(name: &[u8]) -> bool {
    if name.is_empty() || name.len() > MAX_NAME_LEN || !name[0].is_ascii_lowercase() {
        return false;
    }
    let mut i = 1;
    while i < name.len() {
        let b = name[i];
        if !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return false;
        }
        i += 1;
    }
    true
}

/// FNV-1a, 32-bit: the plan's checksum (over `plan[CHECKSUM_START..total_size]`).
///
/// It detects corruption (a truncated or damaged module, a stale file), not
/// tampering: whoever can change the module can change the checksum.
pub const fn checksum(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u32;
        hash = hash.wrapping_mul(0x0100_0193);
        i += 1;
    }
    hash
}
