//! Multiboot2 (GRUB), after the Multiboot2 Specification, §3.6 "Boot
//! information format".
//!
//! The `multiboot2` crate validates the tag chain and reads the command line,
//! module and RSDP tags. Several of its accessors `assert!` on tag sizes (a
//! module tag shorter than 16 bytes, an RSDP tag of an unexpected size, a
//! memory map whose `entry_size` is not 24), so every tag this parser touches
//! is size-checked first by [`scan_tags`], and the memory map is read here
//! directly, honouring `entry_size` as the spec asks instead of insisting on
//! today's 24.

use heapless::{String, Vec};
use multiboot2::{BootInformation, BootInformationHeader, LoadError, StringError};

use crate::{
    BootInfo, BootInfoError, BootProtocol, MAX_MODULES, MemoryKind, Module, PhysMemory,
    StringField, basic_memory_entries, le_u32, le_u64, normalize_memory_map, read_exact,
};

const TAG_CMDLINE: u32 = 1;
const TAG_MODULE: u32 = 3;
const TAG_BASIC_MEMINFO: u32 = 4;
const TAG_MMAP: u32 = 6;
const TAG_RSDP_OLD: u32 = 14;
const TAG_RSDP_NEW: u32 = 15;

/// `type`, `size` of every tag; also the fixed header of the whole structure.
const TAG_HEADER: usize = 8;
/// Tag header plus `entry_size` and `entry_version`.
const MMAP_HEADER: usize = 16;
/// `base_addr`, `length`, `type`, `reserved`: what `entry_size` is today.
const MMAP_ENTRY_MIN: u32 = 24;

pub(crate) fn parse(info_addr: u64, mem: &impl PhysMemory) -> Result<BootInfo, BootInfoError> {
    if !info_addr.is_multiple_of(8) {
        return Err(BootInfoError::Unaligned { addr: info_addr });
    }
    let header = read_exact(mem, "Multiboot2 information header", info_addr, TAG_HEADER)?;
    let total = le_u32(header, 0) as usize;
    // The fixed part and the mandatory end tag are 8 bytes each.
    if total < 2 * TAG_HEADER {
        return Err(BootInfoError::MalformedInfo {
            reason: "total_size is smaller than the fixed part plus the end tag",
        });
    }
    let bytes = read_exact(mem, "Multiboot2 information", info_addr, total)?;
    let mbi = load(bytes)?;
    let scan = scan_tags(bytes)?;

    let command_line = match mbi.command_line_tag() {
        Some(tag) => copy_string(tag.cmdline(), StringField::CommandLine)?,
        None => String::new(),
    };

    let count = mbi.module_tags().count();
    if count > MAX_MODULES {
        return Err(BootInfoError::TooManyModules {
            limit: MAX_MODULES,
            count,
        });
    }
    let mut modules = Vec::new();
    for (index, tag) in mbi.module_tags().enumerate() {
        let start = u64::from(tag.start_address());
        let end = u64::from(tag.end_address());
        if end < start {
            return Err(BootInfoError::BadModuleRange { index, start, end });
        }
        let command_line = copy_string(tag.cmdline(), StringField::Module(index))?;
        let module = Module {
            start,
            end,
            command_line,
        };
        // Cannot fail: `count <= MAX_MODULES` was checked above.
        modules.push(module).ok();
    }

    // The kernel wants the RSDP itself, which the tags carry as a copy right
    // after their 8-byte header ("ACPI new RSDP" / "ACPI old RSDP"). The new
    // one also carries the XSDT address, hence the preference.
    let rsdp_offset = match (mbi.rsdp_v2_tag(), mbi.rsdp_v1_tag()) {
        (Some(tag), _) => Some(offset_in(bytes, core::ptr::from_ref(tag).cast())),
        (None, Some(tag)) => Some(offset_in(bytes, core::ptr::from_ref(tag).cast())),
        (None, None) => None,
    };
    let rsdp = rsdp_offset.map(|offset| info_addr + (offset + TAG_HEADER) as u64);

    // The memory map is preferred; "Basic memory information" is the
    // spec's coarser fallback, used only when there is no memory map (GRUB
    // omits the map only while EFI boot services are still running).
    let memory_map = if let Some(mmap) = scan.mmap {
        normalize_memory_map(mmap_entries(bytes, mmap))?
    } else if let Some((lower, upper)) = scan.basic {
        normalize_memory_map(basic_memory_entries(lower, upper))?
    } else {
        return Err(BootInfoError::NoMemoryMap);
    };

    Ok(BootInfo {
        protocol: BootProtocol::Multiboot2,
        command_line,
        memory_map,
        modules,
        rsdp,
        info_range: (info_addr, info_addr + total as u64),
    })
}

/// Hands the bytes to `multiboot2`, tying the result to their borrow.
#[allow(unsafe_code)]
fn load(bytes: &[u8]) -> Result<BootInformation<'_>, BootInfoError> {
    // `load` reads `total_size` through the pointer and then that many bytes;
    // make sure they are all inside `bytes` before handing it over.
    if bytes.len() < TAG_HEADER || le_u32(bytes, 0) as usize > bytes.len() {
        return Err(BootInfoError::MalformedInfo {
            reason: "total_size changed between reads",
        });
    }
    // `load` checks the alignment itself, but the error would not say that
    // the problem is the slice `PhysMemory` returned rather than the address.
    if bytes.as_ptr().align_offset(8) != 0 {
        return Err(BootInfoError::MalformedInfo {
            reason: "physical memory was mapped at an address that is not 8-byte aligned",
        });
    }
    #[expect(
        clippy::cast_ptr_alignment,
        reason = "the alignment is checked just above"
    )]
    let ptr = bytes.as_ptr().cast::<BootInformationHeader>();
    // `load` needs a non-null, 8-byte aligned pointer valid for the header
    // and the `total_size` it reports, unchanged while the result is in use.
    // SAFETY: alignment and `total_size <= bytes.len()` are checked above, and
    // the result borrows `bytes`, so nothing can change it meanwhile.
    let mbi = unsafe { BootInformation::load(ptr) };
    mbi.map_err(|e| BootInfoError::MalformedInfo {
        reason: match e {
            LoadError::NoEndTag => "the tags do not end with an end tag",
            LoadError::Memory(_) => "a tag size is below 8 or runs past total_size",
        },
    })
}

/// Where the first memory map tag is, and the basic memory information.
struct TagScan {
    /// `(offset, size)` of the first memory map tag within the MBI.
    mmap: Option<(usize, usize)>,
    /// `mem_lower`, `mem_upper` (KiB) of the first basic memory information tag.
    basic: Option<(u32, u32)>,
}

/// Walks the tag chain (already validated by `multiboot2`, walked again here
/// with bounds checks of its own) and rejects any tag whose size the
/// accessors used in [`parse`] would `assert!` on.
fn scan_tags(bytes: &[u8]) -> Result<TagScan, BootInfoError> {
    let mut scan = TagScan {
        mmap: None,
        basic: None,
    };
    let mut offset = TAG_HEADER;
    while let Some(header) = bytes.get(offset..offset.saturating_add(TAG_HEADER)) {
        let tag_type = le_u32(header, 0);
        let size32 = le_u32(header, 4);
        let size = size32 as usize;
        let malformed = |reason| BootInfoError::MalformedTag {
            tag_type,
            size: size32,
            reason,
        };
        let Some(tag) = bytes.get(offset..offset.saturating_add(size)) else {
            return Err(malformed("the tag runs past total_size"));
        };
        match tag_type {
            0 => break,
            TAG_CMDLINE => {}
            TAG_MODULE if size < 16 => {
                return Err(malformed("a module tag needs at least 16 bytes"));
            }
            TAG_BASIC_MEMINFO if size < 16 => {
                return Err(malformed("a basic memory information tag needs 16 bytes"));
            }
            TAG_BASIC_MEMINFO if scan.basic.is_none() => {
                scan.basic = Some((le_u32(tag, 8), le_u32(tag, 12)));
            }
            TAG_MMAP => {
                check_mmap(tag).map_err(malformed)?;
                scan.mmap.get_or_insert((offset, size));
            }
            // RSDP v1 is 20 bytes and v2 is 36 (ACPI 6.5, §5.2.5.3). The crate
            // reads them as fixed-size structs that must match the padded tag.
            TAG_RSDP_OLD if !(28..=32).contains(&size) => {
                return Err(malformed("an old-RSDP tag must hold a 20-byte RSDP"));
            }
            TAG_RSDP_NEW if !(44..=48).contains(&size) => {
                return Err(malformed("a new-RSDP tag must hold a 36-byte RSDP"));
            }
            _ => {}
        }
        // Tags start 8-byte aligned; `size` does not include the padding.
        offset = offset
            .saturating_add(size.max(TAG_HEADER))
            .next_multiple_of(8);
    }
    Ok(scan)
}

/// Checks a memory map tag's layout ("Memory map" in §3.6): `entry_size` is
/// "guaranteed to be a multiple of 8" and may grow in later versions, so any
/// such size of at least 24 is accepted; the entries must fill the tag.
fn check_mmap(tag: &[u8]) -> Result<(), &'static str> {
    if tag.len() < MMAP_HEADER {
        return Err("a memory map tag needs at least 16 bytes");
    }
    let entry_size = le_u32(tag, 8);
    if entry_size < MMAP_ENTRY_MIN || !entry_size.is_multiple_of(8) {
        return Err("entry_size must be a multiple of 8 and at least 24");
    }
    if !(tag.len() - MMAP_HEADER).is_multiple_of(entry_size as usize) {
        return Err("the memory map ends inside an entry");
    }
    Ok(())
}

/// The entries of the memory map tag at `(offset, size)`, checked by
/// [`check_mmap`].
fn mmap_entries(
    bytes: &[u8],
    (offset, size): (usize, usize),
) -> impl Iterator<Item = (u64, u64, MemoryKind)> + Clone {
    let tag = bytes.get(offset..offset + size).unwrap_or_default();
    let entry_size = (le_u32(tag, 8) as usize).max(MMAP_ENTRY_MIN as usize);
    tag.get(MMAP_HEADER..)
        .unwrap_or_default()
        .chunks_exact(entry_size)
        .map(|entry| {
            let base = le_u64(entry, 0);
            let length = le_u64(entry, 8);
            // Past 2^64 is garbage; clamping loses only the unaddressable byte.
            (
                base,
                base.saturating_add(length),
                MemoryKind::from_multiboot_type(le_u32(entry, 16)),
            )
        })
}

/// Byte offset of `ptr`, which points into `bytes`, from its start.
fn offset_in(bytes: &[u8], ptr: *const u8) -> usize {
    ptr.addr().saturating_sub(bytes.as_ptr().addr())
}

/// Copies a string the crate extracted from a tag into a fixed-size field.
fn copy_string<const N: usize>(
    s: Result<&str, StringError>,
    field: StringField,
) -> Result<String<N>, BootInfoError> {
    let s = s.map_err(|e| {
        field.bad(match e {
            StringError::MissingNul(_) => "has no terminating NUL within its tag",
            StringError::Utf8(_) => "is not valid UTF-8",
        })
    })?;
    String::try_from(s).map_err(|()| field.too_long())
}
