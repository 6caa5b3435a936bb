//! The Linux x86 boot protocol (Linux `Documentation/arch/x86/boot.rst`),
//! 64-bit entry: a bzImage of protocol 2.12 or later, with its command
//! line, an initrd and the partition's ACPI tables.
//!
//! # Layout
//!
//! | guest-physical | contents |
//! | --- | --- |
//! | [`GDT_GPA`] (one page) | the GDT: `__BOOT_CS` (0x10), flat 64-bit code; `__BOOT_DS` (0x18), flat data |
//! | [`STACK_GPA`] (one page) | a stack, zeroed (`RSP` = its top): the protocol asks for none, the kernel sets up its own before it pushes |
//! | [`ZERO_PAGE_GPA`] (one page) | the zero page, `boot_params` ([`zero_page`]) |
//! | [`CMDLINE_GPA`] (up to [`CMDLINE_MAX`] bytes) | the command line, NUL-terminated |
//! | [`PAGE_TABLES_GPA`] | the identity map of all of RAM in 2 MiB pages (PML4, PDPT, PDs), which covers what the protocol asks to be mapped: the kernel's `init_size` from its load address, the zero page and the command line |
//! | [`ACPI_GPA`] (below 1 MiB) | the ACPI tables (`tessera-acpi-tables`), RSDP first: `acpi_rsdp_addr` points there, and a kernel that scans the BIOS area for the RSDP finds it too |
//! | the load address | the protected-mode kernel (`syssize` × 16 bytes after the setup sectors); `init_size` bytes from there are the kernel's, kept free of anything else |
//! | top of RAM (below `initrd_addr_max`) | the initrd, page-aligned |
//!
//! The load address is `pref_address` (at least 1 MiB), rounded up to
//! `kernel_alignment` for a relocatable kernel — where a relocatable
//! kernel decompresses itself anyway (it runs at no less than its
//! `LOAD_PHYSICAL_ADDR`), so loading it lower would save nothing. Every
//! piece lies below 4 GiB (the zero page's addresses are 32-bit).
//!
//! # Memory map (e820)
//!
//! RAM `[0, 0x9FC00)`, reserved `[0x9FC00, 0xA0000)`, ACPI tables (type 3)
//! from [`ACPI_GPA`] to the end of their page, the rest of the BIOS area
//! up to 1 MiB reserved, RAM from 1 MiB to the end of the partition's
//! memory ([`zero_page::memory_map`]).
//!
//! # Entry ("64-bit Boot Protocol")
//!
//! 64-bit mode, paging on the identity map (`CR0 = PG | NE | ET | PE`,
//! `CR4 = PAE`, `EFER = LME | LMA`), `CS = 0x10`, `DS = ES = SS = FS = GS =
//! 0x18`, interrupts off (`RFLAGS = 0x2`), an empty IDT, `RIP` = the load
//! address + 0x200 (`startup_64`), `RSI` = the zero page, other
//! general-purpose registers 0.

mod header;
pub mod zero_page;

use alloc::borrow::Cow;

pub use header::{ACPI_RSDP_VERSION, LOADED_HIGH, MIN_VERSION, SetupHeader, XLF_KERNEL_64};
use tessera_acpi_tables as acpi;

use crate::error::Error;
use crate::plan::{Builder, GuestMemory, LoadPlan, Piece};
use crate::state::{InitialVpState, Segment};
use crate::{PAGE, long_mode};

/// `__BOOT_CS` and `__BOOT_DS`, the selectors the protocol names.
pub const BOOT_CS: u16 = 0x10;
pub const BOOT_DS: u16 = 0x18;

/// Where the loader's pieces go (see the [module documentation](self)).
pub const GDT_GPA: u64 = 0x1000;
pub const STACK_GPA: u64 = 0x2000;
pub const ZERO_PAGE_GPA: u64 = 0x3000;
pub const CMDLINE_GPA: u64 = 0x4000;
/// The longest command line placed, its NUL included (to the page tables).
pub const CMDLINE_MAX: u64 = PAGE_TABLES_GPA - CMDLINE_GPA;
pub const PAGE_TABLES_GPA: u64 = 0x1_0000;
pub const ACPI_GPA: u64 = 0xE_0000;
/// The ACPI tables must end below 1 MiB.
pub const ACPI_MAX: u64 = zero_page::HIGH_RAM_START - ACPI_GPA;
/// The 64-bit entry point's offset from the load address.
pub const ENTRY_64: u64 = 0x200;
/// The lowest load address (bzImages load "high").
pub const MIN_LOAD: u64 = 0x10_0000;
/// The largest guest RAM: the page tables must end below the EBDA.
pub const MAX_RAM: u64 = 64 << 30;

const FOUR_GIB: u64 = 1 << 32;

/// What to boot.
#[derive(Clone, Copy, Debug)]
pub struct LinuxBoot<'a> {
    /// The bzImage.
    pub kernel: &'a [u8],
    /// The command line (no NUL; at most the kernel's `cmdline_size`).
    pub cmdline: &'a str,
    /// The initrd; empty for none.
    pub initrd: &'a [u8],
    /// What the ACPI tables describe.
    pub acpi: acpi::Config,
}

/// Where [`load_linux`] put what (for logs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinuxLayout {
    /// The setup header.
    pub header: SetupHeader,
    /// The protected-mode kernel's load address.
    pub kernel: u64,
    /// The bytes from `kernel` on that are the kernel's (`init_size`, or
    /// the code if larger).
    pub kernel_extent: u64,
    /// The initrd's address (0 without one).
    pub initrd: u64,
    /// The RSDP's address.
    pub rsdp: u64,
}

/// Plans booting `boot.kernel` in `memory` (see the [module
/// documentation](self)).
///
/// # Errors
///
/// Any [`Error`]: a bad or unsuitable bzImage (each reason its own
/// variant), a command line that is too long or holds a NUL, an initrd that
/// does not fit below `initrd_addr_max` and the end of RAM above the
/// kernel, a kernel that does not fit in RAM, or RAM beyond [`MAX_RAM`].
pub fn load_linux<'a>(
    boot: &LinuxBoot<'a>,
    memory: GuestMemory,
) -> Result<(LoadPlan<'a>, LinuxLayout), Error> {
    let header = SetupHeader::parse(boot.kernel)?;
    if memory.size > MAX_RAM {
        return Err(Error::RamTooLarge {
            size: memory.size,
            max: MAX_RAM,
        });
    }
    if boot.cmdline.contains('\0') {
        return Err(Error::NulInCommandLine { module: None });
    }
    let cmdline_len = boot.cmdline.len() as u64;
    let cmdline_max = u64::from(header.cmdline_size).min(CMDLINE_MAX - 1);
    if cmdline_len > cmdline_max {
        return Err(Error::LinuxCommandLineTooLong {
            len: cmdline_len,
            max: cmdline_max,
        });
    }

    let mut builder = Builder::new(memory, Some(FOUR_GIB - 1));

    // The kernel, and the memory it takes while it decompresses itself.
    let kernel = load_address(&header)?;
    let code = header.protected_mode(boot.kernel);
    let kernel_extent = u64::from(header.init_size).max(code.len() as u64);
    builder.write(Piece::LinuxKernel, kernel, code)?;
    builder.reserve(
        Piece::LinuxKernelInit,
        kernel + code.len() as u64,
        kernel_extent - code.len() as u64,
    )?;
    let kernel_end = kernel + kernel_extent;

    // The initrd, as high as it may go.
    let initrd = if boot.initrd.is_empty() {
        0
    } else {
        let size = boot.initrd.len() as u64;
        let limit = (u64::from(header.initrd_addr_max) + 1)
            .min(memory.size)
            .min(FOUR_GIB);
        let at = limit
            .checked_sub(size)
            .map(|top| top & !(PAGE - 1))
            .filter(|&at| at >= kernel_end)
            .ok_or(Error::LinuxInitrdDoesNotFit {
                size,
                kernel_end,
                limit,
            })?;
        builder.write(Piece::Initrd, at, boot.initrd)?;
        at
    };

    let tables = acpi::build(&boot.acpi, ACPI_GPA).map_err(Error::Acpi)?;
    let acpi_len = tables.bytes.len() as u64;
    if acpi_len > ACPI_MAX {
        return Err(Error::AcpiTablesTooLarge {
            len: acpi_len,
            max: ACPI_MAX,
        });
    }
    let rsdp = tables.rsdp();
    builder.write(Piece::AcpiTables, ACPI_GPA, tables.bytes)?;

    let mut cmdline = alloc::vec::Vec::with_capacity(boot.cmdline.len() + 1);
    cmdline.extend_from_slice(boot.cmdline.as_bytes());
    cmdline.push(0);
    builder.write(Piece::CommandLine, CMDLINE_GPA, cmdline)?;

    // Casts: every piece ends below 4 GiB (the builder's limit).
    let map = zero_page::memory_map(memory.size, ACPI_GPA, ACPI_GPA + acpi_len);
    let params = zero_page::BootParams {
        kernel_load: kernel as u32,
        cmdline: CMDLINE_GPA as u32,
        initrd: (initrd as u32, boot.initrd.len() as u32),
        rsdp,
        memory_map: &map,
    };
    let zero_page = zero_page::build(boot.kernel, &header, &params);
    builder.write(Piece::ZeroPage, ZERO_PAGE_GPA, zero_page)?;

    let mut vp = InitialVpState::flat_with(BOOT_CS, BOOT_DS, Segment::CODE64_ATTRIBUTES, GDT_GPA);
    builder.write(Piece::Gdt, GDT_GPA, long_mode::gdt_page(&vp))?;
    builder.zero(Piece::Stack, STACK_GPA, PAGE)?;
    builder.write(
        Piece::PageTables,
        PAGE_TABLES_GPA,
        Cow::Owned(long_mode::identity_tables(PAGE_TABLES_GPA, memory.size)),
    )?;

    long_mode::enter(&mut vp, PAGE_TABLES_GPA);
    vp.rip = kernel + ENTRY_64;
    vp.rsp = STACK_GPA + PAGE;
    vp.rsi = ZERO_PAGE_GPA;
    let layout = LinuxLayout {
        header,
        kernel,
        kernel_extent,
        initrd,
        rsdp,
    };
    Ok((builder.finish(vp)?, layout))
}

/// Where the protected-mode kernel goes: `pref_address` (at least 1 MiB)
/// rounded up to `kernel_alignment` if the kernel is relocatable;
/// exactly `pref_address` if not ("A non-relocatable kernel will
/// unconditionally move itself and to run at this address").
fn load_address(header: &SetupHeader) -> Result<u64, Error> {
    let preferred = header.pref_address.max(MIN_LOAD);
    if !header.relocatable_kernel {
        if header.pref_address < MIN_LOAD {
            return Err(Error::LinuxBadHeader(
                "a non-relocatable kernel's pref_address is below 1 MiB",
            ));
        }
        return Ok(preferred);
    }
    crate::align_up(preferred, u64::from(header.kernel_alignment)).ok_or(Error::AddressOverflow {
        what: Piece::LinuxKernel,
    })
}
