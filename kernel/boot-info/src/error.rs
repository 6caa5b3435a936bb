use core::fmt;

use crate::{MULTIBOOT1_MAGIC, MULTIBOOT2_MAGIC};

/// Why the boot information could not be turned into a [`crate::BootInfo`].
///
/// The `Display` text is meant to be printed as is on the boot console, so it
/// names the values and limits involved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BootInfoError {
    /// EAX held neither Multiboot magic value.
    BadMagic {
        /// The value found.
        magic: u32,
    },
    /// The Multiboot2 information is not 8-byte aligned (Multiboot2 spec §3.6:
    /// "Its start is 8-bytes aligned").
    Unaligned {
        /// The address given by the loader.
        addr: u64,
    },
    /// A range the loader pointed at is outside readable memory.
    Unreadable {
        /// Which structure.
        what: &'static str,
        /// Its physical address.
        addr: u64,
        /// How many bytes were to be read.
        len: u64,
    },
    /// The Multiboot2 information structure itself is malformed.
    MalformedInfo {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A Multiboot2 tag has a size that does not fit its type.
    MalformedTag {
        /// The tag type.
        tag_type: u32,
        /// The size it claims.
        size: u32,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The loader's memory map is malformed (truncated, bad entry size).
    MalformedMemoryMap {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The loader's memory map has more entries than the normaliser accepts.
    TooManyLoaderMemoryEntries {
        /// [`crate::MAX_LOADER_MEMORY_ENTRIES`].
        limit: usize,
        /// Entries found.
        count: usize,
    },
    /// The normalised memory map does not fit [`crate::BootInfo::memory_map`].
    TooManyMemoryRegions {
        /// [`crate::MAX_MEMORY_REGIONS`].
        limit: usize,
        /// Regions after normalisation.
        count: usize,
    },
    /// Neither a memory map nor basic memory information was given.
    NoMemoryMap,
    /// More modules than [`crate::BootInfo::modules`] holds.
    TooManyModules {
        /// [`crate::MAX_MODULES`].
        limit: usize,
        /// Modules the loader listed.
        count: usize,
    },
    /// A module ends before it starts.
    BadModuleRange {
        /// Position in the loader's list, from 0.
        index: usize,
        /// `mod_start`.
        start: u64,
        /// `mod_end`.
        end: u64,
    },
    /// The kernel command line is longer than [`crate::MAX_COMMAND_LINE`].
    CommandLineTooLong {
        /// The capacity in bytes.
        limit: usize,
    },
    /// A module string is longer than [`crate::MAX_MODULE_STRING`].
    ModuleStringTooLong {
        /// Position in the loader's list, from 0.
        index: usize,
        /// The capacity in bytes.
        limit: usize,
    },
    /// A string has no terminating NUL within its tag, or is not UTF-8.
    BadString {
        /// Which string ("kernel command line", "module string").
        what: &'static str,
        /// For module strings, the module's position; otherwise `None`.
        index: Option<usize>,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl fmt::Display for BootInfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::BadMagic { magic } => write!(
                f,
                "not booted by a Multiboot loader: EAX is {magic:#010x}, expected \
                 {MULTIBOOT2_MAGIC:#010x} (Multiboot2) or {MULTIBOOT1_MAGIC:#010x} (Multiboot1)"
            ),
            Self::Unaligned { addr } => write!(
                f,
                "Multiboot2 information at {addr:#x} is not 8-byte aligned"
            ),
            Self::Unreadable { what, addr, len } => write!(
                f,
                "cannot read {what}: {len} bytes at {addr:#x} are outside readable memory"
            ),
            Self::MalformedInfo { reason } => {
                write!(f, "malformed Multiboot2 information: {reason}")
            }
            Self::MalformedTag {
                tag_type,
                size,
                reason,
            } => write!(
                f,
                "malformed Multiboot2 tag of type {tag_type} and size {size}: {reason}"
            ),
            Self::MalformedMemoryMap { reason } => {
                write!(f, "malformed boot loader memory map: {reason}")
            }
            Self::TooManyLoaderMemoryEntries { limit, count } => write!(
                f,
                "boot loader memory map has {count} entries, more than the {limit} accepted"
            ),
            Self::TooManyMemoryRegions { limit, count } => write!(
                f,
                "memory map has {count} distinct regions, more than the {limit} the kernel holds"
            ),
            Self::NoMemoryMap => write!(
                f,
                "boot loader gave neither a memory map nor basic memory information"
            ),
            Self::TooManyModules { limit, count } => write!(
                f,
                "boot loader passed {count} modules, more than the {limit} the kernel holds"
            ),
            Self::BadModuleRange { index, start, end } => write!(
                f,
                "module {index} ends ({end:#x}) before it starts ({start:#x})"
            ),
            Self::CommandLineTooLong { limit } => write!(
                f,
                "kernel command line is longer than the {limit} bytes the kernel holds"
            ),
            Self::ModuleStringTooLong { index, limit } => write!(
                f,
                "string of module {index} is longer than the {limit} bytes the kernel holds"
            ),
            Self::BadString {
                what,
                index: Some(index),
                reason,
            } => write!(f, "{what} of module {index} {reason}"),
            Self::BadString {
                what,
                index: None,
                reason,
            } => write!(f, "{what} {reason}"),
        }
    }
}

impl core::error::Error for BootInfoError {}
