//! The zero page (`struct boot_params`, Linux
//! `Documentation/arch/x86/zero-page.rst` and `bootparam.h`) and its e820
//! memory map.

use alloc::vec;
use alloc::vec::Vec;

use super::header::{ACPI_RSDP_VERSION, HEADER_START, SetupHeader};

/// `struct boot_params` is one page.
pub const SIZE: usize = 4096;

/// Offsets in `boot_params`.
mod offset {
    pub const ACPI_RSDP_ADDR: usize = 0x070;
    pub const E820_ENTRIES: usize = 0x1E8;
    pub const VID_MODE: usize = 0x1FA;
    pub const TYPE_OF_LOADER: usize = 0x210;
    pub const CODE32_START: usize = 0x214;
    pub const RAMDISK_IMAGE: usize = 0x218;
    pub const RAMDISK_SIZE: usize = 0x21C;
    pub const CMD_LINE_PTR: usize = 0x228;
    pub const E820_TABLE: usize = 0x2D0;
}

/// `struct boot_e820_entry`: address, size, type (20 bytes).
const E820_ENTRY: usize = 20;
/// Entries the zero page holds (`E820_MAX_ENTRIES_ZEROPAGE`).
pub const E820_MAX: usize = 128;

/// e820 range types (ACPI 6.5 §15.1, Table 15.1).
pub mod e820 {
    pub const RAM: u32 = 1;
    pub const RESERVED: u32 = 2;
    pub const ACPI: u32 = 3;
}

/// `type_of_loader`: 0xFF, "undefined", for a loader without an assigned
/// ID (boot.rst).
pub const TYPE_OF_LOADER: u8 = 0xFF;
/// `vid_mode`: 0xFFFF, "normal" (boot.rst, "Special Command Line
/// Options"); nothing reads it on the 64-bit path.
pub const VID_MODE_NORMAL: u16 = 0xFFFF;

/// One range of the memory map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct E820Entry {
    pub base: u64,
    pub size: u64,
    pub kind: u32,
}

/// End of conventional memory (639 KiB; an EBDA-sized reserve follows, as
/// on a PC).
pub const LOW_RAM_END: u64 = 0x9_FC00;
const LOW_RESERVED_END: u64 = 0xA_0000;
/// Start of upper memory.
pub const HIGH_RAM_START: u64 = 0x10_0000;

/// The memory map of a partition with `ram` bytes (at least 1 MiB) whose
/// ACPI tables take `[acpi_start, acpi_end)` inside `[0xE0000, 1 MiB)`:
/// RAM below 639 KiB, a reserved KiB up to 640 KiB, the hole for VGA and
/// option ROMs (absent, so not RAM), the ACPI tables (rounded out to
/// pages) and the rest of the BIOS area reserved, then RAM from 1 MiB.
#[must_use]
pub fn memory_map(ram: u64, acpi_start: u64, acpi_end: u64) -> Vec<E820Entry> {
    let page = |v: u64| v.next_multiple_of(0x1000);
    let acpi_end = page(acpi_end).min(HIGH_RAM_START);
    let mut map = vec![
        E820Entry {
            base: 0,
            size: LOW_RAM_END,
            kind: e820::RAM,
        },
        E820Entry {
            base: LOW_RAM_END,
            size: LOW_RESERVED_END - LOW_RAM_END,
            kind: e820::RESERVED,
        },
        E820Entry {
            base: acpi_start,
            size: acpi_end - acpi_start,
            kind: e820::ACPI,
        },
    ];
    if acpi_end < HIGH_RAM_START {
        map.push(E820Entry {
            base: acpi_end,
            size: HIGH_RAM_START - acpi_end,
            kind: e820::RESERVED,
        });
    }
    map.push(E820Entry {
        base: HIGH_RAM_START,
        size: ram - HIGH_RAM_START,
        kind: e820::RAM,
    });
    map
}

/// What goes into the zero page besides the setup header.
#[derive(Clone, Copy, Debug)]
pub struct BootParams<'a> {
    pub kernel_load: u32,
    pub cmdline: u32,
    /// Address and size; (0, 0) for none.
    pub initrd: (u32, u32),
    pub rsdp: u64,
    pub memory_map: &'a [E820Entry],
}

/// The zero page: zeros, the image's setup header copied to 0x1F1, the
/// fields a loader writes (boot.rst, "Details of Header Fields": the
/// obligatory ones and `code32_start` for a kernel loaded where it did not
/// ask), the RSDP's address for protocol 2.14+, and the memory map. At
/// most [`E820_MAX`] entries of the map are taken.
#[must_use]
pub fn build(image: &[u8], header: &SetupHeader, params: &BootParams<'_>) -> Vec<u8> {
    let mut page = vec![0u8; SIZE];
    page[HEADER_START..header.end].copy_from_slice(&image[HEADER_START..header.end]);
    let mut put = |at: usize, bytes: &[u8]| page[at..at + bytes.len()].copy_from_slice(bytes);
    put(offset::VID_MODE, &VID_MODE_NORMAL.to_le_bytes());
    put(offset::TYPE_OF_LOADER, &[TYPE_OF_LOADER]);
    put(offset::CODE32_START, &params.kernel_load.to_le_bytes());
    put(offset::RAMDISK_IMAGE, &params.initrd.0.to_le_bytes());
    put(offset::RAMDISK_SIZE, &params.initrd.1.to_le_bytes());
    put(offset::CMD_LINE_PTR, &params.cmdline.to_le_bytes());
    if header.version >= ACPI_RSDP_VERSION {
        put(offset::ACPI_RSDP_ADDR, &params.rsdp.to_le_bytes());
    }
    let entries = &params.memory_map[..params.memory_map.len().min(E820_MAX)];
    put(offset::E820_ENTRIES, &[entries.len() as u8]);
    for (index, entry) in entries.iter().enumerate() {
        let at = offset::E820_TABLE + index * E820_ENTRY;
        put(at, &entry.base.to_le_bytes());
        put(at + 8, &entry.size.to_le_bytes());
        put(at + 16, &entry.kind.to_le_bytes());
    }
    page
}
