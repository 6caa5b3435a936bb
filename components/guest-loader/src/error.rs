//! Why an image cannot be loaded.

use alloc::string::String;
use core::fmt;

use crate::plan::Piece;

/// Why a guest image cannot be loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The image is not a well-formed ELF file (the parser's message).
    NotElf(String),
    /// The ELF file has the wrong class (`expected` is 32 or 64).
    WrongClass { expected: u8 },
    /// The ELF file is for another machine.
    WrongMachine { found: u16, expected: u16 },
    /// The ELF file is not a static executable (`ET_EXEC`).
    NotExecutable { e_type: u16 },
    /// The ELF file has no program headers.
    NoProgramHeaders,
    /// The ELF file has no non-empty `PT_LOAD` segment.
    NoLoadableSegment,
    /// A segment's file size exceeds its memory size.
    SegmentFileSizeExceedsMemSize { index: usize },
    /// A segment's file data lies (partly) outside the file.
    SegmentDataOutsideFile { index: usize },
    /// The ELF entry point is not inside any loaded segment.
    EntryOutsideImage { entry: u64 },
    /// A piece's address range wraps around the address space.
    AddressOverflow { what: Piece },
    /// A piece does not fit in guest RAM.
    OutsideRam {
        what: Piece,
        gpa: u64,
        len: u64,
        ram: u64,
    },
    /// Two pieces overlap (`gpa`: where the second starts).
    Overlap {
        first: Piece,
        second: Piece,
        gpa: u64,
    },
    /// A piece of a Multiboot load ends above 4 GiB (exclusive `end`).
    Above4GiB { what: Piece, end: u64 },
    /// Guest RAM is larger than the loader can map.
    RamTooLarge { size: u64, max: u64 },
    /// Guest RAM is too small for the loader's own structures.
    RamTooSmall { size: u64, needed: u64 },
    /// No Multiboot header in the first 8192 bytes.
    NoMultibootHeader,
    /// A Multiboot magic was found (at `offset`) but no header with a valid
    /// checksum.
    MultibootChecksum { offset: usize },
    /// The Multiboot header requests features this loader does not provide
    /// (the unsupported bits of `flags`).
    UnsupportedMultibootFlags { flags: u32 },
    /// The Multiboot header's address fields (a.out kludge) extend past the
    /// first 8192 bytes or the end of the file.
    MultibootHeaderTruncated { offset: usize },
    /// The a.out-kludge addresses are inconsistent.
    InvalidAoutAddresses(&'static str),
    /// A command line contains a NUL byte (`module`: `None` for the kernel's).
    NulInCommandLine { module: Option<usize> },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotElf(message) => write!(f, "not a valid ELF file: {message}"),
            Self::WrongClass { expected } => write!(f, "not an ELF{expected} file"),
            Self::WrongMachine { found, expected } => {
                write!(f, "ELF machine {found} is not the expected {expected}")
            }
            Self::NotExecutable { e_type } => {
                write!(f, "ELF type {e_type} is not a static executable (ET_EXEC)")
            }
            Self::NoProgramHeaders => f.write_str("the ELF file has no program headers"),
            Self::NoLoadableSegment => f.write_str("the ELF file has no loadable segment"),
            Self::SegmentFileSizeExceedsMemSize { index } => {
                write!(f, "program header {index}: file size exceeds memory size")
            }
            Self::SegmentDataOutsideFile { index } => {
                write!(f, "program header {index}: its data lies outside the file")
            }
            Self::EntryOutsideImage { entry } => {
                write!(f, "the entry point {entry:#x} is not in a loaded segment")
            }
            Self::AddressOverflow { what } => write!(f, "{what}: address range wraps around"),
            Self::OutsideRam {
                what,
                gpa,
                len,
                ram,
            } => write!(
                f,
                "{what} at {gpa:#x} ({len:#x} bytes) does not fit in guest RAM ({ram:#x} bytes)"
            ),
            Self::Overlap { first, second, gpa } => {
                write!(f, "{second} overlaps {first} at {gpa:#x}")
            }
            Self::Above4GiB { what, end } => {
                write!(
                    f,
                    "{what} ends at {end:#x}, above the 4 GiB Multiboot limit"
                )
            }
            Self::RamTooLarge { size, max } => {
                write!(
                    f,
                    "guest RAM ({size:#x} bytes) exceeds the maximum {max:#x}"
                )
            }
            Self::RamTooSmall { size, needed } => write!(
                f,
                "guest RAM ({size:#x} bytes) is too small: the loader needs {needed:#x} bytes"
            ),
            Self::NoMultibootHeader => f.write_str("no Multiboot header in the first 8192 bytes"),
            Self::MultibootChecksum { offset } => {
                write!(f, "Multiboot header at {offset:#x}: bad checksum")
            }
            Self::UnsupportedMultibootFlags { flags } => {
                write!(
                    f,
                    "Multiboot header requires unsupported features (flags {flags:#x})"
                )
            }
            Self::MultibootHeaderTruncated { offset } => write!(
                f,
                "Multiboot header at {offset:#x}: address fields extend past the first 8192 bytes or the file"
            ),
            Self::InvalidAoutAddresses(what) => write!(f, "Multiboot a.out kludge: {what}"),
            Self::NulInCommandLine { module: None } => {
                f.write_str("the kernel command line contains a NUL byte")
            }
            Self::NulInCommandLine {
                module: Some(index),
            } => write!(f, "the command line of module {index} contains a NUL byte"),
        }
    }
}

impl core::error::Error for Error {}
