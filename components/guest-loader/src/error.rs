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
    /// A piece of a Multiboot or Linux load ends above 4 GiB (exclusive
    /// `end`).
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
    /// The image ends before what its Linux setup header says is there
    /// (`needed` bytes).
    LinuxTruncated { needed: u64, len: u64 },
    /// No "HdrS" at offset 0x202: not a Linux kernel image.
    NotLinux,
    /// The Linux boot protocol is older than 2.12.
    LinuxProtocolTooOld { version: u16 },
    /// `loadflags` lacks `LOADED_HIGH`: a zImage, not a bzImage.
    LinuxNotBzImage,
    /// `xloadflags` lacks `XLF_KERNEL_64`: no 64-bit entry point.
    LinuxNot64Bit,
    /// The Linux setup header is inconsistent.
    LinuxBadHeader(&'static str),
    /// The command line is longer than the kernel's `cmdline_size` (or
    /// than the loader's room for it).
    LinuxCommandLineTooLong { len: u64, max: u64 },
    /// The initrd does not fit between the kernel's end and the lower of
    /// `initrd_addr_max + 1` and the end of RAM (`limit`).
    LinuxInitrdDoesNotFit {
        size: u64,
        kernel_end: u64,
        limit: u64,
    },
    /// The ACPI tables could not be built.
    Acpi(tessera_acpi_tables::Error),
    /// The ACPI tables do not fit below 1 MiB.
    AcpiTablesTooLarge { len: u64, max: u64 },
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
                    "{what} ends at {end:#x}, above 4 GiB, beyond the boot protocol's 32-bit addresses"
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
            Self::LinuxTruncated { needed, len } => write!(
                f,
                "the Linux kernel image is truncated: its setup header needs {needed:#x} bytes, \
                 the file has {len:#x}"
            ),
            Self::NotLinux => f.write_str(
                "not a Linux kernel: no setup header magic \"HdrS\" at offset 0x202 (a bzImage \
                 such as /boot/vmlinuz-*)",
            ),
            Self::LinuxProtocolTooOld { version } => write!(
                f,
                "the Linux boot protocol {}.{:02} is too old: 2.12 or later is needed (Linux 3.8+)",
                version >> 8,
                version & 0xFF
            ),
            Self::LinuxNotBzImage => {
                f.write_str("a zImage (loadflags without LOADED_HIGH): only bzImages are loaded")
            }
            Self::LinuxNot64Bit => f.write_str(
                "the kernel has no 64-bit entry point (xloadflags without XLF_KERNEL_64): \
                 a 64-bit kernel is needed",
            ),
            Self::LinuxBadHeader(what) => write!(f, "bad Linux setup header: {what}"),
            Self::LinuxCommandLineTooLong { len, max } => write!(
                f,
                "the kernel command line is {len} bytes long, at most {max} fit"
            ),
            Self::LinuxInitrdDoesNotFit {
                size,
                kernel_end,
                limit,
            } => write!(
                f,
                "the initrd ({size:#x} bytes) does not fit between the kernel's end {kernel_end:#x} \
                 and {limit:#x} (the lower of initrd_addr_max + 1 and the end of RAM)"
            ),
            Self::Acpi(e) => write!(f, "the ACPI tables: {e}"),
            Self::AcpiTablesTooLarge { len, max } => write!(
                f,
                "the ACPI tables take {len:#x} bytes, more than the {max:#x} below 1 MiB"
            ),
        }
    }
}

impl core::error::Error for Error {}
