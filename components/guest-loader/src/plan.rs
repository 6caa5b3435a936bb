//! The output of a loader and the bookkeeping that keeps it inside guest RAM
//! and free of overlaps.

use alloc::borrow::Cow;
use alloc::vec::Vec;
use core::fmt;

use crate::error::Error;
use crate::state::InitialVpState;

/// The partition's guest RAM: guest-physical `[0, size)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestMemory {
    /// RAM size in bytes.
    pub size: u64,
}

/// What a range of the plan holds; errors name the piece that does not fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece {
    /// An ELF `PT_LOAD` segment (its file data or its zero-filled tail), by
    /// program header index.
    Segment(usize),
    /// The text and data of an a.out-kludge Multiboot kernel.
    Kernel,
    /// The bss of an a.out-kludge Multiboot kernel.
    KernelBss,
    /// The ELF64 loader's page tables (PML4, PDPT, PDs).
    PageTables,
    /// The ELF64 loader's GDT page.
    Gdt,
    /// The ELF64 loader's initial stack.
    Stack,
    /// The Multiboot low area: memory map, information structure and GDT.
    MultibootInfo,
    /// The Multiboot module list and command-line strings.
    BootStrings,
    /// A Multiboot module, by index.
    Module(usize),
    /// The protected-mode code of a Linux kernel.
    LinuxKernel,
    /// The rest of a Linux kernel's `init_size`, which it uses while it
    /// decompresses itself (reserved: nothing is written there).
    LinuxKernelInit,
    /// A Linux initrd.
    Initrd,
    /// The Linux zero page (`boot_params`).
    ZeroPage,
    /// The Linux kernel command line.
    CommandLine,
    /// The partition's ACPI tables.
    AcpiTables,
}

impl fmt::Display for Piece {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Segment(index) => write!(f, "loadable segment (program header {index})"),
            Self::Kernel => f.write_str("kernel image (a.out kludge)"),
            Self::KernelBss => f.write_str("kernel bss (a.out kludge)"),
            Self::PageTables => f.write_str("identity-map page tables"),
            Self::Gdt => f.write_str("GDT"),
            Self::Stack => f.write_str("initial stack"),
            Self::MultibootInfo => f.write_str("Multiboot information (memory map, MBI, GDT)"),
            Self::BootStrings => f.write_str("Multiboot module list and command lines"),
            Self::Module(index) => write!(f, "module {index}"),
            Self::LinuxKernel => f.write_str("Linux kernel (protected-mode code)"),
            Self::LinuxKernelInit => {
                f.write_str("Linux kernel's init_size (the memory it decompresses into)")
            }
            Self::Initrd => f.write_str("initrd"),
            Self::ZeroPage => f.write_str("zero page (boot_params)"),
            Self::CommandLine => f.write_str("kernel command line"),
            Self::AcpiTables => f.write_str("ACPI tables"),
        }
    }
}

/// Bytes to copy to guest-physical address `gpa`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write<'a> {
    /// What the bytes are.
    pub what: Piece,
    /// Guest-physical address of the first byte.
    pub gpa: u64,
    /// The bytes: borrowed from the image or a module, or built here.
    pub bytes: Cow<'a, [u8]>,
}

/// A guest-physical range to fill with zeros (bss, stack).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZeroFill {
    /// What the range is.
    pub what: Piece,
    /// Guest-physical address of the first byte.
    pub gpa: u64,
    /// Length in bytes.
    pub len: u64,
}

/// Everything needed to start a guest: the memory contents and the first
/// VP's registers.
///
/// Every write and zero fill lies inside guest RAM, none is empty, and no two
/// overlap, so they can be applied in any order. Guest memory not covered by
/// them is left as the partition manager provides it (normally zero).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadPlan<'a> {
    /// Bytes to copy into guest memory.
    pub writes: Vec<Write<'a>>,
    /// Ranges to zero.
    pub zero: Vec<ZeroFill>,
    /// The first virtual processor's initial state.
    pub vp: InitialVpState,
}

/// Collects writes and zero fills, checking each against guest RAM (and,
/// for Multiboot and Linux, the 4 GiB limit) and, at the end, against each
/// other.
pub(crate) struct Builder<'a> {
    ram: u64,
    /// Exclusive upper bound on any address (`None`: only RAM limits).
    limit: Option<u64>,
    claims: Vec<(u64, u64, Piece)>,
    writes: Vec<Write<'a>>,
    zero: Vec<ZeroFill>,
}

impl<'a> Builder<'a> {
    pub(crate) fn new(memory: GuestMemory, limit: Option<u64>) -> Self {
        Self {
            ram: memory.size,
            limit,
            claims: Vec::new(),
            writes: Vec::new(),
            zero: Vec::new(),
        }
    }

    fn claim(&mut self, what: Piece, gpa: u64, len: u64) -> Result<(), Error> {
        let end = gpa
            .checked_add(len)
            .ok_or(Error::AddressOverflow { what })?;
        if let Some(limit) = self.limit
            && end > limit
        {
            return Err(Error::Above4GiB { what, end });
        }
        if end > self.ram {
            return Err(Error::OutsideRam {
                what,
                gpa,
                len,
                ram: self.ram,
            });
        }
        self.claims.push((gpa, end, what));
        Ok(())
    }

    /// Checks bounds only, without claiming (for a piece that turns out to
    /// be empty but whose address the guest is told about).
    pub(crate) fn check(&self, what: Piece, gpa: u64, len: u64) -> Result<(), Error> {
        let end = gpa
            .checked_add(len)
            .ok_or(Error::AddressOverflow { what })?;
        if let Some(limit) = self.limit
            && end > limit
        {
            return Err(Error::Above4GiB { what, end });
        }
        Ok(())
    }

    /// Adds a write (nothing if `bytes` is empty).
    pub(crate) fn write(
        &mut self,
        what: Piece,
        gpa: u64,
        bytes: impl Into<Cow<'a, [u8]>>,
    ) -> Result<(), Error> {
        let bytes = bytes.into();
        if bytes.is_empty() {
            return self.check(what, gpa, 0);
        }
        self.claim(what, gpa, bytes.len() as u64)?;
        self.writes.push(Write { what, gpa, bytes });
        Ok(())
    }

    /// Claims a range the guest is told is in use but that nothing is
    /// written to (nothing if `len` is 0): other pieces may not overlap it.
    pub(crate) fn reserve(&mut self, what: Piece, gpa: u64, len: u64) -> Result<(), Error> {
        if len == 0 {
            return self.check(what, gpa, 0);
        }
        self.claim(what, gpa, len)
    }

    /// Adds a zero fill (nothing if `len` is 0).
    pub(crate) fn zero(&mut self, what: Piece, gpa: u64, len: u64) -> Result<(), Error> {
        if len == 0 {
            return self.check(what, gpa, 0);
        }
        self.claim(what, gpa, len)?;
        self.zero.push(ZeroFill { what, gpa, len });
        Ok(())
    }

    /// Checks that no two pieces overlap and returns the plan.
    pub(crate) fn finish(mut self, vp: InitialVpState) -> Result<LoadPlan<'a>, Error> {
        self.claims
            .sort_unstable_by_key(|&(start, end, _)| (start, end));
        // Sorted by start, any overlap implies an overlap of neighbours.
        for pair in self.claims.windows(2) {
            let (_, first_end, first) = pair[0];
            let (second_start, _, second) = pair[1];
            if second_start < first_end {
                return Err(Error::Overlap {
                    first,
                    second,
                    gpa: second_start,
                });
            }
        }
        Ok(LoadPlan {
            writes: self.writes,
            zero: self.zero,
            vp,
        })
    }
}
