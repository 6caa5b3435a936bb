//! Manager data: what init hands a partition manager component so that it
//! can create its partitions — for each partition its guest image (and,
//! for a Multiboot guest, its boot modules), how to load and run it, and
//! the capability slots of its routes.
//!
//! init writes it ([`encode_into`], no allocation: the guest images and
//! modules are copied piece by piece from init's boot modules into a memory
//! region)
//! into a memory region, and installs a READ-only capability to that region
//! in the manager's slot [`MANAGER_DATA_SLOT`], before the manager starts.
//! The manager maps the region (it learns the length from the first 16
//! bytes, [`ManagerData::total_size`]), and reads it with
//! [`ManagerData::parse`], which treats the bytes as untrusted: any byte
//! string gives a [`ManagerData`] whose every offset, name and value has
//! been checked, or a [`ManagerDataError`] — never a panic.
//!
//! For each route, init also installs in the manager's capability space, at
//! [`RouteSpec::slot`], a CALL capability to the route's endpoint, badged
//! with the partition's badge; the routes of one partition to one endpoint
//! share that slot. The manager passes the slot to
//! `PartitionInstallIntercept`.
//!
//! # Format, version 4
//!
//! Version 2 adds each partition's Hv#1 configuration (`hv1`,
//! `hv1_words`) to version 1. Version 3 adds the module section (the boot
//! modules of Multiboot partitions: [`ModuleSpecRecord`]), and each
//! partition record grows by 8 bytes (`modules_first`, `modules_count`).
//! Version 4 adds each partition's SynIC ports and connections
//! ([`crate::synic`], 168 bytes at offset 208).
//! Data of other versions is refused.
//!
//! Little-endian, fixed-size records of byte-aligned fields
//! ([`ManagerHeader`], [`PartitionSpecRecord`], [`RouteSpecRecord`],
//! [`ModuleSpecRecord`]).
//!
//! Header (64 bytes):
//!
//! | offset | size | field | meaning |
//! | ---: | ---: | --- | --- |
//! | 0 | 4 | `magic` | `b"TSMD"` ([`MAGIC`]) |
//! | 4 | 2 | `version` | [`FORMAT_VERSION`] (6) |
//! | 6 | 2 | `header_size` | 64 ([`HEADER_SIZE`]) |
//! | 8 | 4 | `total_size` | length of the data; bytes after it (the region's page padding) are ignored |
//! | 12 | 4 | `checksum` | FNV-1a (32-bit, [`crate::checksum`]) of bytes `16..total_size` |
//! | 16 | 4 | `flags` | reserved, 0 |
//! | 20 | 4 | reserved | 0 |
//! | 24 | 8 | `used_slots` | bit `s`: init fills the manager's slot `s` (kernel slots, endpoints, connections, routes, [`MANAGER_DATA_SLOT`]); the others are free for the manager's own use |
//! | 32 | 8 | `partitions` | section: `offset: u32`, `count: u32` (at most [`MAX_PARTITIONS_PER_MANAGER`]) |
//! | 40 | 8 | `routes` | section (at most [`crate::MAX_ROUTES`]) |
//! | 48 | 8 | `modules` | section (at most [`MAX_PARTITIONS_PER_MANAGER`] × [`MAX_GUEST_MODULES`]) |
//! | 56 | 8 | `blob` | section of bytes (`count` is a byte count): images, modules and command lines |
//!
//! Sections appear in that order, 8-aligned, each at or after the end of
//! the previous one, within `total_size`.
//!
//! Partition record (376 bytes):
//!
//! | offset | size | field | meaning |
//! | ---: | ---: | --- | --- |
//! | 0 | 32 | `name` | partition name (as plan names), unique |
//! | 32 | 8 | `memory` | guest RAM at GPA 0, bytes ([`crate::guest_memory_valid`]) |
//! | 40 | 8 | `badge` | the partition's number (from 1, non-zero, unique): the badge of its route capabilities |
//! | 48 | 4 | `image_offset` | guest image: offset into the blob |
//! | 52 | 4 | `image_len` | its length, non-zero |
//! | 56 | 4 | `cmdline_offset` | command line: offset into the blob |
//! | 60 | 2 | `cmdline_len` | its length ([`crate::guest_cmdline_valid`]; 0 for ELF64) |
//! | 62 | 2 | `routes_first` | its routes: index of the first in the route section |
//! | 64 | 2 | `routes_count` | how many (exactly one of them a lifecycle route) |
//! | 66 | 1 | `format` | [`GuestFormat`] |
//! | 67 | 1 | `expect` | [`Expectation`] |
//! | 68 | 1 | `priority` | priority of its VP threads |
//! | 69 | 1 | `vp_count` | `1..=`[`crate::MAX_VPS`] |
//! | 70 | 1 | `hv1` | 0: no Hv#1 interface; 1: give the partition the one `hv1_words` describe (`PartitionSetHv1`) |
//! | 71 | 1 | `apic` | [`ApicKind`]: 0 none, 1 xAPIC, 2 x2APIC offered (`PartitionCreate` word 5) |
//! | 72 | 64 | `vp_cpus` | host CPU of VP `i` in byte `i` (below 64); bytes from `vp_count` on are 0 |
//! | 136 | 64 | `hv1_words` | the [`crate::HV1_WORDS`] words of `PartitionSetHv1`, little-endian ([`crate::hv1_words_valid`]); all 0 when `hv1` is 0 |
//! | 200 | 2 | `modules_first` | its boot modules: index of the first in the module section |
//! | 202 | 2 | `modules_count` | how many, at most [`MAX_GUEST_MODULES`]; 0 for ELF64 |
//! | 204 | 4 | reserved | 0 |
//! | 208 | 168 | `synic` | its SynIC ports and connections ([`crate::synic::SynicLinksRecord`]) |
//!
//! Route record (32 bytes): `kind` (u64, `tessera_abi::vm::intercept`),
//! `parameter` (u64, [`crate::route`]), `state` (u64,
//! `tessera_abi::vm::state` mask), `slot` (u32, in
//! `FIRST_FREE_SLOT..MANAGER_DATA_SLOT` and in `used_slots`), `posted` (u32,
//! the ports whose writes the kernel posts: [`crate::route::posted_valid`]).
//! Within a partition no two routes of one kind overlap.
//!
//! Module record (16 bytes): `offset` (u32, the module's bytes: offset
//! into the blob), `len` (u32, may be 0), `cmdline_offset` (u32, into the
//! blob), `cmdline_len` (u16, [`crate::guest_cmdline_valid`]), reserved u16.
//!
//! The blob holds, for each partition in order, its image, its command
//! line, then for each of its modules the module's bytes and its command
//! line, each starting 8-aligned (zero padding between).

use core::fmt;

use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::layout::SectionRef;
use crate::parse::name_of;
use crate::{
    CHECKSUM_SEED, CHECKSUM_START, CSPACE_SLOTS, Expectation, FIRST_FREE_SLOT, GuestFormat,
    HV1_WORDS, MAX_CPUS, MAX_ROUTES, MAX_VPS, NAME_FIELD, checksum, checksum_update,
    guest_cmdline_valid, guest_memory_valid, hv1_words_valid, route,
};

pub use crate::{MAX_GUEST_MODULES, MAX_PARTITIONS_PER_MANAGER};

/// The manager's capability slot where init installs the manager data region.
pub const MANAGER_DATA_SLOT: u32 = 63;
/// First bytes of manager data.
pub const MAGIC: [u8; 4] = *b"TSMD";
/// The format version this module reads and writes.
pub const FORMAT_VERSION: u16 = 6;
/// Size of [`ManagerHeader`].
pub const HEADER_SIZE: usize = 64;

const _: () = assert!(MANAGER_DATA_SLOT == CSPACE_SLOTS as u32 - 1);

/// The header.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct ManagerHeader {
    /// [`MAGIC`].
    pub magic: [u8; 4],
    /// [`FORMAT_VERSION`].
    pub version: U16,
    /// [`HEADER_SIZE`].
    pub header_size: U16,
    /// Length of the data.
    pub total_size: U32,
    /// Checksum of `data[CHECKSUM_START..total_size]`.
    pub checksum: U32,
    /// Reserved, 0.
    pub flags: U32,
    /// Reserved, 0.
    pub reserved: U32,
    /// Slots of the manager init fills.
    pub used_slots: U64,
    /// [`PartitionSpecRecord`]s.
    pub partitions: SectionRef,
    /// [`RouteSpecRecord`]s.
    pub routes: SectionRef,
    /// [`ModuleSpecRecord`]s.
    pub modules: SectionRef,
    /// Images, modules and command lines (a byte count).
    pub blob: SectionRef,
}

/// One partition.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct PartitionSpecRecord {
    /// Name, NUL-padded.
    pub name: [u8; NAME_FIELD],
    /// Guest memory, bytes.
    pub memory: U64,
    /// Route badge.
    pub badge: U64,
    /// Image: offset into the blob.
    pub image_offset: U32,
    /// Image: length.
    pub image_len: U32,
    /// Command line: offset into the blob.
    pub cmdline_offset: U32,
    /// Command line: length.
    pub cmdline_len: U16,
    /// Index of its first route.
    pub routes_first: U16,
    /// Number of its routes.
    pub routes_count: U16,
    /// [`GuestFormat`].
    pub format: u8,
    /// [`Expectation`].
    pub expect: u8,
    /// VP priority.
    pub priority: u8,
    /// VP count.
    pub vp_count: u8,
    /// 1: the partition has the Hv#1 interface of `hv1_words`; 0: none.
    pub hv1: u8,
    /// [`ApicKind`].
    pub apic: u8,
    /// Host CPU per VP.
    pub vp_cpus: [u8; MAX_VPS as usize],
    /// The words of `PartitionSetHv1` (0 without Hv#1).
    pub hv1_words: [U64; HV1_WORDS],
    /// Index of its first module.
    pub modules_first: U16,
    /// Number of its modules.
    pub modules_count: U16,
    /// Reserved, 0.
    pub reserved2: [u8; 4],
    /// Its SynIC ports and connections (version 4, [`crate::synic`]).
    pub synic: crate::synic::SynicLinksRecord,
}

/// One boot module of a (Multiboot) partition.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct ModuleSpecRecord {
    /// The module's bytes: offset into the blob.
    pub offset: U32,
    /// Their length.
    pub len: U32,
    /// Command line: offset into the blob.
    pub cmdline_offset: U32,
    /// Command line: length.
    pub cmdline_len: U16,
    /// Reserved, 0.
    pub reserved: U16,
}

/// One route.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct RouteSpecRecord {
    /// Intercept kind.
    pub kind: U64,
    /// Parameter word.
    pub parameter: U64,
    /// Register mask.
    pub state: U64,
    /// Slot of the route capability.
    pub slot: U32,
    /// Posted ports (`tessera_abi::vm::posted`), 0 for none.
    pub posted: U32,
}

const _: () = assert!(size_of::<ManagerHeader>() == HEADER_SIZE);
const _: () = assert!(size_of::<PartitionSpecRecord>() == 376);
const _: () = assert!(core::mem::offset_of!(PartitionSpecRecord, synic) == 208);
const _: () = assert!(size_of::<RouteSpecRecord>() == 32);
const _: () = assert!(size_of::<ModuleSpecRecord>() == 16);
const _: () = assert!(core::mem::offset_of!(ManagerHeader, checksum) + 4 == CHECKSUM_START);
const _: () = assert!(core::mem::offset_of!(ManagerHeader, used_slots) == 24);
const _: () = assert!(core::mem::offset_of!(ManagerHeader, modules) == 48);
const _: () = assert!(core::mem::offset_of!(ManagerHeader, blob) == 56);
const _: () = assert!(core::mem::offset_of!(PartitionSpecRecord, image_offset) == 48);
const _: () = assert!(core::mem::offset_of!(PartitionSpecRecord, routes_first) == 62);
const _: () = assert!(core::mem::offset_of!(PartitionSpecRecord, format) == 66);
const _: () = assert!(core::mem::offset_of!(PartitionSpecRecord, hv1) == 70);
const _: () = assert!(core::mem::offset_of!(PartitionSpecRecord, vp_cpus) == 72);
const _: () = assert!(core::mem::offset_of!(PartitionSpecRecord, hv1_words) == 136);
const _: () = assert!(core::mem::offset_of!(PartitionSpecRecord, modules_first) == 200);
const _: () = assert!(core::mem::offset_of!(ModuleSpecRecord, cmdline_len) == 12);
const _: () = assert!(core::mem::offset_of!(RouteSpecRecord, slot) == 24);

const PARTITION_SIZE: usize = size_of::<PartitionSpecRecord>();
const ROUTE_SIZE: usize = size_of::<RouteSpecRecord>();
const MODULE_SIZE: usize = size_of::<ModuleSpecRecord>();
/// Most module records in manager data.
const MAX_MODULE_RECORDS: u32 = (MAX_PARTITIONS_PER_MANAGER * MAX_GUEST_MODULES) as u32;

/// A part of the manager data, for error reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataSection {
    /// The header.
    Header,
    /// The partition records.
    Partitions,
    /// The route records.
    Routes,
    /// The module records.
    Modules,
    /// The images, modules and command lines.
    Blob,
}

impl DataSection {
    /// Lower-case name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Header => "header",
            Self::Partitions => "partitions",
            Self::Routes => "routes",
            Self::Modules => "modules",
            Self::Blob => "blob",
        }
    }
}

/// Why [`ManagerData::parse`] refused the bytes. Record indices count from 0
/// within their section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManagerDataError {
    /// The input ends before `needed` bytes.
    Truncated { needed: usize, actual: usize },
    /// The input does not start with [`MAGIC`].
    BadMagic,
    /// The format version is not [`FORMAT_VERSION`].
    UnsupportedVersion { found: u16 },
    /// `header_size` is not [`HEADER_SIZE`].
    BadHeaderSize { found: u16 },
    /// The checksum does not match the contents.
    BadChecksum { stored: u32, computed: u32 },
    /// A reserved field (or `flags`) is not zero.
    ReservedNotZero { section: DataSection, index: u32 },
    /// A section is misaligned, overlaps the previous one, or ends past the data.
    BadSection { section: DataSection },
    /// A section holds more records than allowed.
    TooManyRecords {
        section: DataSection,
        count: u32,
        max: u32,
    },
    /// A partition name is invalid.
    BadName { index: u32 },
    /// A partition name repeats an earlier one.
    DuplicateName { index: u32 },
    /// A field is out of its range (offsets into the blob included).
    BadValue {
        section: DataSection,
        index: u32,
        field: &'static str,
    },
    /// Two routes of one kind of a partition overlap.
    RouteOverlap { partition: u32, route: u32 },
    /// A partition has no lifecycle route.
    NoLifecycleRoute { partition: u32 },
}

impl fmt::Display for ManagerDataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Truncated { needed, actual } => {
                write!(f, "manager data truncated: {actual} bytes, need {needed}")
            }
            Self::BadMagic => f.write_str("not manager data (bad magic)"),
            Self::UnsupportedVersion { found } => write!(
                f,
                "manager data format version {found}, this reads version {FORMAT_VERSION}"
            ),
            Self::BadHeaderSize { found } => {
                write!(
                    f,
                    "manager data header size {found}, expected {HEADER_SIZE}"
                )
            }
            Self::BadChecksum { stored, computed } => write!(
                f,
                "manager data checksum {stored:#010x} does not match contents ({computed:#010x})"
            ),
            Self::ReservedNotZero { section, index } => write!(
                f,
                "manager data {}[{index}]: reserved field not zero",
                section.name()
            ),
            Self::BadSection { section } => write!(
                f,
                "manager data {} section is misplaced or out of bounds",
                section.name()
            ),
            Self::TooManyRecords {
                section,
                count,
                max,
            } => write!(
                f,
                "manager data has {count} {}, at most {max} allowed",
                section.name()
            ),
            Self::BadName { index } => {
                write!(f, "manager data partitions[{index}]: invalid name")
            }
            Self::DuplicateName { index } => {
                write!(f, "manager data partitions[{index}]: duplicate name")
            }
            Self::BadValue {
                section,
                index,
                field,
            } => write!(
                f,
                "manager data {}[{index}]: invalid {field}",
                section.name()
            ),
            Self::RouteOverlap { partition, route } => write!(
                f,
                "manager data partitions[{partition}]: route {route} overlaps an earlier route of the same kind"
            ),
            Self::NoLifecycleRoute { partition } => write!(
                f,
                "manager data partitions[{partition}]: no lifecycle route"
            ),
        }
    }
}

impl core::error::Error for ManagerDataError {}

/// A route of a partition: install it with `PartitionInstallIntercept(kind,
/// parameter, slot, state)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouteSpec {
    /// `tessera_abi::vm::intercept` kind.
    pub kind: u64,
    /// Its parameter word ([`crate::route`]).
    pub parameter: u64,
    /// The manager's slot holding the CALL capability (badged with the
    /// partition's badge) to the route's endpoint.
    pub slot: u32,
    /// `tessera_abi::vm::state` mask of the registers each exit message carries.
    pub state: u64,
    /// The ports whose writes the kernel posts (`tessera_abi::vm::posted`:
    /// bit `n` is port `first + n`), for `PartitionInstallIntercept` word 4.
    pub posted: u64,
}

/// The host CPUs of a partition's VPs, VP 0 first.
#[derive(Debug, Clone)]
pub struct VpCpus<'a>(core::slice::Iter<'a, u8>);

impl PartialEq for VpCpus<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_slice() == other.0.as_slice()
    }
}

impl Eq for VpCpus<'_> {}

impl VpCpus<'_> {
    /// The CPU of VP `vp`.
    pub fn get(&self, vp: usize) -> Option<u32> {
        self.0.as_slice().get(vp).map(|&cpu| u32::from(cpu))
    }
}

impl Iterator for VpCpus<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        self.0.next().map(|&cpu| u32::from(cpu))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for VpCpus<'_> {}

/// The routes of a partition.
#[derive(Debug, Clone)]
pub struct Routes<'a>(core::slice::Iter<'a, RouteSpecRecord>);

impl PartialEq for Routes<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_slice() == other.0.as_slice()
    }
}

impl Eq for Routes<'_> {}

impl Iterator for Routes<'_> {
    type Item = RouteSpec;

    fn next(&mut self) -> Option<RouteSpec> {
        self.0.next().map(route_spec)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for Routes<'_> {}

/// A boot module of a Multiboot partition: its bytes and command line,
/// what QEMU's `-initrd "FILE ARGS"` gives the guest (the loader's
/// `Module`). [`PartitionInput::modules`] takes them, and
/// [`PartitionSpec::modules`] hands them out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModuleSpec<'a> {
    /// The module's contents.
    pub bytes: &'a [u8],
    /// Its command line: printable ASCII, at most
    /// [`crate::MAX_GUEST_CMDLINE`] bytes.
    pub cmdline: &'a str,
}

/// The boot modules of a partition, in order.
#[derive(Debug, Clone)]
pub struct Modules<'a> {
    records: core::slice::Iter<'a, ModuleSpecRecord>,
    blob: &'a [u8],
}

impl PartialEq for Modules<'_> {
    fn eq(&self, other: &Self) -> bool {
        Iterator::eq(self.clone(), other.clone())
    }
}

impl Eq for Modules<'_> {}

impl<'a> Iterator for Modules<'a> {
    type Item = ModuleSpec<'a>;

    fn next(&mut self) -> Option<ModuleSpec<'a>> {
        let record = self.records.next()?;
        Some(ModuleSpec {
            bytes: blob_range(self.blob, record.offset.get(), record.len.get()).unwrap_or(&[]),
            cmdline: blob_range(
                self.blob,
                record.cmdline_offset.get(),
                u32::from(record.cmdline_len.get()),
            )
            .and_then(|c| core::str::from_utf8(c).ok())
            .unwrap_or(""),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.records.size_hint()
    }
}

impl ExactSizeIterator for Modules<'_> {}

/// `len` bytes of `blob` from `offset`, if they lie in it.
fn blob_range(blob: &[u8], offset: u32, len: u32) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    blob.get(start..end)
}

fn route_spec(record: &RouteSpecRecord) -> RouteSpec {
    RouteSpec {
        kind: record.kind.get(),
        parameter: record.parameter.get(),
        slot: record.slot.get(),
        state: record.state.get(),
        posted: u64::from(record.posted.get()),
    }
}

/// A partition for the manager to create: what [`ManagerData::partitions`]
/// hands out, every field checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionSpec<'a> {
    /// Partition name (1 to 31 bytes of `[a-z][a-z0-9-]*`).
    pub name: &'a str,
    /// The guest image bytes (non-empty; not checked as an ELF or Multiboot
    /// image: the loader does that).
    pub image: &'a [u8],
    /// How to load it.
    pub format: GuestFormat,
    /// Command line for a Multiboot or Linux guest (printable ASCII; empty
    /// for ELF64).
    pub cmdline: &'a str,
    /// Guest RAM at GPA 0, bytes ([`crate::guest_memory_valid`]).
    pub memory_bytes: u64,
    /// Host CPU of each VP (`1..=64` of them, each below 64).
    pub vp_cpus: VpCpus<'a>,
    /// Priority of the VP threads.
    pub priority: u8,
    /// The partition's number, from 1, unique: the badge its route
    /// capabilities carry.
    pub badge: u64,
    /// How the test expects it to end.
    pub expect: Expectation,
    /// Its routes (exactly one lifecycle route among them).
    pub routes: Routes<'a>,
    /// Its Hv#1 configuration: the words to give `PartitionSetHv1`
    /// ([`crate::hv1_words_valid`]) before any VP starts; `None` for a
    /// partition without the Hv#1 interface (a plain x86 machine).
    pub hv1: Option<[u64; HV1_WORDS]>,
    /// Its VPs' local APIC.
    pub apic: ApicKind,
    /// Its boot modules, in order (at most [`GuestFormat::max_modules`]):
    /// a Multiboot guest's modules, or a Linux guest's initrd.
    pub modules: Modules<'a>,
    /// Its SynIC ports and connections, each checked on its own
    /// ([`crate::synic::SynicLinks::from_record`]).
    pub synic: crate::synic::SynicLinks,
}

/// Checked manager data, borrowing the bytes.
#[derive(Debug, Clone, Copy)]
pub struct ManagerData<'a> {
    header: &'a ManagerHeader,
    partitions: &'a [PartitionSpecRecord],
    routes: &'a [RouteSpecRecord],
    modules: &'a [ModuleSpecRecord],
    blob: &'a [u8],
}

fn idx(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

fn section<'a, T: FromBytes + KnownLayout + Immutable>(
    bytes: &'a [u8],
    which: DataSection,
    sref: &SectionRef,
    record_size: usize,
    max: u32,
    previous_end: &mut u64,
    total: u64,
) -> Result<&'a [T], ManagerDataError> {
    let count = sref.count.get();
    if count > max {
        return Err(ManagerDataError::TooManyRecords {
            section: which,
            count,
            max,
        });
    }
    let offset = u64::from(sref.offset.get());
    let end = offset + u64::from(count) * record_size as u64;
    let bad = ManagerDataError::BadSection { section: which };
    if !offset.is_multiple_of(8) || offset < *previous_end || end > total {
        return Err(bad);
    }
    *previous_end = end;
    let start = usize::try_from(offset).map_err(|_| bad)?;
    let end = usize::try_from(end).map_err(|_| bad)?;
    let raw = bytes.get(start..end).ok_or(bad)?;
    <[T]>::ref_from_bytes(raw).map_err(|_| bad)
}

impl<'a> ManagerData<'a> {
    /// The length of the manager data whose first 16 (or more) bytes are
    /// `prefix`: how much of the region to read before [`Self::parse`].
    pub fn total_size(prefix: &[u8]) -> Result<usize, ManagerDataError> {
        if let Some(magic) = prefix.get(..4)
            && magic != MAGIC
        {
            return Err(ManagerDataError::BadMagic);
        }
        if let Some(&[lo, hi]) = prefix.get(4..6) {
            let found = u16::from_le_bytes([lo, hi]);
            if found != FORMAT_VERSION {
                return Err(ManagerDataError::UnsupportedVersion { found });
            }
        }
        match prefix.get(8..12) {
            Some(&[a, b, c, d]) => {
                let total = u32::from_le_bytes([a, b, c, d]);
                Ok(usize::try_from(total).unwrap_or(usize::MAX))
            }
            _ => Err(ManagerDataError::Truncated {
                needed: CHECKSUM_START,
                actual: prefix.len(),
            }),
        }
    }

    /// Checks `bytes` (at least `total_size` long; what follows is ignored)
    /// and returns the data. Never panics.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ManagerDataError> {
        let total = Self::total_size(bytes)?;
        let (header, _) =
            ManagerHeader::ref_from_prefix(bytes).map_err(|_| ManagerDataError::Truncated {
                needed: HEADER_SIZE,
                actual: bytes.len(),
            })?;
        if usize::from(header.header_size.get()) != HEADER_SIZE {
            return Err(ManagerDataError::BadHeaderSize {
                found: header.header_size.get(),
            });
        }
        if total < HEADER_SIZE {
            return Err(ManagerDataError::BadSection {
                section: DataSection::Header,
            });
        }
        let data = bytes.get(..total).ok_or(ManagerDataError::Truncated {
            needed: total,
            actual: bytes.len(),
        })?;
        let computed = checksum(data.get(CHECKSUM_START..).unwrap_or(&[]));
        if computed != header.checksum.get() {
            return Err(ManagerDataError::BadChecksum {
                stored: header.checksum.get(),
                computed,
            });
        }
        if header.flags.get() != 0 || header.reserved.get() != 0 {
            return Err(ManagerDataError::ReservedNotZero {
                section: DataSection::Header,
                index: 0,
            });
        }
        let used_slots = header.used_slots.get();
        if used_slots & (1u64 << MANAGER_DATA_SLOT) == 0 {
            return Err(ManagerDataError::BadValue {
                section: DataSection::Header,
                index: 0,
                field: "used_slots",
            });
        }

        let total = total as u64;
        let mut end = HEADER_SIZE as u64;
        let partitions: &[PartitionSpecRecord] = section(
            data,
            DataSection::Partitions,
            &header.partitions,
            PARTITION_SIZE,
            MAX_PARTITIONS_PER_MANAGER as u32,
            &mut end,
            total,
        )?;
        let routes: &[RouteSpecRecord] = section(
            data,
            DataSection::Routes,
            &header.routes,
            ROUTE_SIZE,
            MAX_ROUTES,
            &mut end,
            total,
        )?;
        let modules: &[ModuleSpecRecord] = section(
            data,
            DataSection::Modules,
            &header.modules,
            MODULE_SIZE,
            MAX_MODULE_RECORDS,
            &mut end,
            total,
        )?;
        let blob: &[u8] = section(
            data,
            DataSection::Blob,
            &header.blob,
            1,
            u32::MAX,
            &mut end,
            total,
        )?;
        let parsed = Self {
            header,
            partitions,
            routes,
            modules,
            blob,
        };
        parsed.check()?;
        Ok(parsed)
    }

    fn check(&self) -> Result<(), ManagerDataError> {
        let section = DataSection::Partitions;
        let used_slots = self.used_slots();
        for (i, p) in self.partitions.iter().enumerate() {
            let index = idx(i);
            let value = |field| ManagerDataError::BadValue {
                section,
                index,
                field,
            };
            let name = name_of(&p.name).ok_or(ManagerDataError::BadName { index })?;
            if p.reserved2 != [0; 4] {
                return Err(ManagerDataError::ReservedNotZero { section, index });
            }
            let words = p.hv1_words.map(|w| w.get());
            let hv1_ok = match p.hv1 {
                0 => words == [0; HV1_WORDS],
                1 => hv1_words_valid(&words),
                _ => false,
            };
            if !hv1_ok {
                return Err(value("hv1"));
            }
            crate::synic::SynicLinks::from_record(&p.synic, p.vp_count).map_err(value)?;
            if self
                .partitions
                .iter()
                .take(i)
                .any(|e| name_of(&e.name) == Some(name))
            {
                return Err(ManagerDataError::DuplicateName { index });
            }
            if p.image_len.get() == 0 || self.image_of(p).is_none() {
                return Err(value("image"));
            }
            let format = GuestFormat::from_u8(p.format).ok_or(value("format"))?;
            ApicKind::from_u8(p.apic).ok_or(value("apic"))?;
            Expectation::from_u8(p.expect).ok_or(value("expect"))?;
            let cmdline = self.cmdline_of(p).ok_or(value("cmdline"))?;
            if !guest_cmdline_valid(cmdline)
                || (format == GuestFormat::Elf64 && !cmdline.is_empty())
            {
                return Err(value("cmdline"));
            }
            self.check_modules(p, index, format)?;
            if !guest_memory_valid(p.memory.get()) {
                return Err(value("memory"));
            }
            let vps = p.vp_count;
            if vps == 0 || vps > MAX_VPS {
                return Err(value("vp_count"));
            }
            let (used, unused) = p.vp_cpus.split_at(usize::from(vps));
            if used.iter().any(|&cpu| u16::from(cpu) >= MAX_CPUS) || unused.iter().any(|&b| b != 0)
            {
                return Err(value("vp_cpus"));
            }
            let badge = p.badge.get();
            if badge == 0
                || self
                    .partitions
                    .iter()
                    .take(i)
                    .any(|e| e.badge.get() == badge)
            {
                return Err(value("badge"));
            }
            let routes = self.routes_of(p).ok_or(value("routes"))?;
            let mut lifecycle = 0;
            for (j, r) in routes.iter().enumerate() {
                let route_index = u32::from(p.routes_first.get()).saturating_add(idx(j));
                let bad = |field| ManagerDataError::BadValue {
                    section: DataSection::Routes,
                    index: route_index,
                    field,
                };
                let kind = r.kind.get();
                if route::shape(kind).is_none() {
                    return Err(bad("kind"));
                }
                if !route::parameter_valid(kind, r.parameter.get()) {
                    return Err(bad("parameter"));
                }
                if !route::state_valid(r.state.get()) {
                    return Err(bad("state"));
                }
                if !route::posted_valid(kind, r.parameter.get(), u64::from(r.posted.get())) {
                    return Err(bad("posted"));
                }
                let slot = r.slot.get();
                if slot < u32::from(FIRST_FREE_SLOT)
                    || slot >= MANAGER_DATA_SLOT
                    || used_slots & (1u64 << slot) == 0
                {
                    return Err(bad("slot"));
                }
                if routes[..j].iter().any(|e| {
                    e.kind.get() == kind
                        && route::overlap(kind, e.parameter.get(), r.parameter.get())
                }) {
                    return Err(ManagerDataError::RouteOverlap {
                        partition: index,
                        route: route_index,
                    });
                }
                if kind == route::intercept::LIFECYCLE {
                    lifecycle += 1;
                }
            }
            if lifecycle == 0 {
                return Err(ManagerDataError::NoLifecycleRoute { partition: index });
            }
        }
        Ok(())
    }

    /// The modules of partition record `p` (number `index`): at most
    /// [`GuestFormat::max_modules`], each with its bytes and a valid
    /// command line in the blob (empty for Linux).
    fn check_modules(
        &self,
        p: &PartitionSpecRecord,
        index: u32,
        format: GuestFormat,
    ) -> Result<(), ManagerDataError> {
        let count = usize::from(p.modules_count.get());
        if count > format.max_modules() {
            return Err(ManagerDataError::BadValue {
                section: DataSection::Partitions,
                index,
                field: "modules",
            });
        }
        let modules = self.modules_of(p).ok_or(ManagerDataError::BadValue {
            section: DataSection::Partitions,
            index,
            field: "modules",
        })?;
        for (j, m) in modules.iter().enumerate() {
            let module_index = u32::from(p.modules_first.get()).saturating_add(idx(j));
            let bad = |field| ManagerDataError::BadValue {
                section: DataSection::Modules,
                index: module_index,
                field,
            };
            if m.reserved.get() != 0 {
                return Err(ManagerDataError::ReservedNotZero {
                    section: DataSection::Modules,
                    index: module_index,
                });
            }
            if blob_range(self.blob, m.offset.get(), m.len.get()).is_none() {
                return Err(bad("bytes"));
            }
            let cmdline = blob_range(
                self.blob,
                m.cmdline_offset.get(),
                u32::from(m.cmdline_len.get()),
            )
            .ok_or(bad("cmdline"))?;
            if !guest_cmdline_valid(cmdline) || (!format.module_cmdlines() && !cmdline.is_empty()) {
                return Err(bad("cmdline"));
            }
        }
        Ok(())
    }

    fn modules_of(&self, p: &PartitionSpecRecord) -> Option<&'a [ModuleSpecRecord]> {
        let modules: &'a [ModuleSpecRecord] = self.modules;
        let start = usize::from(p.modules_first.get());
        let end = start.checked_add(usize::from(p.modules_count.get()))?;
        modules.get(start..end)
    }

    fn image_of(&self, p: &PartitionSpecRecord) -> Option<&'a [u8]> {
        let blob: &'a [u8] = self.blob;
        let start = usize::try_from(p.image_offset.get()).ok()?;
        let end = start.checked_add(usize::try_from(p.image_len.get()).ok()?)?;
        blob.get(start..end)
    }

    fn cmdline_of(&self, p: &PartitionSpecRecord) -> Option<&'a [u8]> {
        let blob: &'a [u8] = self.blob;
        let start = usize::try_from(p.cmdline_offset.get()).ok()?;
        let end = start.checked_add(usize::from(p.cmdline_len.get()))?;
        blob.get(start..end)
    }

    fn routes_of(&self, p: &PartitionSpecRecord) -> Option<&'a [RouteSpecRecord]> {
        let routes: &'a [RouteSpecRecord] = self.routes;
        let start = usize::from(p.routes_first.get());
        let end = start.checked_add(usize::from(p.routes_count.get()))?;
        routes.get(start..end)
    }

    fn spec(&self, p: &'a PartitionSpecRecord) -> PartitionSpec<'a> {
        let vps = usize::from(p.vp_count).min(p.vp_cpus.len());
        PartitionSpec {
            name: name_of(&p.name).unwrap_or(""),
            image: self.image_of(p).unwrap_or(&[]),
            format: GuestFormat::from_u8(p.format).unwrap_or(GuestFormat::Elf64),
            cmdline: self
                .cmdline_of(p)
                .and_then(|c| core::str::from_utf8(c).ok())
                .unwrap_or(""),
            memory_bytes: p.memory.get(),
            vp_cpus: VpCpus(p.vp_cpus[..vps].iter()),
            priority: p.priority,
            badge: p.badge.get(),
            expect: Expectation::from_u8(p.expect).unwrap_or(Expectation::Pass),
            routes: Routes(self.routes_of(p).unwrap_or(&[]).iter()),
            hv1: (p.hv1 != 0).then(|| p.hv1_words.map(|w| w.get())),
            apic: ApicKind::from_u8(p.apic).unwrap_or_default(),
            modules: Modules {
                records: self.modules_of(p).unwrap_or(&[]).iter(),
                blob: self.blob,
            },
            // Checked by `check`.
            synic: crate::synic::SynicLinks::from_record(&p.synic, p.vp_count).unwrap_or_default(),
        }
    }

    /// The partitions, in manifest order.
    pub fn partitions(&self) -> impl ExactSizeIterator<Item = PartitionSpec<'a>> + '_ {
        let records: &'a [PartitionSpecRecord] = self.partitions;
        records.iter().map(|p| self.spec(p))
    }

    /// Number of partitions.
    pub fn partition_count(&self) -> usize {
        self.partitions.len()
    }

    /// Slots of the manager that init filled (bit `s` for slot `s`).
    pub fn used_slots(&self) -> u64 {
        self.header.used_slots.get()
    }

    /// The slots init left empty, for the manager's own capabilities
    /// (partitions, VPs, memory regions), lowest first.
    pub fn free_slots(&self) -> impl Iterator<Item = u32> + use<> {
        let used = self.used_slots();
        (u32::from(FIRST_FREE_SLOT)..CSPACE_SLOTS as u32).filter(move |s| used & (1u64 << s) == 0)
    }

    /// The length of the data (the region may be longer).
    pub fn len(&self) -> usize {
        self.header.total_size.get() as usize
    }

    /// Whether the data is empty (never: it has a header at least).
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// A partition for [`encode_into`]: what init knows from the boot plan,
/// with the image bytes from the boot module.
#[derive(Debug, Clone, Copy)]
pub struct PartitionInput<'a> {
    /// Partition name.
    pub name: &'a str,
    /// Guest image bytes.
    pub image: &'a [u8],
    /// How to load it.
    pub format: GuestFormat,
    /// Command line (Multiboot only).
    pub cmdline: &'a str,
    /// Guest memory, bytes.
    pub memory_bytes: u64,
    /// Host CPU of each VP (its length is the VP count).
    pub vp_cpus: &'a [u8],
    /// VP priority.
    pub priority: u8,
    /// The partition's number (route badge).
    pub badge: u64,
    /// How the test expects it to end.
    pub expect: Expectation,
    /// Its routes.
    pub routes: &'a [RouteSpec],
    /// Its Hv#1 configuration (`PartitionSetHv1`'s words), if it has one.
    pub hv1: Option<[u64; HV1_WORDS]>,
    /// Its VPs' local APIC.
    pub apic: ApicKind,
    /// Its boot modules (Multiboot only), in order, with the bytes from
    /// their boot modules.
    pub modules: &'a [ModuleSpec<'a>],
    /// Its SynIC ports and connections.
    pub synic: crate::synic::SynicLinks,
}

const fn align8(n: usize) -> usize {
    n.next_multiple_of(8)
}

/// Where each part of the data goes.
struct Layout {
    routes_at: usize,
    modules_at: usize,
    blob_at: usize,
    total: usize,
    route_count: usize,
    module_count: usize,
}

fn layout(partitions: &[PartitionInput<'_>]) -> Layout {
    let routes_at = HEADER_SIZE + partitions.len() * PARTITION_SIZE;
    let route_count: usize = partitions.iter().map(|p| p.routes.len()).sum();
    let modules_at = routes_at + route_count * ROUTE_SIZE;
    let module_count: usize = partitions.iter().map(|p| p.modules.len()).sum();
    let blob_at = modules_at + module_count * MODULE_SIZE;
    let blob: usize = partitions
        .iter()
        .map(|p| {
            align8(p.image.len())
                + align8(p.cmdline.len())
                + p.modules
                    .iter()
                    .map(|m| align8(m.bytes.len()) + align8(m.cmdline.len()))
                    .sum::<usize>()
        })
        .sum();
    Layout {
        routes_at,
        modules_at,
        blob_at,
        total: blob_at + blob,
        route_count,
        module_count,
    }
}

/// The length of the manager data for `partitions` (allocate a region of
/// at least this many bytes).
pub fn encoded_size(partitions: &[PartitionInput<'_>]) -> usize {
    layout(partitions).total
}

fn u32_of(value: usize) -> U32 {
    U32::new(u32::try_from(value).unwrap_or(u32::MAX))
}

fn u16_of(value: usize) -> U16 {
    U16::new(u16::try_from(value).unwrap_or(u16::MAX))
}

/// Where [`encode_into`] writes: `(offset, bytes)`.
type Sink<'s, E> = dyn FnMut(usize, &[u8]) -> Result<(), E> + 's;

/// Calls `write(offset, bytes)` for every piece after the header, in
/// order: the partition records, the route records, the module records,
/// then each image, command line and module.
fn pieces<E>(
    partitions: &[PartitionInput<'_>],
    layout: &Layout,
    write: &mut Sink<'_, E>,
) -> Result<(), E> {
    let mut blob = 0usize;
    let mut first_route = 0usize;
    let mut first_module = 0usize;
    for (i, p) in partitions.iter().enumerate() {
        let image_offset = blob;
        blob += align8(p.image.len());
        let cmdline_offset = blob;
        blob += align8(p.cmdline.len());
        for m in p.modules {
            blob += align8(m.bytes.len()) + align8(m.cmdline.len());
        }
        let mut vp_cpus = [0u8; MAX_VPS as usize];
        for (dst, src) in vp_cpus.iter_mut().zip(p.vp_cpus) {
            *dst = *src;
        }
        let mut name = [0u8; NAME_FIELD];
        for (dst, src) in name.iter_mut().zip(p.name.bytes()) {
            *dst = src;
        }
        let record = PartitionSpecRecord {
            name,
            memory: U64::new(p.memory_bytes),
            badge: U64::new(p.badge),
            image_offset: u32_of(image_offset),
            image_len: u32_of(p.image.len()),
            cmdline_offset: u32_of(cmdline_offset),
            cmdline_len: u16_of(p.cmdline.len()),
            routes_first: u16_of(first_route),
            routes_count: u16_of(p.routes.len()),
            format: p.format as u8,
            expect: p.expect as u8,
            priority: p.priority,
            vp_count: u8::try_from(p.vp_cpus.len()).unwrap_or(u8::MAX),
            hv1: u8::from(p.hv1.is_some()),
            apic: p.apic as u8,
            vp_cpus,
            hv1_words: p.hv1.unwrap_or_default().map(U64::new),
            modules_first: u16_of(first_module),
            modules_count: u16_of(p.modules.len()),
            reserved2: [0; 4],
            synic: p.synic.to_record(),
        };
        first_route += p.routes.len();
        first_module += p.modules.len();
        write(HEADER_SIZE + i * PARTITION_SIZE, record.as_bytes())?;
    }
    let mut at = layout.routes_at;
    for r in partitions.iter().flat_map(|p| p.routes) {
        let record = RouteSpecRecord {
            kind: U64::new(r.kind),
            parameter: U64::new(r.parameter),
            state: U64::new(r.state),
            slot: U32::new(r.slot),
            posted: U32::new(r.posted as u32),
        };
        write(at, record.as_bytes())?;
        at += ROUTE_SIZE;
    }
    // The module records: where each module's pieces land in the blob.
    let mut at = layout.modules_at;
    let mut blob = 0usize;
    for p in partitions {
        blob += align8(p.image.len()) + align8(p.cmdline.len());
        for m in p.modules {
            let offset = blob;
            blob += align8(m.bytes.len());
            let cmdline_offset = blob;
            blob += align8(m.cmdline.len());
            let record = ModuleSpecRecord {
                offset: u32_of(offset),
                len: u32_of(m.bytes.len()),
                cmdline_offset: u32_of(cmdline_offset),
                cmdline_len: u16_of(m.cmdline.len()),
                reserved: U16::new(0),
            };
            write(at, record.as_bytes())?;
            at += MODULE_SIZE;
        }
    }
    let mut at = layout.blob_at;
    for p in partitions {
        let modules = p
            .modules
            .iter()
            .flat_map(|m| [m.bytes, m.cmdline.as_bytes()]);
        for part in [p.image, p.cmdline.as_bytes()].into_iter().chain(modules) {
            if !part.is_empty() {
                write(at, part)?;
            }
            at += align8(part.len());
        }
    }
    Ok(())
}

/// Encodes the manager data of `partitions` by calls to `write(offset,
/// bytes)`, in increasing offset order, which together cover the data
/// except for zero padding: every offset is 8-aligned, and the bytes from
/// the end of a piece to the next 8-aligned offset are zero (write them as
/// zeros, or write into zeroed memory such as a fresh memory region).
/// Returns the data's length. `used_slots` is the mask of the manager's
/// slots init fills ([`ManagerData::used_slots`]); it always includes
/// [`MANAGER_DATA_SLOT`].
///
/// Like the plan encoder it is faithful, not a validator: inputs that break
/// a rule give data that [`ManagerData::parse`] refuses. It never panics,
/// and it allocates nothing (init copies multi-megabyte images with it).
pub fn encode_into<E>(
    used_slots: u64,
    partitions: &[PartitionInput<'_>],
    mut write: impl FnMut(usize, &[u8]) -> Result<(), E>,
) -> Result<usize, E> {
    let layout = layout(partitions);
    let mut header = ManagerHeader {
        magic: MAGIC,
        version: U16::new(FORMAT_VERSION),
        header_size: U16::new(HEADER_SIZE as u16),
        total_size: u32_of(layout.total),
        checksum: U32::new(0),
        flags: U32::new(0),
        reserved: U32::new(0),
        used_slots: U64::new(used_slots | 1u64 << MANAGER_DATA_SLOT),
        partitions: SectionRef {
            offset: u32_of(HEADER_SIZE),
            count: u32_of(partitions.len()),
        },
        routes: SectionRef {
            offset: u32_of(layout.routes_at),
            count: u32_of(layout.route_count),
        },
        modules: SectionRef {
            offset: u32_of(layout.modules_at),
            count: u32_of(layout.module_count),
        },
        blob: SectionRef {
            offset: u32_of(layout.blob_at),
            count: u32_of(layout.total - layout.blob_at),
        },
    };
    // First pass: the checksum over everything after the checksum field,
    // the zero padding included.
    let mut hash = checksum_update(CHECKSUM_SEED, &header.as_bytes()[CHECKSUM_START..]);
    let mut hashed_to = HEADER_SIZE;
    let zeros = [0u8; 8];
    let _ = pieces::<core::convert::Infallible>(partitions, &layout, &mut |at, bytes| {
        // Padding between the previous piece and this one (less than 8 bytes,
        // or larger for empty parts, which `pieces` skips).
        while hashed_to < at {
            let n = (at - hashed_to).min(8);
            hash = checksum_update(hash, &zeros[..n]);
            hashed_to += n;
        }
        hash = checksum_update(hash, bytes);
        hashed_to = at + bytes.len();
        Ok(())
    });
    while hashed_to < layout.total {
        let n = (layout.total - hashed_to).min(8);
        hash = checksum_update(hash, &zeros[..n]);
        hashed_to += n;
    }
    header.checksum = U32::new(hash);
    write(0, header.as_bytes())?;
    pieces(partitions, &layout, &mut write)?;
    Ok(layout.total)
}

/// [`encode_into`] into a vector (host tools and tests).
#[cfg(any(test, feature = "encode"))]
pub fn encode(used_slots: u64, partitions: &[PartitionInput<'_>]) -> alloc::vec::Vec<u8> {
    let mut out = alloc::vec![0u8; encoded_size(partitions)];
    let _ = encode_into::<core::convert::Infallible>(used_slots, partitions, |at, bytes| {
        if let Some(dst) = out.get_mut(at..at + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        Ok(())
    });
    out
}

mod apic;
pub use apic::ApicKind;

#[cfg(test)]
mod tests;
