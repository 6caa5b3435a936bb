//! The on-disk records of format version 5, byte for byte.
//!
//! Every field is a byte array or a little-endian integer of alignment 1, so
//! the records can be viewed in place at any address. [`crate::BootPlan`]
//! checks them; prefer its decoded views ([`crate::Component`] and friends)
//! over reading these directly.

use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::NAME_FIELD;

/// Where a section starts and how many records it holds.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
)]
#[repr(C)]
pub struct SectionRef {
    /// Byte offset from the start of the plan.
    pub offset: U32,
    /// Number of records.
    pub count: U32,
}

/// The plan header (offset 0).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct Header {
    /// [`crate::MAGIC`].
    pub magic: [u8; 4],
    /// [`crate::FORMAT_VERSION`].
    pub version: U16,
    /// [`crate::HEADER_SIZE`].
    pub header_size: U16,
    /// Length of the whole plan in bytes.
    pub total_size: U32,
    /// [`crate::checksum`] of `plan[CHECKSUM_START..total_size]`.
    pub checksum: U32,
    /// Reserved, 0.
    pub flags: U32,
    /// CPUs the deployment expects.
    pub cpu_count: U16,
    /// Multiboot modules the deployment expects, the plan included.
    pub module_count: U16,
    /// Budget for all component quotas together, bytes.
    pub component_memory: U64,
    /// Deployment name, NUL-padded.
    pub name: [u8; NAME_FIELD],
    /// Image records ([`ImageRecord`]).
    pub images: SectionRef,
    /// Component records ([`ComponentRecord`]).
    pub components: SectionRef,
    /// Endpoint records ([`EndpointRecord`]).
    pub endpoints: SectionRef,
    /// Grant records ([`GrantRecord`]).
    pub grants: SectionRef,
    /// Partition records ([`PartitionRecord`]).
    pub partitions: SectionRef,
    /// Route records ([`RouteRecord`]).
    pub routes: SectionRef,
    /// Module records ([`ModuleRecord`]).
    pub modules: SectionRef,
    /// Strings (guest and module command lines): `count` bytes.
    pub strings: SectionRef,
}

/// A component image: which Multiboot module holds which ELF.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct ImageRecord {
    /// Image name, NUL-padded.
    pub name: [u8; NAME_FIELD],
    /// Multiboot module index.
    pub module: U16,
    /// [`crate::ImageKind`] as a byte.
    pub kind: u8,
    /// Reserved, 0.
    pub reserved: [u8; 5],
}

/// A component: a protection domain with its threads.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct ComponentRecord {
    /// Component name, NUL-padded.
    pub name: [u8; NAME_FIELD],
    /// Index into the image section.
    pub image: U16,
    /// Thread count.
    pub threads: U16,
    /// Scheduling priority, higher is more important.
    pub priority: u8,
    /// Reserved, 0.
    pub reserved: [u8; 3],
    /// Memory quota in bytes.
    pub memory: U64,
    /// CPU affinity mask.
    pub affinity: U64,
}

/// An endpoint or notification, served by one component.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct EndpointRecord {
    /// Endpoint name, NUL-padded.
    pub name: [u8; NAME_FIELD],
    /// Index of the owning component.
    pub owner: U16,
    /// [`crate::EndpointKind`] as a byte.
    pub kind: u8,
    /// Slot of the owner's receive/wait capability.
    pub slot: u8,
    /// Reserved, 0.
    pub reserved: [u8; 4],
}

/// A capability granted to a component at start.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct GrantRecord {
    /// Index of the component that holds the capability.
    pub holder: U16,
    /// [`crate::GrantKind`] as a byte.
    pub kind: u8,
    /// Slot in the holder's capability space.
    pub slot: u8,
    /// Endpoint index, or [`crate::NO_TARGET`].
    pub target: U16,
    /// [`crate::Rights`] bits.
    pub rights: U16,
    /// Badge the endpoint's owner sees.
    pub badge: U64,
}

/// A partition (guest) and what its manager needs to create it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct PartitionRecord {
    /// Partition name, NUL-padded.
    pub name: [u8; NAME_FIELD],
    /// Index of the managing component.
    pub manager: U16,
    /// Index into the image section (a guest image).
    pub image: U16,
    /// [`crate::GuestFormat`] as a byte.
    pub format: u8,
    /// [`crate::Expectation`] as a byte.
    pub expect: u8,
    /// Priority of the VP threads.
    pub priority: u8,
    /// Number of VPs.
    pub vp_count: u8,
    /// Guest memory in bytes.
    pub memory: U64,
    /// The partition's number (badge of its route capabilities).
    pub badge: U64,
    /// Command line: offset into the string section.
    pub cmdline_offset: U32,
    /// Command line: length in bytes.
    pub cmdline_len: U16,
    /// 1 if the partition has the Hv#1 interface of `hv1_words`, else 0.
    pub hv1: u8,
    /// Its VPs' local APIC ([`crate::manager::ApicKind`]).
    pub apic: u8,
    /// Host CPU of each VP (bytes from `vp_count` on are 0).
    pub vp_cpus: [u8; crate::MAX_VPS as usize],
    /// Its Hv#1 configuration (`PartitionSetHv1`'s words); 0 without.
    pub hv1_words: [U64; crate::HV1_WORDS],
    /// Its SynIC ports and connections (version 5, [`crate::synic`]).
    pub synic: crate::synic::SynicLinksRecord,
}

/// A route: exits of one kind of a partition to a component endpoint.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct RouteRecord {
    /// Index of the partition.
    pub partition: U16,
    /// Index of the endpoint that handles the exits.
    pub target: U16,
    /// Slot of the route capability in the manager's capability space.
    pub slot: u8,
    /// Reserved, 0.
    pub reserved: [u8; 3],
    /// `tessera_abi::vm::intercept` kind.
    pub kind: U64,
    /// The intercept's parameter word.
    pub parameter: U64,
    /// `tessera_abi::vm::state` register mask.
    pub state: U64,
    /// The ports whose writes the kernel posts ([`crate::route::posted_valid`]).
    pub posted: U32,
    /// Reserved, 0.
    pub reserved2: U32,
}

/// A boot module of a Multiboot partition.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct ModuleRecord {
    /// Index of the partition.
    pub partition: U16,
    /// Index into the image section (a guest module).
    pub image: U16,
    /// Command line: offset into the string section.
    pub cmdline_offset: U32,
    /// Command line: length in bytes.
    pub cmdline_len: U16,
    /// Reserved, 0.
    pub reserved: [u8; 6],
}

const _: () = assert!(size_of::<SectionRef>() == 8);
const _: () = assert!(size_of::<ModuleRecord>() == 16);
const _: () = assert!(core::mem::offset_of!(ModuleRecord, cmdline_offset) == 4);
const _: () = assert!(core::mem::offset_of!(ModuleRecord, cmdline_len) == 8);
const _: () = assert!(core::mem::offset_of!(Header, modules) == 112);
const _: () = assert!(size_of::<PartitionRecord>() == 360);
const _: () = assert!(size_of::<RouteRecord>() == 40);
const _: () = assert!(core::mem::offset_of!(Header, partitions) == 96);
const _: () = assert!(core::mem::offset_of!(Header, strings) == 120);
const _: () = assert!(core::mem::offset_of!(ImageRecord, kind) == 34);
const _: () = assert!(core::mem::offset_of!(PartitionRecord, memory) == 40);
const _: () = assert!(core::mem::offset_of!(PartitionRecord, cmdline_offset) == 56);
const _: () = assert!(core::mem::offset_of!(PartitionRecord, hv1) == 62);
const _: () = assert!(core::mem::offset_of!(PartitionRecord, vp_cpus) == 64);
const _: () = assert!(core::mem::offset_of!(PartitionRecord, hv1_words) == 128);
const _: () = assert!(core::mem::offset_of!(RouteRecord, kind) == 8);
const _: () = assert!(core::mem::offset_of!(RouteRecord, state) == 24);
const _: () = assert!(size_of::<Header>() == crate::HEADER_SIZE);
const _: () = assert!(size_of::<ImageRecord>() == 40);
const _: () = assert!(size_of::<ComponentRecord>() == 56);
const _: () = assert!(size_of::<EndpointRecord>() == 40);
const _: () = assert!(size_of::<GrantRecord>() == 16);
// Field offsets the documentation promises.
const _: () = assert!(core::mem::offset_of!(Header, checksum) + 4 == crate::CHECKSUM_START);
const _: () = assert!(core::mem::offset_of!(Header, component_memory) == 24);
const _: () = assert!(core::mem::offset_of!(Header, name) == 32);
const _: () = assert!(core::mem::offset_of!(Header, images) == 64);
const _: () = assert!(core::mem::offset_of!(Header, grants) == 88);
const _: () = assert!(core::mem::offset_of!(ComponentRecord, memory) == 40);
const _: () = assert!(core::mem::offset_of!(ComponentRecord, affinity) == 48);
const _: () = assert!(core::mem::offset_of!(EndpointRecord, slot) == 35);
const _: () = assert!(core::mem::offset_of!(GrantRecord, badge) == 8);

/// Record sizes, for offset arithmetic.
pub(crate) const IMAGE_SIZE: usize = size_of::<ImageRecord>();
pub(crate) const COMPONENT_SIZE: usize = size_of::<ComponentRecord>();
pub(crate) const ENDPOINT_SIZE: usize = size_of::<EndpointRecord>();
pub(crate) const GRANT_SIZE: usize = size_of::<GrantRecord>();
pub(crate) const PARTITION_SIZE: usize = size_of::<PartitionRecord>();
pub(crate) const ROUTE_SIZE: usize = size_of::<RouteRecord>();
pub(crate) const MODULE_SIZE: usize = size_of::<ModuleRecord>();
