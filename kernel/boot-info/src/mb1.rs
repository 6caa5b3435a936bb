//! Multiboot1 (QEMU `-kernel`), after the Multiboot Specification 0.6.96, §3.3
//! "Boot information format".
//!
//! This is a small parser of its own rather than the `multiboot` crate: that
//! crate reads memory through an `unsafe` trait returning `&'static [u8]`,
//! which does not fit [`PhysMemory`]'s borrowed, fallible reads.

use heapless::{String, Vec};

use crate::{
    BootInfo, BootInfoError, BootProtocol, MAX_MODULES, MemoryKind, Module, PhysMemory,
    StringField, basic_memory_entries, le_u32, le_u64, normalize_memory_map, read_exact,
};

/// Size of the info structure as §3.3 lays it out (up to `color_info`).
const INFO_SIZE: u64 = 116;
/// The part of it this parser reads: everything up to `mmap_addr`. Fields
/// beyond it are optional and unused, so they need not be readable.
const INFO_READ: usize = 52;

const FLAG_MEM: u32 = 1 << 0;
const FLAG_CMDLINE: u32 = 1 << 2;
const FLAG_MODS: u32 = 1 << 3;
const FLAG_MMAP: u32 = 1 << 6;

/// `mod_start`, `mod_end`, `string`, `reserved`.
const MODULE_ENTRY: usize = 16;
/// Bytes of an mmap entry after its `size` field: `base_addr`, `length`, `type`.
const MMAP_ENTRY_MIN: usize = 20;

pub(crate) fn parse(info_addr: u64, mem: &impl PhysMemory) -> Result<BootInfo, BootInfoError> {
    let info = read_exact(mem, "Multiboot1 information", info_addr, INFO_READ)?;
    let flags = le_u32(info, 0);

    let command_line = if flags & FLAG_CMDLINE != 0 {
        read_c_string(mem, u64::from(le_u32(info, 16)), StringField::CommandLine)?
    } else {
        String::new()
    };

    let modules = if flags & FLAG_MODS != 0 {
        parse_modules(mem, le_u32(info, 20), u64::from(le_u32(info, 24)))?
    } else {
        Vec::new()
    };

    // §3.3 makes the memory map optional (flags bit 6); `mem_lower`/`mem_upper`
    // (bit 0) are the fallback it offers. Without either, the kernel cannot
    // know where RAM is, which is an error rather than a guess.
    let memory_map = if flags & FLAG_MMAP != 0 {
        let len = le_u32(info, 44) as usize;
        let addr = u64::from(le_u32(info, 48));
        let bytes = read_exact(mem, "Multiboot1 memory map", addr, len)?;
        let entries = MmapEntries { bytes, offset: 0 };
        for entry in entries.clone() {
            entry?;
        }
        normalize_memory_map(entries.filter_map(Result::ok))?
    } else if flags & FLAG_MEM != 0 {
        normalize_memory_map(basic_memory_entries(le_u32(info, 4), le_u32(info, 8)))?
    } else {
        return Err(BootInfoError::NoMemoryMap);
    };

    Ok(BootInfo {
        protocol: BootProtocol::Multiboot1,
        command_line,
        memory_map,
        modules,
        // Multiboot1 has no RSDP field.
        rsdp: None,
        info_range: (info_addr, info_addr.saturating_add(INFO_SIZE)),
    })
}

fn parse_modules(
    mem: &impl PhysMemory,
    count: u32,
    addr: u64,
) -> Result<Vec<Module, MAX_MODULES>, BootInfoError> {
    let count = count as usize;
    if count > MAX_MODULES {
        return Err(BootInfoError::TooManyModules {
            limit: MAX_MODULES,
            count,
        });
    }
    let list = read_exact(mem, "Multiboot1 module list", addr, count * MODULE_ENTRY)?;
    let mut modules = Vec::new();
    for (index, entry) in list.chunks_exact(MODULE_ENTRY).enumerate() {
        let start = u64::from(le_u32(entry, 0));
        let end = u64::from(le_u32(entry, 4));
        if end < start {
            return Err(BootInfoError::BadModuleRange { index, start, end });
        }
        // §3.3 does not say the string may be absent, but a null pointer can
        // only mean "no string"; physical address 0 never holds one.
        let string = u64::from(le_u32(entry, 8));
        let command_line = if string == 0 {
            String::new()
        } else {
            read_c_string(mem, string, StringField::Module(index))?
        };
        let module = Module {
            start,
            end,
            command_line,
        };
        // Cannot fail: `count <= MAX_MODULES` was checked above.
        modules.push(module).ok();
    }
    Ok(modules)
}

/// Reads a NUL-terminated string of at most `N` bytes (plus the NUL).
///
/// Byte by byte, because a short string may end just before the edge of
/// readable memory, where a read of the full capacity would fail; the scan
/// stops after `N + 1` bytes, so a missing NUL costs at most that.
fn read_c_string<const N: usize>(
    mem: &impl PhysMemory,
    addr: u64,
    field: StringField,
) -> Result<String<N>, BootInfoError> {
    let mut bytes: Vec<u8, N> = Vec::new();
    for i in 0..=N as u64 {
        let at = addr.checked_add(i).ok_or(BootInfoError::Unreadable {
            what: field.what(),
            addr,
            len: i + 1,
        })?;
        let byte = read_exact(mem, field.what(), at, 1)?[0];
        if byte == 0 {
            let text = core::str::from_utf8(&bytes).map_err(|_| field.bad("is not valid UTF-8"))?;
            return String::try_from(text).map_err(|()| field.too_long());
        }
        bytes.push(byte).map_err(|_| field.too_long())?;
    }
    Err(field.too_long())
}

/// The entries of a Multiboot1 memory map buffer (§3.3, `mmap_*`): each is a
/// `size` field that does not count itself, followed by `size` bytes of which
/// the first 20 are `base_addr`, `length` and `type`. Yields an error and then
/// stops if the buffer ends inside an entry.
#[derive(Clone)]
struct MmapEntries<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl Iterator for MmapEntries<'_> {
    type Item = Result<(u64, u64, MemoryKind), BootInfoError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.bytes.get(self.offset..).filter(|r| !r.is_empty())?;
        let size = if rest.len() >= 4 {
            le_u32(rest, 0) as usize
        } else {
            self.offset = self.bytes.len();
            return Some(Err(BootInfoError::MalformedMemoryMap {
                reason: "mmap_length ends inside an entry's size field",
            }));
        };
        if size < MMAP_ENTRY_MIN {
            self.offset = self.bytes.len();
            return Some(Err(BootInfoError::MalformedMemoryMap {
                reason: "an entry's size is less than the 20 bytes of base, length and type",
            }));
        }
        let Some(entry) = rest.get(4..size.saturating_add(4)) else {
            self.offset = self.bytes.len();
            return Some(Err(BootInfoError::MalformedMemoryMap {
                reason: "the last entry runs past mmap_length",
            }));
        };
        self.offset += 4 + size;
        let base = le_u64(entry, 0);
        let length = le_u64(entry, 8);
        let kind = MemoryKind::from_multiboot_type(le_u32(entry, 16));
        // An entry reaching past 2^64 is garbage; clamping it keeps every byte
        // the kernel can address and loses only the unrepresentable last one.
        Some(Ok((base, base.saturating_add(length), kind)))
    }
}
