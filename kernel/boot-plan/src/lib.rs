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
//! index that holds that image (a component's ELF, or a guest image that a
//! partition manager loads); xtask passes the images in the order of that
//! section (the component images first, then the guest images, then the
//! guest modules), so image `i` is module `i + 1`.
//! The header says how many modules the deployment expects in total
//! (`module_count`), so the kernel can refuse a boot whose loader passed a
//! different number.
//!
//! # Partitions and manager data
//!
//! The partition and route sections say which guests each manager
//! component creates and where their exits go. init turns them into each
//! manager's *manager data* ([`manager`]), which the manager reads at run
//! time; the helpers of [`route`] say what a route's parameter means.
//! The module section gives a Multiboot partition its boot modules (what
//! QEMU's `-initrd "FILE ARGS,..."` gives a Multiboot kernel): each record
//! names an image of kind [`ImageKind::GuestModule`] (a file the manifest
//! names, passed as a boot module like the guest images) and the module's
//! command line.
//!
//! # Format, version 4
//!
//! All integers are little-endian. Every record is a fixed-size `repr(C)`
//! struct of byte-aligned fields (see [`layout`]), so the plan can be read in
//! place from any address. Names are 32-byte fields holding 1 to 31 bytes of
//! `[a-z][a-z0-9-]*` followed by NUL padding ([`is_valid_name`]).
//!
//! Version 2 adds partitions (guests), their routes, and a string section
//! (guest command lines) to version 1, and gives each image a kind
//! (component or guest). Version 3 gives each partition its Hv#1
//! configuration (the words of `PartitionSetHv1`, or none) and adds the
//! expectation `crash`. Version 4 adds the module section (a Multiboot
//! partition's boot modules, at most [`MAX_GUEST_MODULES`] each), the image
//! kind [`ImageKind::GuestModule`], and grows the header to 128 bytes.
//! Plans of other versions are refused
//! ([`PlanError::UnsupportedVersion`]): the kernel, init and the manifest
//! compiler are built together.
//!
//! Header ([`layout::Header`], 128 bytes):
//!
//! | offset | size | field | meaning |
//! | ---: | ---: | --- | --- |
//! | 0 | 4 | `magic` | `b"TSBP"` ([`MAGIC`]) |
//! | 4 | 2 | `version` | [`FORMAT_VERSION`] (7) |
//! | 6 | 2 | `header_size` | 128 ([`HEADER_SIZE`]) |
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
//! | 96 | 8 | `partitions` | section |
//! | 104 | 8 | `routes` | section |
//! | 112 | 8 | `modules` | section |
//! | 120 | 8 | `strings` | section of bytes (`count` is a byte count) |
//!
//! Sections appear in that order, each at an 8-aligned offset at or after the
//! end of the previous one (the first at or after the header), and end within
//! `total_size`. Bytes between sections are ignored (but checksummed).
//!
//! Image record ([`layout::ImageRecord`], 40 bytes):
//!
//! | offset | size | field | meaning |
//! | ---: | ---: | --- | --- |
//! | 0 | 32 | `name` | image name (the crate under `components/` or `test-guests/`, or the name the manifest compiler gives a guest module file), also the module string |
//! | 32 | 2 | `module` | Multiboot module index, `1..module_count`, distinct per image |
//! | 34 | 1 | `kind` | [`ImageKind`]: 0 component ELF, 1 guest image, 2 guest module |
//! | 35 | 5 | reserved | 0 |
//!
//! Component record ([`layout::ComponentRecord`], 56 bytes):
//!
//! | offset | size | field | meaning |
//! | ---: | ---: | --- | --- |
//! | 0 | 32 | `name` | component name, unique |
//! | 32 | 2 | `image` | index into the image section (a component image) |
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
//! Partition record ([`layout::PartitionRecord`], 192 bytes): a guest that
//! its manager component creates, loads and runs.
//!
//! | offset | size | field | meaning |
//! | ---: | ---: | --- | --- |
//! | 0 | 32 | `name` | partition name, unique |
//! | 32 | 2 | `manager` | index of the component that creates and owns it |
//! | 34 | 2 | `image` | index into the image section (a guest image) |
//! | 36 | 1 | `format` | [`GuestFormat`]: 0 ELF64, 1 Multiboot, 2 Linux |
//! | 37 | 1 | `expect` | [`Expectation`]: 0 pass, 1 fail, 2 triple fault, 3 memory fault, 4 guest crash |
//! | 38 | 1 | `priority` | priority of its VP threads: at most the manager's and every route target's |
//! | 39 | 1 | `vp_count` | VPs, `1..=`[`MAX_VPS`] |
//! | 40 | 8 | `memory` | guest RAM at GPA 0, bytes: a multiple of [`GUEST_MEMORY_ALIGN`], [`MIN_GUEST_MEMORY`]`..=`[`MAX_GUEST_MEMORY`] |
//! | 48 | 8 | `badge` | the partition's number, from 1, unique in the plan: the badge of its route capabilities |
//! | 56 | 4 | `cmdline_offset` | its command line: offset into the string section |
//! | 60 | 2 | `cmdline_len` | length, at most [`MAX_GUEST_CMDLINE`], printable ASCII; 0 for ELF64 guests |
//! | 62 | 1 | `hv1` | 0: no Hv#1 interface (a plain x86 machine: the hypervisor leaves read 0, synthetic MSRs #GP, `VMMCALL` #UD); 1: the Hv#1 interface `hv1_words` describe |
//! | 63 | 1 | `apic` | its VPs' local APIC ([`manager::ApicKind`]): 0 none, 1 xAPIC, 2 x2APIC offered |
//! | 64 | 64 | `vp_cpus` | host CPU of VP `i` in byte `i` (below `cpu_count`); bytes from `vp_count` on are 0 |
//! | 128 | 64 | `hv1_words` | the [`HV1_WORDS`] words of `PartitionSetHv1` (`tessera_abi::vm::hv1`, `Hv1Config::to_words`), little-endian; all 0 when `hv1` is 0 ([`hv1_words_valid`]) |
//!
//! Route record ([`layout::RouteRecord`], 40 bytes): which component
//! endpoint handles which exits of a partition (ABI:
//! `tessera_abi::vm`, `PartitionInstallIntercept`).
//!
//! | offset | size | field | meaning |
//! | ---: | ---: | --- | --- |
//! | 0 | 2 | `partition` | index of the partition |
//! | 2 | 2 | `target` | index of the IPC endpoint that handles the exits |
//! | 4 | 1 | `slot` | slot in the manager's capability space of the CALL capability (badged with the partition's badge) to `target`; routes of one partition to one endpoint share it |
//! | 5 | 3 | reserved | 0 |
//! | 8 | 8 | `kind` | `tessera_abi::vm::intercept` kind |
//! | 16 | 8 | `parameter` | the intercept's parameter word ([`route`]) |
//! | 24 | 8 | `state` | `tessera_abi::vm::state` mask of the registers sent with each exit |
//! | 32 | 4 | `posted` | the ports whose writes the kernel posts (`tessera_abi::vm::posted`, [`route::posted_valid`]); 0 for none |
//! | 36 | 4 | reserved | 0 |
//!
//! Module record ([`layout::ModuleRecord`], 16 bytes): a boot module of a
//! Multiboot partition, which its manager passes to the guest the way
//! QEMU's `-initrd "FILE ARGS"` does. A partition's modules are its records
//! in section order.
//!
//! | offset | size | field | meaning |
//! | ---: | ---: | --- | --- |
//! | 0 | 2 | `partition` | index of the partition (a Multiboot one) |
//! | 2 | 2 | `image` | index into the image section (an image of kind [`ImageKind::GuestModule`]): the module's bytes |
//! | 4 | 4 | `cmdline_offset` | the module's command line: offset into the string section |
//! | 8 | 2 | `cmdline_len` | length, at most [`MAX_GUEST_CMDLINE`], printable ASCII ([`guest_cmdline_valid`]) |
//! | 10 | 6 | reserved | 0 |
//!
//! # What [`BootPlan::parse`] guarantees
//!
//! Besides the framing (magic, version, sizes, checksum, section bounds,
//! counts within [`MAX_IMAGES`], [`MAX_COMPONENTS`], [`MAX_ENDPOINTS`],
//! [`MAX_GRANTS`], [`MAX_PARTITIONS`], [`MAX_ROUTES`], [`MAX_MODULE_RECORDS`],
//! [`MAX_STRINGS`],
//! reserved fields zero):
//!
//! - every name is valid; image, component and partition names are unique,
//!   endpoint names are unique per owner;
//! - every index (image, module, owner, holder, target, manager, partition)
//!   is in range, and no two images share a module; components use
//!   component images, partitions guest images, modules guest modules;
//! - the quotas are non-zero page multiples whose sum fits the budget; thread
//!   counts are `1..=MAX_THREADS`; affinities are non-empty subsets of the
//!   deployment's CPUs;
//! - capability slots: `0..=3` are the kernel-given ones ([`SLOT_DOMAIN`],
//!   [`SLOT_THREAD`], [`SLOT_CONSOLE`], [`SLOT_VERDICT`]); a console grant sits
//!   in [`SLOT_CONSOLE`], a verdict grant in [`SLOT_VERDICT`], every other
//!   capability in
//!   `FIRST_FREE_SLOT..CSPACE_SLOTS`, and no component has two capabilities
//!   in one slot (endpoint receive slots, grant slots, route slots and, for
//!   a partition manager, [`manager::MANAGER_DATA_SLOT`] together);
//! - a grant's kind matches its target (call → IPC endpoint, signal →
//!   notification, console and verdict → none), its rights are non-empty and
//!   allowed for its kind (a verdict grant's rights are 0), and it does not
//!   target an endpoint of its own holder;
//! - at most one grant in the whole plan is a verdict grant;
//! - calls respect priorities (a holder's priority is at most the endpoint
//!   owner's) and the call graph between components has no cycle, so a
//!   chain of synchronous calls always ends. A manager's route capabilities
//!   to other components' endpoints count as calls;
//! - partitions: a known format and expectation, a command line only for
//!   Multiboot guests, guest memory in range, `1..=MAX_VPS` VPs on existing
//!   CPUs, a non-zero badge unique in the plan, a priority at most the
//!   manager's and each route target's, at most
//!   [`MAX_PARTITIONS_PER_MANAGER`] per manager, a manager whose quota
//!   covers [`manager_memory_needed`], and Hv#1 words the kernel's
//!   `PartitionSetHv1` takes ([`hv1_words_valid`]);
//! - routes: a known intercept kind with a valid parameter ([`route`]), a
//!   state mask within `tessera_abi::vm::state::ALL`, an IPC endpoint as
//!   target, no two routes of one kind of one partition overlapping, every
//!   partition with exactly one lifecycle route, and no badge of a route
//!   equal to the badge of a grant to the same endpoint;
//! - modules: each belongs to an existing Multiboot partition, names an
//!   image of kind [`ImageKind::GuestModule`] (which only module records
//!   may use), has a valid command line in the string section, and no
//!   partition has more than [`MAX_GUEST_MODULES`].

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
pub mod manager;
mod parse;
pub mod route;
pub mod synic;
#[cfg(test)]
mod tests;

#[cfg(any(test, feature = "encode"))]
pub use encode::{
    ComponentModel, EndpointModel, GrantModel, ImageModel, ModuleModel, PartitionModel, PlanModel,
    RouteModel, encode,
};
pub use error::{PlanError, Section};
pub use parse::{
    BootPlan, Component, Endpoint, Grant, GuestModule, Image, Partition, PlanHeader, Route,
};

/// First bytes of every plan.
pub const MAGIC: [u8; 4] = *b"TSBP";
/// The format version this crate reads and writes.
pub const FORMAT_VERSION: u16 = 7;
/// Size of [`layout::Header`] in format version 4.
pub const HEADER_SIZE: usize = 128;
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

/// The capability slots init has for building a deployment (all but the
/// kernel-given ones): see [`init_slots_needed`].
pub const INIT_SLOTS: usize = (CSPACE_SLOTS - FIRST_FREE_SLOT) as usize;

/// The capability slots init needs while it builds a plan
/// (`components/init/src/slots.rs`): a domain and a thread per component,
/// one per endpoint, and one for the manager data region it is filling if
/// there are partitions. A plan that needs more than [`INIT_SLOTS`] cannot
/// be built.
pub const fn init_slots_needed(components: usize, endpoints: usize, partitions: usize) -> usize {
    2 * components + endpoints + if partitions > 0 { 1 } else { 0 }
}

/// Most partitions in a plan.
pub const MAX_PARTITIONS: u32 = 64;
/// Most partitions one manager component may own.
pub const MAX_PARTITIONS_PER_MANAGER: usize = 8;
/// Most routes in a plan, over all partitions.
pub const MAX_ROUTES: u32 = 1024;
/// Most bytes in the string section.
pub const MAX_STRINGS: u32 = 64 * 1024;
/// Longest guest command line (Multiboot guests only), and longest
/// module command line.
pub const MAX_GUEST_CMDLINE: usize = 256;
/// Most boot modules of one (Multiboot) partition.
pub const MAX_GUEST_MODULES: usize = 8;
/// Most module records in a plan.
pub const MAX_MODULE_RECORDS: u32 = MAX_PARTITIONS * MAX_GUEST_MODULES as u32;
/// Most VPs per partition (`tessera_abi::vm::MAX_VPS`).
pub const MAX_VPS: u8 = tessera_abi::vm::MAX_VPS as u8;
/// Guest memory is a whole number of these (the nested page size the
/// partition manager maps with).
pub const GUEST_MEMORY_ALIGN: u64 = 2 << 20;
/// Least guest memory.
pub const MIN_GUEST_MEMORY: u64 = GUEST_MEMORY_ALIGN;
/// Most guest memory.
pub const MAX_GUEST_MEMORY: u64 = 1 << 30;
/// What each partition costs its manager's quota beyond the guest memory:
/// kernel objects (the partition, its VPs and their VMCBs, nested page
/// tables, route tables).
pub const PARTITION_KERNEL_MEMORY: u64 = 512 << 10;
/// What a partition manager needs for itself besides its partitions: its
/// image, stack, heap and message buffer.
pub const MANAGER_BASE_MEMORY: u64 = 256 << 10;

/// The page tables that map a partition's `memory` twice, which the kernel
/// charges to its manager: into the manager's region window and into the
/// partition's nested tables, 4 KiB pages at worst, so one 4 KiB table per
/// 2 MiB each (the directories above them are in
/// [`PARTITION_KERNEL_MEMORY`]).
pub const fn page_table_memory(memory: u64) -> u64 {
    2 * (memory / 512)
}

/// The quota a manager of partitions with `guest_memory` (bytes each) needs:
/// [`MANAGER_BASE_MEMORY`] plus, per partition, its memory, the page tables
/// that map it ([`page_table_memory`]) and [`PARTITION_KERNEL_MEMORY`].
/// Saturates instead of overflowing.
pub fn manager_memory_needed(guest_memory: impl IntoIterator<Item = u64>) -> u64 {
    guest_memory
        .into_iter()
        .fold(MANAGER_BASE_MEMORY, |total, memory| {
            total
                .saturating_add(memory)
                .saturating_add(page_table_memory(memory))
                .saturating_add(PARTITION_KERNEL_MEMORY)
        })
}

/// Whether `memory` bytes is a valid guest memory size.
pub const fn guest_memory_valid(memory: u64) -> bool {
    memory >= MIN_GUEST_MEMORY
        && memory <= MAX_GUEST_MEMORY
        && memory.is_multiple_of(GUEST_MEMORY_ALIGN)
}

/// The words of a partition's Hv#1 configuration
/// (`tessera_abi::vm::hv1::WORDS`).
pub const HV1_WORDS: usize = tessera_abi::vm::hv1::WORDS;

/// Whether `words` are an Hv#1 configuration a partition may be given:
/// what `Hv1Config::to_words` writes (no bit the words do not carry) for
/// a configuration that passes `Hv1Config::validate_implemented` — the
/// Requirements' rules, and nothing advertised that Tessera does not
/// implement. The kernel's `PartitionSetHv1` refuses the rest; this check
/// is stricter in also refusing stray bits it would ignore.
pub fn hv1_words_valid(words: &[u64; HV1_WORDS]) -> bool {
    let config = tessera_hv1::Hv1Config::from_words(words);
    config.to_words() == *words && config.validate_implemented().is_empty()
}

/// Whether `text` is a valid guest command line: at most
/// [`MAX_GUEST_CMDLINE`] bytes of printable ASCII (space included).
pub const fn guest_cmdline_valid(text: &[u8]) -> bool {
    if text.len() > MAX_GUEST_CMDLINE {
        return false;
    }
    let mut i = 0;
    while i < text.len() {
        if !(text[i] >= b' ' && text[i] <= b'~') {
            return false;
        }
        i += 1;
    }
    true
}

/// What an image module holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ImageKind {
    /// A component's ELF (a crate under `components/`), loaded by init.
    Component = 0,
    /// A guest image (a crate under `test-guests/`), loaded by a partition
    /// manager into a partition.
    Guest = 1,
    /// A file a partition manager passes to a Multiboot guest as one of its
    /// boot modules (the manifest's `partition.NAME.modules`).
    GuestModule = 2,
}

impl ImageKind {
    /// Decodes the `kind` byte of an image record.
    pub const fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::Component),
            1 => Some(Self::Guest),
            2 => Some(Self::GuestModule),
            _ => None,
        }
    }
}

/// How a guest image is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum GuestFormat {
    /// A static ELF64 executable, entered in 64-bit mode.
    Elf64 = 0,
    /// A Multiboot (version 1) kernel, entered in 32-bit protected mode with
    /// the Multiboot information (and its command line).
    Multiboot = 1,
    /// A Linux bzImage, booted per the Linux x86 boot protocol's 64-bit
    /// entry with its command line, its initrd (its one boot module, if it
    /// has one) and the partition's ACPI tables.
    Linux = 2,
}

impl GuestFormat {
    /// Decodes a `format` byte.
    pub const fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::Elf64),
            1 => Some(Self::Multiboot),
            2 => Some(Self::Linux),
            _ => None,
        }
    }

    /// The manifest's name for it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Elf64 => "elf64",
            Self::Multiboot => "multiboot",
            Self::Linux => "linux",
        }
    }

    /// The format the manifest calls `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Elf64, Self::Multiboot, Self::Linux]
            .into_iter()
            .find(|f| f.name() == name)
    }

    /// The most boot modules a partition of this format takes: none for
    /// ELF64, [`MAX_GUEST_MODULES`] for Multiboot, one (the initrd) for
    /// Linux.
    pub const fn max_modules(self) -> usize {
        match self {
            Self::Elf64 => 0,
            Self::Multiboot => MAX_GUEST_MODULES,
            Self::Linux => 1,
        }
    }

    /// Whether its boot modules have command lines (only Multiboot's do:
    /// a Linux initrd has none).
    pub const fn module_cmdlines(self) -> bool {
        matches!(self, Self::Multiboot)
    }
}

/// How a test expects a partition to end (its manager reports whether it
/// did).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Expectation {
    /// The guest writes `EXIT_PASS` to the exit port
    /// (`tessera_abi::vm::guest_ports`).
    Pass = 0,
    /// The guest writes anything else to the exit port.
    Fail = 1,
    /// The guest triple faults (a lifecycle exit, `UNRECOVERABLE_EXCEPTION`).
    TripleFault = 2,
    /// The guest touches memory outside its mappings (a lifecycle exit,
    /// `UNMAPPED_GPA`).
    MemoryFault = 3,
    /// The guest reports a crash through the Hv#1 crash MSRs (a lifecycle
    /// exit, `TESSERA_GUEST_CRASH`; the partition needs `hv-crash`).
    Crash = 4,
    /// The guest powers off through ACPI: it writes S5 to the sleep control
    /// register of its FADT (`tessera-acpi-tables`, `power`), which its
    /// manager serves.
    PowerOff = 5,
}

impl Expectation {
    /// Every expectation, in byte order.
    pub const ALL: [Self; 6] = [
        Self::Pass,
        Self::Fail,
        Self::TripleFault,
        Self::MemoryFault,
        Self::Crash,
        Self::PowerOff,
    ];

    /// Decodes an `expect` byte.
    pub const fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::Pass),
            1 => Some(Self::Fail),
            2 => Some(Self::TripleFault),
            3 => Some(Self::MemoryFault),
            4 => Some(Self::Crash),
            5 => Some(Self::PowerOff),
            _ => None,
        }
    }

    /// The manifest's name for it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::TripleFault => "triple-fault",
            Self::MemoryFault => "memory-fault",
            Self::Crash => "crash",
            Self::PowerOff => "power-off",
        }
    }

    /// The expectation the manifest calls `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.name() == name)
    }
}

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
    /// May write to the kernel console ([`Rights::WRITE`]) and read what is
    /// typed on it ([`Rights::READ`]); always in [`SLOT_CONSOLE`].
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
            Self::Console => Rights(Rights::WRITE.0 | Rights::READ.0),
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
    /// Read the console's input (what is typed on it).
    pub const READ: Self = Self(1 << 4);

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
    checksum_update(CHECKSUM_SEED, bytes)
}

/// The FNV-1a state before any byte.
pub const CHECKSUM_SEED: u32 = 0x811c_9dc5;

/// Continues an FNV-1a checksum over `bytes`:
/// `checksum_update(checksum_update(CHECKSUM_SEED, a), b)` is the checksum
/// of `a` followed by `b` (for encoders that write in pieces).
pub const fn checksum_update(mut hash: u32, bytes: &[u8]) -> u32 {
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u32;
        hash = hash.wrapping_mul(0x0100_0193);
        i += 1;
    }
    hash
}
