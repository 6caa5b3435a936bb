//! The Multiboot (version 1, spec 0.6.96) loader, entering the kernel the
//! way QEMU's `-kernel … -append … -initrd …` does.
//!
//! # Header
//!
//! The header is the first longword-aligned `0x1BADB002` in the first 8192
//! bytes whose checksum is valid (§3.1.1). Flags (§3.1.2):
//!
//! - bit 0 (page-align modules): honoured — modules are always page aligned;
//! - bit 1 (memory information): honoured — always provided;
//! - bit 2 (video mode): **refused** ([`Error::UnsupportedMultibootFlags`]):
//!   partitions have no framebuffer to describe;
//! - bits 3–15: unknown required features, refused as the spec demands;
//! - bit 16 (a.out kludge): the header's address fields are used even if the
//!   file is an ELF file, with QEMU's semantics (`load_end_addr = 0`: load to
//!   the end of the file; `bss_end_addr = 0`: no bss). The text starts at file
//!   offset `header offset - (header_addr - load_addr)`; `entry_addr` is
//!   used as given (like QEMU, not checked against the image);
//! - bits 17–31: optional, ignored.
//!
//! Without bit 16 the file must be a static ELF32 `EM_386` executable; its
//! `PT_LOAD` segments are loaded as the ELF64 loader does (physical address
//! `p_paddr`, bss zeroed, entry translated through `p_vaddr`).
//!
//! # Layout
//!
//! Like QEMU:
//!
//! - the low area at [`INFO_BASE`] (0x9000): the memory map at 0x9000
//!   ([`MMAP_ADDR`]), the Multiboot information structure at 0x9500
//!   ([`MBI_ADDR`], 116 bytes) and a GDT at 0x9600 ([`GDT_ADDR`], 24 bytes);
//! - right after the kernel (its highest byte, bss included, rounded up to
//!   4 KiB): the module list (16 bytes a module), then the NUL-terminated
//!   kernel command line, the modules' command lines and the boot loader
//!   name `"tessera"`;
//! - then each module, starting on a 4 KiB boundary, in the order given.
//!
//! Everything must end below 4 GiB and inside RAM, and nothing may overlap.
//!
//! # Information structure
//!
//! Flags: 0 (`mem_lower`/`mem_upper`), 2 (`cmdline`), 3 (`mods`, even with no
//! modules), 6 (`mmap`), 9 (`boot_loader_name`). `mem_lower` =
//! min(RAM, 0x9FC00) / 1024 (639 for the usual layout), `mem_upper` =
//! (min(RAM, 4 GiB) − 1 MiB) / 1024. The memory map, like QEMU's, has RAM
//! `[0, 0x9FC00)` (type 1), reserved `[0x9FC00, 1 MiB)` (type 2) and RAM
//! `[1 MiB, RAM size)` (type 1), each clipped to the RAM size. The kernel
//! command line is passed as given (QEMU prepends the kernel's file name;
//! a partition manager that wants that prepends it itself).
//!
//! # Initial state
//!
//! 32-bit protected mode, paging off: `CR0 = PE | ET`, `CR4 = EFER = 0`;
//! `CS` = selector 0x08, flat 4 GiB 32-bit code (D=1, G=1); the data
//! segments = selector 0x10, flat; `GDTR` = the GDT at 0x9600, `IDTR` empty;
//! `EAX = 0x2BADB002`, `EBX = 0x9500`, `EIP` = the entry point;
//! `RFLAGS = 0x2`; `ESP = 0` (the spec gives no stack) and all other
//! general-purpose registers 0.

use alloc::borrow::Cow;
use alloc::vec;
use alloc::vec::Vec;
use elf::abi::EM_386;
use elf::file::Class;

use crate::elf64::load_segments;
use crate::error::Error;
use crate::plan::{Builder, GuestMemory, LoadPlan, Piece};
use crate::state::{InitialVpState, Segment, gdt_bytes};
use crate::{PAGE, align_up};

/// The header magic (§3.1.1).
pub const HEADER_MAGIC: u32 = 0x1BAD_B002;
/// The value in `EAX` on entry (§3.2).
pub const BOOTLOADER_MAGIC: u32 = 0x2BAD_B002;
/// How far into the image the header may lie.
pub const HEADER_SEARCH: usize = 8192;

/// Header flag: align modules on page boundaries.
pub const FLAG_PAGE_ALIGN: u32 = 1 << 0;
/// Header flag: provide memory information.
pub const FLAG_MEMORY_INFO: u32 = 1 << 1;
/// Header flag: provide video mode information (not supported).
pub const FLAG_VIDEO_MODE: u32 = 1 << 2;
/// Header flag: the a.out kludge address fields are valid.
pub const FLAG_AOUT_KLUDGE: u32 = 1 << 16;

/// Information flag: `mem_lower`/`mem_upper` valid.
pub const INFO_MEMORY: u32 = 1 << 0;
/// Information flag: `cmdline` valid.
pub const INFO_CMDLINE: u32 = 1 << 2;
/// Information flag: `mods_count`/`mods_addr` valid.
pub const INFO_MODS: u32 = 1 << 3;
/// Information flag: `mmap_length`/`mmap_addr` valid.
pub const INFO_MMAP: u32 = 1 << 6;
/// Information flag: `boot_loader_name` valid.
pub const INFO_BOOT_LOADER_NAME: u32 = 1 << 9;

/// Start of the low area (memory map, information structure, GDT).
pub const INFO_BASE: u64 = 0x9000;
/// Address of the memory map.
pub const MMAP_ADDR: u64 = INFO_BASE;
/// Address of the Multiboot information structure (`EBX`).
pub const MBI_ADDR: u64 = INFO_BASE + 0x500;
/// Address of the GDT.
pub const GDT_ADDR: u64 = INFO_BASE + 0x600;
/// Size of the information structure written (through the framebuffer
/// fields, all zero beyond `boot_loader_name`).
pub const MBI_SIZE: usize = 116;
/// The boot loader name passed in the information structure.
pub const BOOT_LOADER_NAME: &str = "tessera";

/// `CR0` on entry: `PE | ET`.
pub const CR0: u64 = (1 << 4) | 1;

/// End of conventional memory as QEMU reports it (639 KiB; the EBDA above).
pub const LOW_MEMORY_END: u64 = 0x9_FC00;
/// Start of upper memory.
pub const HIGH_MEMORY_START: u64 = 0x10_0000;

const FOUR_GIB: u64 = 1 << 32;

/// A boot module: its contents and command line (`-initrd "file args"`).
#[derive(Clone, Copy, Debug)]
pub struct Module<'a> {
    /// The module's contents.
    pub image: &'a [u8],
    /// The module's command line (no NUL bytes).
    pub cmdline: &'a str,
}

/// Plans loading a Multiboot 1 kernel with a command line and modules into
/// `memory` (see the [module documentation](self)).
///
/// # Errors
///
/// Any [`Error`]: no valid header, unsupported flags, bad a.out addresses, a
/// malformed ELF32 file, a piece outside RAM or above 4 GiB, overlapping
/// pieces, or a command line with a NUL byte.
pub fn load_multiboot<'a>(
    image: &'a [u8],
    memory: GuestMemory,
    cmdline: &str,
    modules: &[Module<'a>],
) -> Result<LoadPlan<'a>, Error> {
    if cmdline.contains('\0') {
        return Err(Error::NulInCommandLine { module: None });
    }
    if let Some(index) = modules.iter().position(|m| m.cmdline.contains('\0')) {
        return Err(Error::NulInCommandLine {
            module: Some(index),
        });
    }
    let (offset, flags) = find_header(image)?;
    let unsupported = flags & 0xFFFF & !(FLAG_PAGE_ALIGN | FLAG_MEMORY_INFO);
    if unsupported != 0 {
        return Err(Error::UnsupportedMultibootFlags { flags: unsupported });
    }

    let mut builder = Builder::new(memory, Some(FOUR_GIB - 1));
    let (entry, kernel_end) = if flags & FLAG_AOUT_KLUDGE != 0 {
        load_aout(&mut builder, image, offset)?
    } else {
        let loaded = load_segments(&mut builder, image, Class::ELF32, EM_386)?;
        (loaded.entry, loaded.end)
    };

    // Module list and strings right after the kernel, then the modules.
    let strings_base = align_up(kernel_end, PAGE).ok_or(Error::AddressOverflow {
        what: Piece::BootStrings,
    })?;
    let list_len = modules.len() * 16;
    let mut strings: Vec<u8> = vec![0; list_len];
    let mut push_string = |s: &str| -> u64 {
        let at = strings_base + strings.len() as u64;
        strings.extend_from_slice(s.as_bytes());
        strings.push(0);
        at
    };
    let cmdline_addr = push_string(cmdline);
    let module_cmdlines: Vec<u64> = modules.iter().map(|m| push_string(m.cmdline)).collect();
    let name_addr = push_string(BOOT_LOADER_NAME);
    let mut next = strings_base
        .checked_add(strings.len() as u64)
        .and_then(|end| align_up(end, PAGE));
    for (index, module) in modules.iter().enumerate() {
        let what = Piece::Module(index);
        let start = next.ok_or(Error::AddressOverflow { what })?;
        builder.write(what, start, module.image)?;
        let end = start + module.image.len() as u64;
        // Bounded by the 4 GiB check in `write`: the casts do not truncate.
        let entry = &mut strings[index * 16..index * 16 + 16];
        entry[0..4].copy_from_slice(&(start as u32).to_le_bytes());
        entry[4..8].copy_from_slice(&(end as u32).to_le_bytes());
        entry[8..12].copy_from_slice(&(module_cmdlines[index] as u32).to_le_bytes());
        next = align_up(end, PAGE);
    }
    builder.write(Piece::BootStrings, strings_base, Cow::Owned(strings))?;

    // The low area: memory map, information structure, GDT.
    let mut low = vec![0u8; (GDT_ADDR - INFO_BASE) as usize + 24];
    let mmap = memory_map(memory.size);
    let mut at = (MMAP_ADDR - INFO_BASE) as usize;
    for (base, length, kind) in &mmap {
        put_u32(&mut low, at, 20);
        low[at + 4..at + 12].copy_from_slice(&base.to_le_bytes());
        low[at + 12..at + 20].copy_from_slice(&length.to_le_bytes());
        put_u32(&mut low, at + 20, *kind);
        at += 24;
    }
    let mbi = (MBI_ADDR - INFO_BASE) as usize;
    let flags = INFO_MEMORY | INFO_CMDLINE | INFO_MODS | INFO_MMAP | INFO_BOOT_LOADER_NAME;
    let mem_lower = memory.size.min(LOW_MEMORY_END) / 1024;
    let mem_upper = memory.size.min(FOUR_GIB).saturating_sub(HIGH_MEMORY_START) / 1024;
    put_u32(&mut low, mbi, flags);
    put_u32(&mut low, mbi + 4, mem_lower as u32);
    put_u32(&mut low, mbi + 8, mem_upper as u32);
    put_u32(&mut low, mbi + 16, cmdline_addr as u32);
    put_u32(&mut low, mbi + 20, modules.len() as u32);
    put_u32(&mut low, mbi + 24, strings_base as u32);
    put_u32(&mut low, mbi + 44, (mmap.len() * 24) as u32);
    put_u32(&mut low, mbi + 48, MMAP_ADDR as u32);
    put_u32(&mut low, mbi + 64, name_addr as u32);
    debug_assert!(mbi + MBI_SIZE <= (GDT_ADDR - INFO_BASE) as usize);

    let mut vp = InitialVpState::flat(Segment::CODE32_ATTRIBUTES, GDT_ADDR);
    let gdt = (GDT_ADDR - INFO_BASE) as usize;
    let gdt_image = gdt_bytes(&vp);
    low[gdt..gdt + gdt_image.len()].copy_from_slice(&gdt_image);
    builder.write(Piece::MultibootInfo, INFO_BASE, low)?;

    vp.rip = entry;
    vp.rax = u64::from(BOOTLOADER_MAGIC);
    vp.rbx = MBI_ADDR;
    vp.cr0 = CR0;
    builder.finish(vp)
}

/// The memory map (base, length, type) QEMU would give for RAM `[0, size)`.
fn memory_map(size: u64) -> Vec<(u64, u64, u32)> {
    let mut map = Vec::new();
    let low = size.min(LOW_MEMORY_END);
    if low > 0 {
        map.push((0, low, 1));
    }
    if size > LOW_MEMORY_END {
        map.push((
            LOW_MEMORY_END,
            size.min(HIGH_MEMORY_START) - LOW_MEMORY_END,
            2,
        ));
    }
    if size > HIGH_MEMORY_START {
        map.push((HIGH_MEMORY_START, size - HIGH_MEMORY_START, 1));
    }
    map
}

fn put_u32(bytes: &mut [u8], offset: usize, value: u32) {
    bytes[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
}

fn get_u32(bytes: &[u8], offset: usize) -> Option<u32> {
    let word = bytes.get(offset..offset.checked_add(4)?)?;
    Some(u32::from_le_bytes([word[0], word[1], word[2], word[3]]))
}

/// Finds the header: its offset and flags.
fn find_header(image: &[u8]) -> Result<(usize, u32), Error> {
    let window = &image[..image.len().min(HEADER_SEARCH)];
    let mut bad_checksum = None;
    for offset in (0..window.len().saturating_sub(11)).step_by(4) {
        let (Some(magic), Some(flags), Some(checksum)) = (
            get_u32(window, offset),
            get_u32(window, offset + 4),
            get_u32(window, offset + 8),
        ) else {
            break;
        };
        if magic != HEADER_MAGIC {
            continue;
        }
        if magic.wrapping_add(flags).wrapping_add(checksum) == 0 {
            return Ok((offset, flags));
        }
        bad_checksum.get_or_insert(offset);
    }
    Err(match bad_checksum {
        Some(offset) => Error::MultibootChecksum { offset },
        None => Error::NoMultibootHeader,
    })
}

/// Loads an a.out-kludge kernel; returns the entry point and the kernel's
/// end (bss included).
fn load_aout<'a>(
    builder: &mut Builder<'a>,
    image: &'a [u8],
    offset: usize,
) -> Result<(u64, u64), Error> {
    let window = &image[..image.len().min(HEADER_SEARCH)];
    let field = |index: usize| {
        get_u32(window, offset + 12 + 4 * index).ok_or(Error::MultibootHeaderTruncated { offset })
    };
    let header_addr = u64::from(field(0)?);
    let load_addr = u64::from(field(1)?);
    let load_end_addr = u64::from(field(2)?);
    let bss_end_addr = u64::from(field(3)?);
    let entry_addr = u64::from(field(4)?);

    let header_offset = header_addr
        .checked_sub(load_addr)
        .ok_or(Error::InvalidAoutAddresses(
            "header_addr is below load_addr",
        ))?;
    let text_offset =
        (offset as u64)
            .checked_sub(header_offset)
            .ok_or(Error::InvalidAoutAddresses(
                "header_addr - load_addr exceeds the header's file offset",
            ))?;
    let file_len = image.len() as u64;
    let load_size = if load_end_addr != 0 {
        load_end_addr
            .checked_sub(load_addr)
            .ok_or(Error::InvalidAoutAddresses(
                "load_end_addr is below load_addr",
            ))?
    } else {
        file_len - text_offset
    };
    if text_offset + load_size > file_len {
        return Err(Error::InvalidAoutAddresses(
            "load_end_addr lies beyond the end of the file",
        ));
    }
    let kernel_end = if bss_end_addr != 0 {
        if bss_end_addr < load_addr + load_size {
            return Err(Error::InvalidAoutAddresses(
                "bss_end_addr is below load_end_addr",
            ));
        }
        bss_end_addr
    } else {
        load_addr + load_size
    };
    // Both bounds lie within the file (checked above).
    let text = &image[text_offset as usize..(text_offset + load_size) as usize];
    builder.write(Piece::Kernel, load_addr, text)?;
    let bss = load_addr + load_size;
    builder.zero(Piece::KernelBss, bss, kernel_end - bss)?;
    Ok((entry_addr, kernel_end))
}
