//! Parser tests against fake physical memory.

use std::string::ToString;
use std::vec;
use std::vec::Vec;

use multiboot2::{
    BasicMemoryInfoTag, Builder, CommandLineTag, MemoryArea, MemoryAreaType, MemoryMapTag,
    ModuleTag, RsdpV1Tag, RsdpV2Tag,
};

use crate::{
    BootInfoError, BootProtocol, MULTIBOOT1_MAGIC, MULTIBOOT2_MAGIC, MemoryKind, MemoryRegion,
    PhysMemory, parse,
};

/// Sparse physical memory: a few separately allocated chunks.
///
/// Each chunk's bytes are placed so that a host address is congruent to its
/// physical address modulo 8; the Multiboot2 path needs that alignment and
/// real direct maps provide it.
#[derive(Default)]
struct FakeMemory {
    chunks: Vec<Chunk>,
}

struct Chunk {
    base: u64,
    len: usize,
    pad: usize,
    storage: Vec<u8>,
}

impl FakeMemory {
    fn with(mut self, base: u64, bytes: &[u8]) -> Self {
        let mut storage = vec![0u8; bytes.len() + 8];
        let pad = (base as usize).wrapping_sub(storage.as_ptr() as usize) & 7;
        storage[pad..pad + bytes.len()].copy_from_slice(bytes);
        self.chunks.push(Chunk {
            base,
            len: bytes.len(),
            pad,
            storage,
        });
        self
    }
}

impl PhysMemory for FakeMemory {
    fn read(&self, addr: u64, len: usize) -> Option<&[u8]> {
        self.chunks.iter().find_map(|c| {
            let offset = usize::try_from(addr.checked_sub(c.base)?).ok()?;
            if offset.checked_add(len)? > c.len {
                return None;
            }
            Some(&c.storage[c.pad + offset..c.pad + offset + len])
        })
    }
}

fn region(start: u64, end: u64, kind: MemoryKind) -> MemoryRegion {
    MemoryRegion { start, end, kind }
}

use MemoryKind::{AcpiNvs, AcpiReclaimable, Defective, Reserved, Usable};

#[test]
fn bad_magic_is_rejected_and_shown() {
    let err = parse(0x1BAD_B002, 0x1000, &FakeMemory::default()).unwrap_err();
    assert_eq!(err, BootInfoError::BadMagic { magic: 0x1BAD_B002 });
    let text = err.to_string();
    assert!(text.contains("0x1badb002"), "{text}");
    assert!(text.contains("0x36d76289"), "{text}");
}

// ---------------------------------------------------------------- Multiboot1

const MB1_INFO: u64 = 0x9000;
const MB1_CMDLINE: u64 = 0xA000;
const MB1_MODS: u64 = 0xB000;
const MB1_MMAP: u64 = 0xC000;
const MB1_STRINGS: u64 = 0xD000;

/// A Multiboot1 info structure as QEMU builds it, with the pieces it points
/// to placed in fake memory.
struct Mb1 {
    flags: u32,
    mem_lower: u32,
    mem_upper: u32,
    cmdline: Option<Vec<u8>>,
    /// `(start, end, string)`; `None` leaves the string pointer 0.
    modules: Vec<(u32, u32, Option<Vec<u8>>)>,
    /// Raw mmap buffer and the `mmap_length` to report.
    mmap: Option<(Vec<u8>, u32)>,
}

impl Mb1 {
    fn new() -> Self {
        Self {
            flags: 0,
            mem_lower: 0,
            mem_upper: 0,
            cmdline: None,
            modules: Vec::new(),
            mmap: None,
        }
    }

    fn cmdline(mut self, bytes: &[u8]) -> Self {
        let mut s = bytes.to_vec();
        s.push(0);
        self.cmdline = Some(s);
        self
    }

    fn module(mut self, start: u32, end: u32, string: &str) -> Self {
        let mut s = string.as_bytes().to_vec();
        s.push(0);
        self.modules.push((start, end, Some(s)));
        self
    }

    fn mmap(mut self, entries: &[(u64, u64, u32)]) -> Self {
        let buf = mmap_buffer(entries, 20);
        let len = buf.len() as u32;
        self.mmap = Some((buf, len));
        self
    }

    fn memory(&self) -> FakeMemory {
        let mut info = [0u8; 116];
        let mut flags = self.flags;
        let mut mem = FakeMemory::default();
        let put = |info: &mut [u8; 116], offset: usize, value: u32| {
            info[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
        };
        put(&mut info, 4, self.mem_lower);
        put(&mut info, 8, self.mem_upper);
        if let Some(cmdline) = &self.cmdline {
            flags |= 1 << 2;
            put(&mut info, 16, MB1_CMDLINE as u32);
            mem = mem.with(MB1_CMDLINE, cmdline);
        }
        if !self.modules.is_empty() {
            flags |= 1 << 3;
            put(&mut info, 20, self.modules.len() as u32);
            put(&mut info, 24, MB1_MODS as u32);
            let mut list = Vec::new();
            for (i, (start, end, string)) in self.modules.iter().enumerate() {
                let string_addr = MB1_STRINGS + 0x200 * i as u64;
                list.extend_from_slice(&start.to_le_bytes());
                list.extend_from_slice(&end.to_le_bytes());
                match string {
                    Some(s) => {
                        list.extend_from_slice(&(string_addr as u32).to_le_bytes());
                        mem = mem.with(string_addr, s);
                    }
                    None => list.extend_from_slice(&0u32.to_le_bytes()),
                }
                list.extend_from_slice(&0u32.to_le_bytes());
            }
            mem = mem.with(MB1_MODS, &list);
        }
        if let Some((buf, len)) = &self.mmap {
            flags |= 1 << 6;
            put(&mut info, 44, *len);
            put(&mut info, 48, MB1_MMAP as u32);
            mem = mem.with(MB1_MMAP, buf);
        }
        put(&mut info, 0, flags);
        mem.with(MB1_INFO, &info)
    }
}

/// Multiboot1 mmap entries with the given `size` field (20 is the minimum).
fn mmap_buffer(entries: &[(u64, u64, u32)], size: u32) -> Vec<u8> {
    let mut buf = Vec::new();
    for &(base, len, typ) in entries {
        buf.extend_from_slice(&size.to_le_bytes());
        buf.extend_from_slice(&base.to_le_bytes());
        buf.extend_from_slice(&len.to_le_bytes());
        buf.extend_from_slice(&typ.to_le_bytes());
        buf.resize(buf.len() + size as usize - 20, 0xAA);
    }
    buf
}

/// QEMU's e820 for `-m 128M` with a few overlaps and splits added.
fn qemu_like_entries() -> Vec<(u64, u64, u32)> {
    vec![
        // Out of order on purpose.
        (0x10_0000, 0x7EE_0000, 1),
        (0, 0x9_FC00, 1),
        (0x9_FC00, 0x400, 2),
        (0xF_0000, 0x1_0000, 2),
        // Adjacent usable piece: merges with the entry at 1 MiB.
        (0x7FE_0000 - 0x10_0000, 0x10_0000, 1),
        // Reserved overlapping usable: reserved wins for the overlap.
        (0x7FE_0000, 0x2_0000, 2),
        // ACPI data inside the usable range.
        (0x7F0_0000, 0x1_0000, 3),
        // Unknown type 12: reserved.
        (0xFFFC_0000, 0x4_0000, 12),
        // Empty entry: ignored.
        (0x5000_0000, 0, 1),
    ]
}

fn qemu_like_expected() -> Vec<MemoryRegion> {
    vec![
        region(0, 0x9_FC00, Usable),
        region(0x9_FC00, 0xA_0000, Reserved),
        region(0xF_0000, 0x10_0000, Reserved),
        region(0x10_0000, 0x7F0_0000, Usable),
        region(0x7F0_0000, 0x7F1_0000, AcpiReclaimable),
        region(0x7F1_0000, 0x7FE_0000, Usable),
        region(0x7FE_0000, 0x800_0000, Reserved),
        region(0xFFFC_0000, 0x1_0000_0000, Reserved),
    ]
}

#[test]
fn mb1_full_info() {
    let mem = Mb1::new()
        .cmdline(b"/tmp/tessera.elf log=debug debug-exit=0xf4")
        .module(0x20_0000, 0x20_1234, "partition-manager arg=1")
        .module(0x30_0000, 0x30_0000, "")
        .mmap(&qemu_like_entries())
        .memory();
    let info = parse(MULTIBOOT1_MAGIC, MB1_INFO, &mem).unwrap();
    assert_eq!(info.protocol, BootProtocol::Multiboot1);
    assert_eq!(
        info.command_line.as_str(),
        "/tmp/tessera.elf log=debug debug-exit=0xf4"
    );
    assert_eq!(info.memory_map.as_slice(), qemu_like_expected().as_slice());
    assert_eq!(info.modules.len(), 2);
    assert_eq!(info.modules[0].start, 0x20_0000);
    assert_eq!(info.modules[0].end, 0x20_1234);
    assert_eq!(
        info.modules[0].command_line.as_str(),
        "partition-manager arg=1"
    );
    assert_eq!(info.modules[1].start, 0x30_0000);
    assert_eq!(info.modules[1].command_line.as_str(), "");
    assert_eq!(info.rsdp, None);
    assert_eq!(info.info_range, (MB1_INFO, MB1_INFO + 116));

    let (options, unknown) = crate::parse_command_line(&info.command_line);
    assert_eq!(options.log_level, crate::LogLevel::Debug);
    assert_eq!(options.debug_exit_port, Some(0xf4));
    assert!(unknown.is_empty());
}

#[test]
fn mb1_without_optional_parts() {
    let mut mb1 = Mb1::new().mmap(&[(0, 0x9_F000, 1)]);
    mb1.modules.push((0x1000, 0x2000, None));
    let info = parse(MULTIBOOT1_MAGIC, MB1_INFO, &mb1.memory()).unwrap();
    assert_eq!(info.command_line.as_str(), "");
    assert_eq!(info.modules[0].command_line.as_str(), "");
    assert_eq!(info.memory_map.as_slice(), [region(0, 0x9_F000, Usable)]);
}

#[test]
fn mb1_larger_mmap_entries_are_stepped_by_their_size() {
    let mut mb1 = Mb1::new();
    let buf = mmap_buffer(&[(0, 0x8_0000, 1), (0x10_0000, 0x10_0000, 4)], 28);
    let len = buf.len() as u32;
    mb1.mmap = Some((buf, len));
    let info = parse(MULTIBOOT1_MAGIC, MB1_INFO, &mb1.memory()).unwrap();
    assert_eq!(
        info.memory_map.as_slice(),
        [
            region(0, 0x8_0000, Usable),
            region(0x10_0000, 0x20_0000, AcpiNvs)
        ]
    );
}

#[test]
fn mb1_basic_memory_fallback() {
    let mut mb1 = Mb1::new();
    mb1.flags = 1;
    mb1.mem_lower = 639;
    mb1.mem_upper = 130_048;
    let info = parse(MULTIBOOT1_MAGIC, MB1_INFO, &mb1.memory()).unwrap();
    assert_eq!(
        info.memory_map.as_slice(),
        [
            region(0, 639 * 1024, Usable),
            region(0x10_0000, 0x10_0000 + 130_048 * 1024, Usable)
        ]
    );
}

#[test]
fn mb1_without_any_memory_information() {
    let mem = Mb1::new().cmdline(b"x").memory();
    assert_eq!(
        parse(MULTIBOOT1_MAGIC, MB1_INFO, &mem),
        Err(BootInfoError::NoMemoryMap)
    );
}

#[test]
fn mb1_unreadable_info_pointer() {
    let mem = Mb1::new().mmap(&[(0, 0x1000, 1)]).memory();
    let err = parse(MULTIBOOT1_MAGIC, 0xDEAD_0000, &mem).unwrap_err();
    assert!(
        matches!(
            err,
            BootInfoError::Unreadable {
                addr: 0xDEAD_0000,
                ..
            }
        ),
        "{err:?}"
    );
    // An info structure that ends at the edge of readable memory.
    let err = parse(MULTIBOOT1_MAGIC, MB1_INFO + 100, &mem).unwrap_err();
    assert!(matches!(err, BootInfoError::Unreadable { .. }), "{err:?}");
    // Near the top of the address space, without overflowing.
    let err = parse(MULTIBOOT1_MAGIC, u64::MAX - 3, &mem).unwrap_err();
    assert!(matches!(err, BootInfoError::Unreadable { .. }), "{err:?}");
}

#[test]
fn mb1_truncated_mmap() {
    let entries = [(0, 0x9_F000, 1), (0x10_0000, 0x100_0000, 1)];
    let buf = mmap_buffer(&entries, 20);
    for len in [47u32, 30, 26, 2] {
        let mut mb1 = Mb1::new();
        mb1.mmap = Some((buf[..len as usize].to_vec(), len));
        let err = parse(MULTIBOOT1_MAGIC, MB1_INFO, &mb1.memory()).unwrap_err();
        assert!(
            matches!(err, BootInfoError::MalformedMemoryMap { .. }),
            "len {len}: {err:?}"
        );
    }
    // mmap_length larger than the readable buffer.
    let mut mb1 = Mb1::new();
    mb1.mmap = Some((buf.clone(), buf.len() as u32 + 24));
    let err = parse(MULTIBOOT1_MAGIC, MB1_INFO, &mb1.memory()).unwrap_err();
    assert!(
        matches!(err, BootInfoError::Unreadable { addr: MB1_MMAP, .. }),
        "{err:?}"
    );
}

#[test]
fn mb1_mmap_entry_size_too_small() {
    let mut buf = mmap_buffer(&[(0, 0x9_F000, 1)], 20);
    buf[0..4].copy_from_slice(&0u32.to_le_bytes());
    let mut mb1 = Mb1::new();
    let len = buf.len() as u32;
    mb1.mmap = Some((buf, len));
    let err = parse(MULTIBOOT1_MAGIC, MB1_INFO, &mb1.memory()).unwrap_err();
    assert!(
        matches!(err, BootInfoError::MalformedMemoryMap { .. }),
        "{err:?}"
    );
}

#[test]
fn mb1_empty_mmap_is_an_empty_map() {
    let mut mb1 = Mb1::new();
    mb1.mmap = Some((Vec::new(), 0));
    let info = parse(MULTIBOOT1_MAGIC, MB1_INFO, &mb1.memory()).unwrap();
    assert!(info.memory_map.is_empty());
}

#[test]
fn mb1_too_many_regions() {
    // Alternating kinds never merge: 200 regions for 200 entries.
    let entries: Vec<_> = (0..200u64)
        .map(|i| (i * 0x1000, 0x1000, if i % 2 == 0 { 1 } else { 2 }))
        .collect();
    let mem = Mb1::new().mmap(&entries).memory();
    let err = parse(MULTIBOOT1_MAGIC, MB1_INFO, &mem).unwrap_err();
    assert_eq!(
        err,
        BootInfoError::TooManyMemoryRegions {
            limit: 128,
            count: 200
        }
    );
    assert!(err.to_string().contains("128"));
    assert!(err.to_string().contains("200"));

    // The same number of entries of one kind merges into one region.
    let entries: Vec<_> = (0..200u64).map(|i| (i * 0x1000, 0x1000, 1)).collect();
    let info = parse(
        MULTIBOOT1_MAGIC,
        MB1_INFO,
        &Mb1::new().mmap(&entries).memory(),
    )
    .unwrap();
    assert_eq!(
        info.memory_map.as_slice(),
        [region(0, 200 * 0x1000, Usable)]
    );
}

#[test]
fn mb1_command_line_limits() {
    let max = [b'a'; 512];
    let info = parse(
        MULTIBOOT1_MAGIC,
        MB1_INFO,
        &Mb1::new().cmdline(&max).mmap(&[(0, 0x1000, 1)]).memory(),
    )
    .unwrap();
    assert_eq!(info.command_line.len(), 512);

    let too_long = [b'a'; 513];
    let mem = Mb1::new()
        .cmdline(&too_long)
        .mmap(&[(0, 0x1000, 1)])
        .memory();
    let err = parse(MULTIBOOT1_MAGIC, MB1_INFO, &mem).unwrap_err();
    assert_eq!(err, BootInfoError::CommandLineTooLong { limit: 512 });
    assert!(err.to_string().contains("512"));
}

#[test]
fn mb1_command_line_without_nul_at_edge_of_memory() {
    let mut mb1 = Mb1::new().mmap(&[(0, 0x1000, 1)]);
    mb1.cmdline = Some(b"log=debug".to_vec());
    let err = parse(MULTIBOOT1_MAGIC, MB1_INFO, &mb1.memory()).unwrap_err();
    assert!(
        matches!(err, BootInfoError::Unreadable { addr, .. } if addr == MB1_CMDLINE + 9),
        "{err:?}"
    );
}

#[test]
fn mb1_command_line_not_utf8() {
    let mem = Mb1::new()
        .cmdline(b"log=\xff")
        .mmap(&[(0, 0x1000, 1)])
        .memory();
    let err = parse(MULTIBOOT1_MAGIC, MB1_INFO, &mem).unwrap_err();
    assert!(
        matches!(err, BootInfoError::BadString { index: None, .. }),
        "{err:?}"
    );
}

#[test]
fn mb1_module_errors() {
    let long = "m".repeat(129);
    let mem = Mb1::new()
        .module(0x1000, 0x2000, "ok")
        .module(0x3000, 0x4000, &long)
        .mmap(&[(0, 0x1000, 1)])
        .memory();
    assert_eq!(
        parse(MULTIBOOT1_MAGIC, MB1_INFO, &mem),
        Err(BootInfoError::ModuleStringTooLong {
            index: 1,
            limit: 128
        })
    );

    let exact = "m".repeat(128);
    let mem = Mb1::new()
        .module(0x3000, 0x4000, &exact)
        .mmap(&[(0, 0x1000, 1)])
        .memory();
    assert_eq!(
        parse(MULTIBOOT1_MAGIC, MB1_INFO, &mem).unwrap().modules[0]
            .command_line
            .as_str(),
        exact
    );

    let mem = Mb1::new()
        .module(0x5000, 0x4000, "backwards")
        .mmap(&[(0, 0x1000, 1)])
        .memory();
    assert_eq!(
        parse(MULTIBOOT1_MAGIC, MB1_INFO, &mem),
        Err(BootInfoError::BadModuleRange {
            index: 0,
            start: 0x5000,
            end: 0x4000
        })
    );

    let mut mb1 = Mb1::new().mmap(&[(0, 0x1000, 1)]);
    for i in 0..33 {
        mb1.modules.push((i, i, None));
    }
    assert_eq!(
        parse(MULTIBOOT1_MAGIC, MB1_INFO, &mb1.memory()),
        Err(BootInfoError::TooManyModules {
            limit: 32,
            count: 33
        })
    );
}

#[test]
fn mb1_garbage_counts_and_pointers() {
    // A huge mods_count and mmap_length pointing nowhere must fail cleanly.
    let mut info = [0u8; 116];
    info[0..4].copy_from_slice(&((1u32 << 3) | (1 << 6) | (1 << 2)).to_le_bytes());
    info[16..20].copy_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
    let mem = FakeMemory::default().with(MB1_INFO, &info);
    assert!(matches!(
        parse(MULTIBOOT1_MAGIC, MB1_INFO, &mem),
        Err(BootInfoError::Unreadable { .. })
    ));
    info[16..20].copy_from_slice(&0u32.to_le_bytes());
    info[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
    let mem = FakeMemory::default().with(MB1_INFO, &info).with(0, &[0]);
    assert_eq!(
        parse(MULTIBOOT1_MAGIC, MB1_INFO, &mem),
        Err(BootInfoError::TooManyModules {
            limit: 32,
            count: u32::MAX as usize
        })
    );
    info[20..24].copy_from_slice(&0u32.to_le_bytes());
    info[44..48].copy_from_slice(&u32::MAX.to_le_bytes());
    info[48..52].copy_from_slice(&u32::MAX.to_le_bytes());
    let mem = FakeMemory::default().with(MB1_INFO, &info).with(0, &[0]);
    assert!(matches!(
        parse(MULTIBOOT1_MAGIC, MB1_INFO, &mem),
        Err(BootInfoError::Unreadable { .. })
    ));
}

// ---------------------------------------------------------------- Multiboot2

const MB2_INFO: u64 = 0x1_0000;

/// The bytes of an MBI the `multiboot2` builder produced.
fn builder_bytes(builder: Builder) -> Vec<u8> {
    let mbi = builder.build();
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&mbi.header().total_size().to_le_bytes());
    bytes.extend_from_slice(&0u32.to_le_bytes());
    bytes.extend_from_slice(mbi.payload());
    bytes
}

/// An MBI from raw `(type, body)` tags, for inputs the builder cannot make.
/// The tag `size` is `8 + body.len()` unless `size` overrides it.
fn raw_mbi(tags: &[(u32, Option<u32>, Vec<u8>)]) -> Vec<u8> {
    let mut bytes = vec![0u8; 8];
    for (typ, size, body) in tags {
        bytes.extend_from_slice(&typ.to_le_bytes());
        let size = size.unwrap_or(8 + body.len() as u32);
        bytes.extend_from_slice(&size.to_le_bytes());
        bytes.extend_from_slice(body);
        bytes.resize(bytes.len().next_multiple_of(8), 0);
    }
    bytes.extend_from_slice(&0u32.to_le_bytes());
    bytes.extend_from_slice(&8u32.to_le_bytes());
    let total = bytes.len() as u32;
    bytes[0..4].copy_from_slice(&total.to_le_bytes());
    bytes
}

fn raw_mmap_tag(entry_size: u32, entries: &[(u64, u64, u32)]) -> (u32, Option<u32>, Vec<u8>) {
    let mut body = Vec::new();
    body.extend_from_slice(&entry_size.to_le_bytes());
    body.extend_from_slice(&0u32.to_le_bytes());
    for &(base, len, typ) in entries {
        body.extend_from_slice(&base.to_le_bytes());
        body.extend_from_slice(&len.to_le_bytes());
        body.extend_from_slice(&typ.to_le_bytes());
        body.resize(body.len() + entry_size as usize - 20, 0);
    }
    (6, None, body)
}

fn areas(entries: &[(u64, u64, u32)]) -> Vec<MemoryArea> {
    entries
        .iter()
        .map(|&(base, len, typ)| MemoryArea::new(base, len, MemoryAreaType::from(typ)))
        .collect()
}

fn parse_mb2(bytes: &[u8]) -> Result<crate::BootInfo, BootInfoError> {
    parse(
        MULTIBOOT2_MAGIC,
        MB2_INFO,
        &FakeMemory::default().with(MB2_INFO, bytes),
    )
}

#[test]
fn mb2_full_info_from_builder() {
    let bytes = builder_bytes(
        Builder::new()
            .cmdline(CommandLineTag::new("log=trace debug-exit=0xf4"))
            .add_module(ModuleTag::new(0x20_0000, 0x20_8000, "synic"))
            .add_module(ModuleTag::new(0x30_0000, 0x31_0000, "vmbus --verbose"))
            .mmap(MemoryMapTag::new(&areas(&qemu_like_entries())))
            .rsdpv1(RsdpV1Tag::new(*b"BOCHS ", 0, 0x7FE_1000))
            .rsdpv2(RsdpV2Tag::new(*b"BOCHS ", 2, 0x7FE_1000, 36, 0x7FE_2000)),
    );
    let mem = FakeMemory::default().with(MB2_INFO, &bytes);
    let info = parse(MULTIBOOT2_MAGIC, MB2_INFO, &mem).unwrap();
    assert_eq!(info.protocol, BootProtocol::Multiboot2);
    assert_eq!(info.command_line.as_str(), "log=trace debug-exit=0xf4");
    assert_eq!(info.memory_map.as_slice(), qemu_like_expected().as_slice());
    assert_eq!(info.modules.len(), 2);
    assert_eq!(
        (info.modules[0].start, info.modules[0].end),
        (0x20_0000, 0x20_8000)
    );
    assert_eq!(info.modules[0].command_line.as_str(), "synic");
    assert_eq!(info.modules[1].command_line.as_str(), "vmbus --verbose");
    assert_eq!(info.info_range, (MB2_INFO, MB2_INFO + bytes.len() as u64));

    // The RSDP is the v2 copy inside the MBI: it carries the XSDT address.
    let rsdp = info.rsdp.unwrap();
    assert!(rsdp >= info.info_range.0 && rsdp + 36 <= info.info_range.1);
    let copy = mem.read(rsdp, 36).unwrap();
    assert_eq!(&copy[0..8], b"RSD PTR ");
    assert_eq!(copy[15], 2, "revision of the v2 RSDP");
    assert_eq!(&copy[24..32], &0x7FE_2000u64.to_le_bytes());
}

#[test]
fn mb2_old_rsdp_when_no_new_one() {
    let bytes = builder_bytes(
        Builder::new()
            .mmap(MemoryMapTag::new(&areas(&[(0, 0x1000, 1)])))
            .rsdpv1(RsdpV1Tag::new(*b"BOCHS ", 0, 0x7FE_1000)),
    );
    let mem = FakeMemory::default().with(MB2_INFO, &bytes);
    let info = parse(MULTIBOOT2_MAGIC, MB2_INFO, &mem).unwrap();
    let rsdp = info.rsdp.unwrap();
    let copy = mem.read(rsdp, 20).unwrap();
    assert_eq!(&copy[0..8], b"RSD PTR ");
    assert_eq!(&copy[16..20], &0x7FE_1000u32.to_le_bytes());
    assert_eq!(info.command_line.as_str(), "");
    assert!(info.modules.is_empty());
}

#[test]
fn mb2_basic_memory_fallback_and_no_memory_map() {
    let bytes = builder_bytes(Builder::new().meminfo(BasicMemoryInfoTag::new(639, 1024)));
    let info = parse_mb2(&bytes).unwrap();
    assert_eq!(
        info.memory_map.as_slice(),
        [
            region(0, 639 * 1024, Usable),
            region(0x10_0000, 0x20_0000, Usable)
        ]
    );
    assert_eq!(info.rsdp, None);

    // The memory map wins over basic memory information when both are given.
    let bytes = builder_bytes(
        Builder::new()
            .meminfo(BasicMemoryInfoTag::new(639, 1024))
            .mmap(MemoryMapTag::new(&areas(&[(0, 0x1000, 5)]))),
    );
    assert_eq!(
        parse_mb2(&bytes).unwrap().memory_map.as_slice(),
        [region(0, 0x1000, Defective)]
    );

    let bytes = builder_bytes(Builder::new().cmdline(CommandLineTag::new("x")));
    assert_eq!(parse_mb2(&bytes), Err(BootInfoError::NoMemoryMap));
}

#[test]
fn mb2_alignment_and_readability() {
    let bytes = builder_bytes(Builder::new().mmap(MemoryMapTag::new(&areas(&[(0, 0x1000, 1)]))));
    let mem = FakeMemory::default().with(MB2_INFO, &bytes);
    assert_eq!(
        parse(MULTIBOOT2_MAGIC, MB2_INFO + 4, &mem),
        Err(BootInfoError::Unaligned { addr: MB2_INFO + 4 })
    );
    assert!(matches!(
        parse(MULTIBOOT2_MAGIC, 0x80_0000, &mem),
        Err(BootInfoError::Unreadable {
            addr: 0x80_0000,
            ..
        })
    ));
    assert!(matches!(
        parse(MULTIBOOT2_MAGIC, !7, &mem),
        Err(BootInfoError::Unreadable { .. })
    ));
    // total_size larger than what is readable.
    let mut bigger = bytes.clone();
    let total = bigger.len() as u32 + 64;
    bigger[0..4].copy_from_slice(&total.to_le_bytes());
    assert!(matches!(
        parse_mb2(&bigger),
        Err(BootInfoError::Unreadable { .. })
    ));
}

#[test]
fn mb2_malformed_structure() {
    let good = raw_mbi(&[raw_mmap_tag(24, &[(0, 0x1000, 1)])]);
    assert!(parse_mb2(&good).is_ok());

    // total_size too small for even the end tag.
    let mut tiny = good.clone();
    tiny[0..4].copy_from_slice(&8u32.to_le_bytes());
    assert!(matches!(
        parse_mb2(&tiny),
        Err(BootInfoError::MalformedInfo { .. })
    ));

    // total_size cuts off the end tag.
    let mut cut = good.clone();
    let total = cut.len() as u32 - 8;
    cut[0..4].copy_from_slice(&total.to_le_bytes());
    assert!(matches!(
        parse_mb2(&cut),
        Err(BootInfoError::MalformedInfo { .. })
    ));

    // A tag whose size runs past the end.
    let bad = raw_mbi(&[(1, Some(4096), b"hello\0".to_vec())]);
    assert!(matches!(
        parse_mb2(&bad),
        Err(BootInfoError::MalformedInfo { .. })
    ));

    // A tag size below the 8-byte header.
    let bad = raw_mbi(&[(1, Some(4), Vec::new())]);
    assert!(matches!(
        parse_mb2(&bad),
        Err(BootInfoError::MalformedInfo { .. })
    ));

    // All zeroes but a plausible size: a type-0 tag of size 0 is no end tag.
    let mut zeros = vec![0u8; 64];
    zeros[0..4].copy_from_slice(&64u32.to_le_bytes());
    assert!(matches!(
        parse_mb2(&zeros),
        Err(BootInfoError::MalformedInfo { .. })
    ));
}

#[test]
fn mb2_malformed_tags_are_errors_not_panics() {
    let mmap = raw_mmap_tag(24, &[(0, 0x1000, 1)]);
    let cases = [
        // Module tag shorter than start + end.
        (3, Some(12), vec![0u8; 4]),
        // RSDP tags of the wrong size.
        (14, Some(20), vec![0u8; 12]),
        (14, None, vec![0u8; 40]),
        (15, Some(40), vec![0u8; 32]),
        (15, None, vec![0u8; 48]),
        // Basic memory information without its fields.
        (4, Some(12), vec![0u8; 4]),
    ];
    for tag in cases {
        let typ = tag.0;
        let bytes = raw_mbi(&[mmap.clone(), tag]);
        let err = parse_mb2(&bytes).unwrap_err();
        assert!(
            matches!(err, BootInfoError::MalformedTag { tag_type, .. } if tag_type == typ),
            "type {typ}: {err:?}"
        );
    }

    // Memory map tags that are too short, have a bad entry size, or end
    // inside an entry.
    let mut short_entry = raw_mmap_tag(24, &[(0, 0x1000, 1)]);
    short_entry.2.truncate(8 + 20);
    for tag in [
        (6, Some(12), vec![0u8; 4]),
        raw_mmap_tag(20, &[(0, 0x1000, 1)]),
        raw_mmap_tag(28, &[(0, 0x1000, 1)]),
        raw_mmap_tag(0, &[]),
        short_entry,
    ] {
        let bytes = raw_mbi(&[tag]);
        let err = parse_mb2(&bytes).unwrap_err();
        assert!(
            matches!(err, BootInfoError::MalformedTag { tag_type: 6, .. }),
            "{err:?}"
        );
    }
}

#[test]
fn mb2_future_mmap_entry_size_is_honoured() {
    let bytes = raw_mbi(&[raw_mmap_tag(
        32,
        &[(0x10_0000, 0x10_0000, 1), (0, 0x1000, 3)],
    )]);
    assert_eq!(
        parse_mb2(&bytes).unwrap().memory_map.as_slice(),
        [
            region(0, 0x1000, AcpiReclaimable),
            region(0x10_0000, 0x20_0000, Usable)
        ]
    );
}

#[test]
fn mb2_command_line_limits_and_encoding() {
    let mmap = || MemoryMapTag::new(&areas(&[(0, 0x1000, 1)]));
    let max = "c".repeat(512);
    let bytes = builder_bytes(
        Builder::new()
            .cmdline(CommandLineTag::new(&max))
            .mmap(mmap()),
    );
    assert_eq!(parse_mb2(&bytes).unwrap().command_line.as_str(), max);

    let too_long = "c".repeat(513);
    let bytes = builder_bytes(
        Builder::new()
            .cmdline(CommandLineTag::new(&too_long))
            .mmap(mmap()),
    );
    assert_eq!(
        parse_mb2(&bytes),
        Err(BootInfoError::CommandLineTooLong { limit: 512 })
    );

    let mmap_raw = raw_mmap_tag(24, &[(0, 0x1000, 1)]);
    let no_nul = raw_mbi(&[(1, None, b"log=debug".to_vec()), mmap_raw.clone()]);
    assert!(matches!(
        parse_mb2(&no_nul),
        Err(BootInfoError::BadString { index: None, .. })
    ));
    let not_utf8 = raw_mbi(&[(1, None, b"log=\xfe\0".to_vec()), mmap_raw]);
    assert!(matches!(
        parse_mb2(&not_utf8),
        Err(BootInfoError::BadString { index: None, .. })
    ));
}

#[test]
fn mb2_module_limits() {
    let mmap = || MemoryMapTag::new(&areas(&[(0, 0x1000, 1)]));
    let long = "m".repeat(129);
    let bytes = builder_bytes(
        Builder::new()
            .add_module(ModuleTag::new(0x1000, 0x2000, "fine"))
            .add_module(ModuleTag::new(0x3000, 0x4000, &long))
            .mmap(mmap()),
    );
    assert_eq!(
        parse_mb2(&bytes),
        Err(BootInfoError::ModuleStringTooLong {
            index: 1,
            limit: 128
        })
    );

    let mut builder = Builder::new().mmap(mmap());
    for i in 0..33 {
        builder = builder.add_module(ModuleTag::new(i * 0x1000, i * 0x1000 + 1, "m"));
    }
    assert_eq!(
        parse_mb2(&builder_bytes(builder)),
        Err(BootInfoError::TooManyModules {
            limit: 32,
            count: 33
        })
    );

    // The builder refuses end < start, so build that tag by hand.
    let mut body = Vec::new();
    body.extend_from_slice(&0x5000u32.to_le_bytes());
    body.extend_from_slice(&0x4000u32.to_le_bytes());
    body.extend_from_slice(b"x\0");
    let bytes = raw_mbi(&[(3, None, body), raw_mmap_tag(24, &[(0, 0x1000, 1)])]);
    assert_eq!(
        parse_mb2(&bytes),
        Err(BootInfoError::BadModuleRange {
            index: 0,
            start: 0x5000,
            end: 0x4000
        })
    );
}

#[test]
fn mb2_too_many_regions() {
    let entries: Vec<_> = (0..129u64)
        .map(|i| (i * 0x1000, 0x1000, if i % 2 == 0 { 1 } else { 4 }))
        .collect();
    let bytes = builder_bytes(Builder::new().mmap(MemoryMapTag::new(&areas(&entries))));
    assert_eq!(
        parse_mb2(&bytes),
        Err(BootInfoError::TooManyMemoryRegions {
            limit: 128,
            count: 129
        })
    );
}

#[test]
fn mb2_garbage_never_panics() {
    // Flip every byte of a valid MBI in turn: each result is Ok or Err.
    let bytes = builder_bytes(
        Builder::new()
            .cmdline(CommandLineTag::new("log=debug"))
            .add_module(ModuleTag::new(0x20_0000, 0x20_8000, "synic"))
            .mmap(MemoryMapTag::new(&areas(&qemu_like_entries())))
            .rsdpv2(RsdpV2Tag::new(*b"BOCHS ", 2, 0x7FE_1000, 36, 0x7FE_2000)),
    );
    for i in 0..bytes.len() {
        for value in [0x00, 0xFF, 0x07, 0x80] {
            let mut garbled = bytes.clone();
            garbled[i] = value;
            let _ = parse_mb2(&garbled);
        }
    }
}

// ---------------------------------------------------------------- normaliser

mod normaliser {
    use super::*;
    use crate::{MAX_LOADER_MEMORY_ENTRIES, normalize_memory_map};
    use proptest::prelude::*;

    fn normalize(entries: &[(u64, u64, MemoryKind)]) -> Vec<MemoryRegion> {
        normalize_memory_map(entries.iter().copied())
            .unwrap()
            .to_vec()
    }

    #[test]
    fn empty_input() {
        assert!(normalize(&[]).is_empty());
        assert!(normalize(&[(5, 5, Usable), (9, 3, Reserved)]).is_empty());
    }

    #[test]
    fn restrictive_kind_wins_in_overlaps() {
        assert_eq!(
            normalize(&[
                (0, 100, Usable),
                (10, 20, Reserved),
                (15, 30, Defective),
                (50, 60, AcpiNvs),
                (55, 70, AcpiReclaimable),
            ]),
            [
                region(0, 10, Usable),
                region(10, 15, Reserved),
                region(15, 30, Defective),
                region(30, 50, Usable),
                region(50, 60, AcpiNvs),
                region(60, 70, AcpiReclaimable),
                region(70, 100, Usable),
            ]
        );
    }

    #[test]
    fn kinds_are_ordered_by_restrictiveness() {
        let kinds = [Usable, AcpiReclaimable, AcpiNvs, Reserved, Defective];
        for (i, &weaker) in kinds.iter().enumerate() {
            for &stronger in &kinds[i..] {
                assert_eq!(
                    normalize(&[(0, 10, weaker), (0, 10, stronger)]),
                    [region(0, 10, stronger)]
                );
                assert_eq!(
                    normalize(&[(0, 10, stronger), (0, 10, weaker)]),
                    [region(0, 10, stronger)]
                );
            }
        }
    }

    #[test]
    fn merges_adjacent_and_keeps_holes() {
        assert_eq!(
            normalize(&[
                (20, 30, Usable),
                (0, 10, Usable),
                (10, 20, Usable),
                (40, 50, Usable),
                (50, 60, Reserved),
                (60, 70, Reserved),
            ]),
            [
                region(0, 30, Usable),
                region(40, 50, Usable),
                region(50, 70, Reserved),
            ]
        );
    }

    #[test]
    fn top_of_address_space() {
        assert_eq!(
            normalize(&[(u64::MAX - 10, u64::MAX, Reserved), (0, 1, Usable)]),
            [
                region(0, 1, Usable),
                region(u64::MAX - 10, u64::MAX, Reserved)
            ]
        );
    }

    #[test]
    fn too_many_loader_entries() {
        let entries = (0..=MAX_LOADER_MEMORY_ENTRIES as u64).map(|i| (i, i + 1, Usable));
        assert_eq!(
            normalize_memory_map(entries),
            Err(BootInfoError::TooManyLoaderMemoryEntries {
                limit: MAX_LOADER_MEMORY_ENTRIES,
                count: MAX_LOADER_MEMORY_ENTRIES + 1
            })
        );
        // The limit itself is fine (and merges into one region).
        let entries = (0..MAX_LOADER_MEMORY_ENTRIES as u64).map(|i| (i, i + 1, Usable));
        assert_eq!(
            normalize_memory_map(entries).unwrap().as_slice(),
            [region(0, MAX_LOADER_MEMORY_ENTRIES as u64, Usable)]
        );
    }

    /// The kind the input gives byte `p`: the most restrictive covering entry.
    fn kind_at(entries: &[(u64, u64, MemoryKind)], p: u64) -> Option<MemoryKind> {
        entries
            .iter()
            .filter(|&&(s, e, _)| s <= p && p < e)
            .map(|&(_, _, k)| k)
            .max()
    }

    fn kind() -> impl Strategy<Value = MemoryKind> {
        prop_oneof![
            4 => Just(Usable),
            1 => Just(AcpiReclaimable),
            1 => Just(AcpiNvs),
            2 => Just(Reserved),
            1 => Just(Defective),
        ]
    }

    /// Entries on a coarse grid, so that overlaps and adjacency are common,
    /// mixed with arbitrary ones.
    fn entry() -> impl Strategy<Value = (u64, u64, MemoryKind)> {
        prop_oneof![
            3 => (0u64..64, 0u64..24, kind()).prop_map(|(s, l, k)| (s * 0x1000, (s + l) * 0x1000, k)),
            1 => (any::<u64>(), any::<u64>(), kind()),
        ]
    }

    proptest! {
        #[test]
        fn normalised_map_matches_the_input_byte_for_byte(
            entries in proptest::collection::vec(entry(), 0..40)
        ) {
            let out = normalize(&entries);

            // Sorted, non-empty, non-overlapping, and merged.
            for r in &out {
                prop_assert!(r.start < r.end);
            }
            for pair in out.windows(2) {
                prop_assert!(pair[0].end <= pair[1].start);
                prop_assert!(pair[0].end < pair[1].start || pair[0].kind != pair[1].kind);
            }

            // The input's kind is constant between its boundaries, so checking
            // every boundary (and each region's start) checks every byte.
            let mut points: Vec<u64> = entries.iter().flat_map(|&(s, e, _)| [s, e]).collect();
            points.extend(out.iter().map(|r| r.start));
            for p in points {
                let expected = kind_at(&entries, p);
                let got = out.iter().find(|r| r.start <= p && p < r.end).map(|r| r.kind);
                prop_assert_eq!(got, expected, "at {:#x}", p);
            }

            // Hence: usable output bytes are a subset of usable input bytes, and
            // no byte any input entry calls non-usable comes out usable.
            let usable_out: u128 = out
                .iter()
                .filter(|r| r.kind == Usable)
                .map(|r| u128::from(r.end - r.start))
                .sum();
            let usable_in: u128 = entries
                .iter()
                .filter(|&&(s, e, k)| k == Usable && s < e)
                .map(|&(s, e, _)| u128::from(e - s))
                .sum();
            prop_assert!(usable_out <= usable_in);
            for &(s, e, k) in &entries {
                if k != Usable && s < e {
                    for r in out.iter().filter(|r| r.start < e && s < r.end) {
                        prop_assert_ne!(r.kind, Usable);
                    }
                }
            }
        }
    }
}

#[test]
fn boot_info_fits_comfortably_on_the_boot_stack() {
    // The kernel parses on a 128 KiB boot stack; this keeps the value (and the
    // copies a move may make) a small part of it.
    let size = core::mem::size_of::<crate::BootInfo>();
    assert!(size <= 10 * 1024, "BootInfo is {size} bytes");
}
