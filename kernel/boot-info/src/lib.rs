//! Turns what the boot loader hands over into Tessera's own types.
//!
//! Tessera is booted either by GRUB through Multiboot2 or by QEMU's `-kernel`
//! through Multiboot1. [`parse`] takes the magic value from EAX, the physical
//! address from EBX and a window onto physical memory ([`PhysMemory`]), and
//! returns a [`BootInfo`] that owns copies of everything the kernel needs: the
//! command line, a normalised memory map, the modules and their strings.
//!
//! Everything the loader provides is treated as untrusted input: a garbage
//! pointer or a corrupt structure yields a [`BootInfoError`], never a panic
//! and never a read outside what [`PhysMemory::read`] returns. Nothing is
//! silently dropped either: input that does not fit the fixed capacities of
//! [`BootInfo`] is an error that names the limit.
//!
//! [`command_line`] holds the pure parser for the kernel's own options.

#![no_std]
// The one place that must be unsafe (handing a raw pointer to
// `multiboot2::BootInformation::load`) lives in `mb2.rs` and opts in there.
#![deny(unsafe_code)]

#[cfg(test)]
extern crate std;

pub mod command_line;
mod error;
mod mb1;
mod mb2;
mod memory_map;
#[cfg(test)]
mod tests;

pub use command_line::{InjectedFault, KernelOptions, LogLevel, parse_command_line};
pub use error::BootInfoError;
pub use memory_map::{MAX_LOADER_MEMORY_ENTRIES, normalize_memory_map};

/// EAX value a Multiboot2 loader passes (Multiboot2 spec, "I386 machine state").
pub const MULTIBOOT2_MAGIC: u32 = 0x36d7_6289;
/// EAX value a Multiboot1 loader passes (Multiboot spec 0.6.96, §3.2 "Machine state").
pub const MULTIBOOT1_MAGIC: u32 = 0x2BAD_B002;

/// Capacity of [`BootInfo::command_line`] in bytes.
pub const MAX_COMMAND_LINE: usize = 512;
/// Capacity of [`BootInfo::memory_map`] in regions (after normalisation).
pub const MAX_MEMORY_REGIONS: usize = 128;
/// Capacity of [`BootInfo::modules`].
pub const MAX_MODULES: usize = 32;
/// Capacity of [`Module::command_line`] in bytes.
pub const MAX_MODULE_STRING: usize = 128;

/// Read access to physical memory, as the kernel's direct map provides it.
pub trait PhysMemory {
    /// Bytes at physical `addr`, or None if outside what can be read.
    ///
    /// An implementation must return exactly `len` bytes or `None`; the parser
    /// checks the length anyway and treats a short slice as unreadable.
    fn read(&self, addr: u64, len: usize) -> Option<&[u8]>;
}

/// Which protocol the kernel was booted with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootProtocol {
    /// QEMU `-kernel` (or any Multiboot 0.6.96 loader).
    Multiboot1,
    /// GRUB's `multiboot2` command.
    Multiboot2,
}

/// What a range of physical memory is, in the loader's (e820-derived) terms.
///
/// The declaration order is the order of restrictiveness used when loader
/// entries overlap: a later variant wins over an earlier one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MemoryKind {
    /// RAM free for the kernel (type 1).
    Usable,
    /// RAM holding ACPI tables; usable once they have been read (type 3).
    AcpiReclaimable,
    /// Firmware memory that must be preserved across sleep states (type 4).
    AcpiNvs,
    /// Not RAM the kernel may touch (type 2 and every unknown type).
    Reserved,
    /// RAM reported as faulty (type 5); must never be used.
    Defective,
}

impl MemoryKind {
    /// Maps an e820-style type value; both Multiboot versions use the same
    /// numbers (Multiboot spec §3.3, Multiboot2 spec §3.6 "Memory map").
    /// Unknown values are treated as reserved, the only safe reading.
    #[must_use]
    pub const fn from_multiboot_type(typ: u32) -> Self {
        match typ {
            1 => Self::Usable,
            3 => Self::AcpiReclaimable,
            4 => Self::AcpiNvs,
            5 => Self::Defective,
            _ => Self::Reserved,
        }
    }
}

/// One range of the normalised memory map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryRegion {
    /// First byte of the region.
    pub start: u64,
    /// One past the last byte of the region (exclusive).
    pub end: u64,
    /// What the region is.
    pub kind: MemoryKind,
}

impl MemoryRegion {
    /// Length of the region in bytes.
    #[must_use]
    pub const fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Whether the region is empty (never the case in a [`BootInfo`]).
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// A boot module (for Tessera: a component image).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Module {
    /// Physical address of the first byte.
    pub start: u64,
    /// Physical address one past the last byte (exclusive, as GRUB and QEMU fill
    /// in `mod_end`).
    pub end: u64,
    /// The string the loader associated with the module (GRUB: the arguments
    /// of the `module2` command).
    pub command_line: heapless::String<MAX_MODULE_STRING>,
}

/// Everything the kernel takes from the boot loader.
///
/// This is about 9 KiB; keep it in a `static` rather than on a small early
/// boot stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootInfo {
    /// How the kernel was booted.
    pub protocol: BootProtocol,
    /// The kernel command line exactly as the loader gave it. With QEMU's
    /// Multiboot1 loader the first word is the kernel's path.
    pub command_line: heapless::String<MAX_COMMAND_LINE>,
    /// Sorted, non-overlapping, adjacent regions of the same kind merged; where
    /// loader entries overlap, the more restrictive [`MemoryKind`] wins. Holes
    /// are not listed: memory absent from the map is not usable.
    pub memory_map: heapless::Vec<MemoryRegion, MAX_MEMORY_REGIONS>,
    /// The boot modules in the loader's order.
    pub modules: heapless::Vec<Module, MAX_MODULES>,
    /// Physical address of an ACPI RSDP. Multiboot2: the copy inside the boot
    /// information (the new-RSDP tag is preferred over the old one), so it
    /// lies inside `info_range`; its checksum has not been verified.
    /// Multiboot1: always `None`; the kernel scans the BIOS areas itself.
    pub rsdp: Option<u64>,
    /// Physical range `[start, end)` of the loader's information structure.
    ///
    /// Everything in this `BootInfo` is a copy, so the only reason to keep this
    /// range out of the frame allocator is `rsdp`, which points into it
    /// (Multiboot2). Multiboot2: the whole MBI, which includes every string.
    /// Multiboot1: the 116-byte info structure only; the command line, memory
    /// map, module list and module strings it points to live elsewhere, but
    /// they have all been copied and need no reservation.
    pub info_range: (u64, u64),
}

/// Parses the boot loader's information.
///
/// `magic` is EAX at entry and `info_addr` is EBX (zero-extended); `mem` reads
/// physical memory. The magic selects the protocol.
///
/// # Errors
///
/// Any [`BootInfoError`]: wrong magic, unreadable or malformed structures, or
/// input that exceeds a capacity of [`BootInfo`].
pub fn parse(magic: u32, info_addr: u64, mem: &impl PhysMemory) -> Result<BootInfo, BootInfoError> {
    match magic {
        MULTIBOOT2_MAGIC => mb2::parse(info_addr, mem),
        MULTIBOOT1_MAGIC => mb1::parse(info_addr, mem),
        _ => Err(BootInfoError::BadMagic { magic }),
    }
}

/// Reads exactly `len` bytes, or reports what could not be read.
fn read_exact<'m>(
    mem: &'m impl PhysMemory,
    what: &'static str,
    addr: u64,
    len: usize,
) -> Result<&'m [u8], BootInfoError> {
    let unreadable = BootInfoError::Unreadable {
        what,
        addr,
        len: len as u64,
    };
    // A range that wraps around the address space cannot be real memory; this
    // also keeps the `PhysMemory` implementation from having to check it.
    if addr.checked_add(len as u64).is_none() {
        return Err(unreadable);
    }
    match mem.read(addr, len) {
        Some(bytes) if bytes.len() == len => Ok(bytes),
        _ => Err(unreadable),
    }
}

/// Little-endian `u32` at `offset` of `bytes`; the callers have checked bounds,
/// but a short slice still yields 0 rather than a panic.
fn le_u32(bytes: &[u8], offset: usize) -> u32 {
    bytes
        .get(offset..offset.saturating_add(4))
        .and_then(|b| b.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

/// Little-endian `u64` at `offset` of `bytes`; see [`le_u32`].
fn le_u64(bytes: &[u8], offset: usize) -> u64 {
    bytes
        .get(offset..offset.saturating_add(8))
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// Builds regions from the basic lower/upper memory sizes (in KiB), used
/// only when the loader gave no memory map. Lower memory starts at 0 and upper
/// memory at 1 MiB; both protocols define them the same way (Multiboot spec
/// §3.3 `mem_lower`/`mem_upper`, Multiboot2 spec §3.6 "Basic memory
/// information").
fn basic_memory_entries(mem_lower_kib: u32, mem_upper_kib: u32) -> [(u64, u64, MemoryKind); 2] {
    const MIB: u64 = 1 << 20;
    [
        (0, u64::from(mem_lower_kib) * 1024, MemoryKind::Usable),
        (
            MIB,
            MIB + u64::from(mem_upper_kib) * 1024,
            MemoryKind::Usable,
        ),
    ]
}

/// Which string is being read, for capacity and error reporting.
#[derive(Clone, Copy)]
enum StringField {
    CommandLine,
    Module(usize),
}

impl StringField {
    const fn what(self) -> &'static str {
        match self {
            Self::CommandLine => "kernel command line",
            Self::Module(_) => "module string",
        }
    }

    const fn too_long(self) -> BootInfoError {
        match self {
            Self::CommandLine => BootInfoError::CommandLineTooLong {
                limit: MAX_COMMAND_LINE,
            },
            Self::Module(index) => BootInfoError::ModuleStringTooLong {
                index,
                limit: MAX_MODULE_STRING,
            },
        }
    }

    const fn bad(self, reason: &'static str) -> BootInfoError {
        BootInfoError::BadString {
            what: self.what(),
            index: match self {
                Self::CommandLine => None,
                Self::Module(index) => Some(index),
            },
            reason,
        }
    }
}
