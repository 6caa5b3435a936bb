//! Reading the Multiboot information structure (specification 0.6.96,
//! section 3.3) and what it points to, by physical address.
//!
//! All of it lies where the loader put it — the MBI and memory map in low
//! memory, the module list and strings just after the image, the modules
//! after them — and below 1 GiB, which
//! `entry32.s` identity-maps. No Rust object lives there. Every pointer in
//! it is checked against that limit before it is followed.
#![allow(unsafe_code)]

use core::ptr;

/// `entry32.s` maps the first GiB.
const MAPPED_LIMIT: u64 = 1 << 30;
/// The MBI fields read here end with `boot_loader_name` (offset 64).
const INFO_SIZE: u64 = 68;
/// Memory map entries are at least this long (size field excluded).
const MEMORY_MAP_ENTRY_SIZE: u32 = 20;

/// The MBI at a physical address.
#[derive(Clone, Copy, Debug)]
pub struct BootInfo {
    address: u64,
}

/// One entry of the module list (specification section 3.3: `mod_start`,
/// `mod_end`, `string`, reserved).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Module {
    pub start: u32,
    pub end: u32,
    pub string: u32,
}

impl Module {
    /// The module's length, if `end` is not below `start`.
    pub fn len(&self) -> Option<u32> {
        self.end.checked_sub(self.start)
    }

    /// The module's bytes, copied into `buffer`, if they are mapped and fit.
    pub fn read<'a>(&self, buffer: &'a mut [u8]) -> Option<&'a [u8]> {
        let len = usize::try_from(self.len()?).ok()?;
        if u64::from(self.end) > MAPPED_LIMIT || len > buffer.len() {
            return None;
        }
        for (offset, slot) in buffer[..len].iter_mut().enumerate() {
            *slot = read_u8(u64::from(self.start) + offset as u64);
        }
        Some(&buffer[..len])
    }

    /// The module's string, if it is mapped, NUL-terminated within
    /// `buffer` and UTF-8.
    pub fn string<'a>(&self, buffer: &'a mut [u8]) -> Option<&'a str> {
        read_string(self.string, buffer)
    }
}

/// One entry of the memory map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryRegion {
    pub base: u64,
    pub length: u64,
    pub kind: u32,
}

impl MemoryRegion {
    pub fn is_ram(&self) -> bool {
        self.kind == 1
    }
}

impl BootInfo {
    /// The MBI at `address`, if all of it is mapped.
    pub fn at(address: u32) -> Option<Self> {
        let address = u64::from(address);
        (address != 0 && address + INFO_SIZE <= MAPPED_LIMIT).then_some(Self { address })
    }

    pub fn flags(&self) -> u32 {
        read_u32(self.address)
    }

    pub fn mem_lower_kib(&self) -> u32 {
        read_u32(self.address + 4)
    }

    pub fn mem_upper_kib(&self) -> u32 {
        read_u32(self.address + 8)
    }

    /// The command line, if it is mapped, NUL-terminated within `buffer`
    /// and UTF-8.
    pub fn command_line<'a>(&self, buffer: &'a mut [u8]) -> Option<&'a str> {
        read_string(read_u32(self.address + 16), buffer)
    }

    pub fn mods_count(&self) -> u32 {
        read_u32(self.address + 20)
    }

    /// Module `index` of the module list, if the list entry is mapped.
    pub fn module(&self, index: u32) -> Option<Module> {
        if index >= self.mods_count() {
            return None;
        }
        let at = u64::from(read_u32(self.address + 24)) + u64::from(index) * 16;
        if at == 0 || at + 16 > MAPPED_LIMIT {
            return None;
        }
        Some(Module {
            start: read_u32(at),
            end: read_u32(at + 4),
            string: read_u32(at + 8),
        })
    }

    pub fn boot_loader_name<'a>(&self, buffer: &'a mut [u8]) -> Option<&'a str> {
        read_string(read_u32(self.address + 64), buffer)
    }

    /// The memory map's entries (empty if it is not mapped).
    pub fn memory_map(&self) -> impl Iterator<Item = MemoryRegion> {
        let length = u64::from(read_u32(self.address + 44));
        let start = u64::from(read_u32(self.address + 48));
        let end = if start != 0 && start + length <= MAPPED_LIMIT {
            start + length
        } else {
            start
        };
        let mut next = start;
        core::iter::from_fn(move || {
            if next + 4 + u64::from(MEMORY_MAP_ENTRY_SIZE) > end {
                return None;
            }
            // The size field does not count itself.
            let size = read_u32(next);
            let region = MemoryRegion {
                base: read_u64(next + 4),
                length: read_u64(next + 12),
                kind: read_u32(next + 20),
            };
            next += 4 + u64::from(size.max(MEMORY_MAP_ENTRY_SIZE));
            Some(region)
        })
    }
}

fn read_string(address: u32, buffer: &mut [u8]) -> Option<&str> {
    let address = u64::from(address);
    if address == 0 {
        return None;
    }
    for (offset, slot) in buffer.iter_mut().enumerate() {
        let at = address + offset as u64;
        if at >= MAPPED_LIMIT {
            return None;
        }
        let byte = read_u8(at);
        if byte == 0 {
            return core::str::from_utf8(&buffer[..offset]).ok();
        }
        *slot = byte;
    }
    None
}

fn read_u8(address: u64) -> u8 {
    // SAFETY: see the module documentation: mapped, below the limit, and
    // no Rust object there.
    unsafe { ptr::with_exposed_provenance::<u8>(address as usize).read_volatile() }
}

fn read_u32(address: u64) -> u32 {
    // SAFETY: as for `read_u8`; the MBI fields are 4-byte aligned, and an
    // unaligned read is used anyway since the loader decides.
    unsafe { ptr::with_exposed_provenance::<u32>(address as usize).read_unaligned() }
}

fn read_u64(address: u64) -> u64 {
    // SAFETY: as for `read_u8`; memory map fields are not 8-byte aligned.
    unsafe { ptr::with_exposed_provenance::<u64>(address as usize).read_unaligned() }
}
