//! Test helpers: a tiny ELF builder, a.out-kludge Multiboot images, and
//! reading guest memory back out of a plan.
#![allow(dead_code)]

use tessera_guest_loader::LoadPlan;

pub const PT_LOAD: u32 = 1;
pub const PT_NOTE: u32 = 4;
pub const EM_386: u16 = 3;
pub const EM_X86_64: u16 = 62;
pub const ET_EXEC: u16 = 2;
pub const ET_DYN: u16 = 3;

/// Where segment data starts in the built files.
pub const DATA_OFFSET: usize = 0x100;

#[derive(Clone, Debug)]
pub struct Seg {
    pub p_type: u32,
    pub vaddr: u64,
    pub paddr: u64,
    pub data: Vec<u8>,
    pub memsz: u64,
    /// Overrides the computed file offset.
    pub offset: Option<u64>,
}

impl Seg {
    pub fn load(addr: u64, data: &[u8], memsz: u64) -> Self {
        Self {
            p_type: PT_LOAD,
            vaddr: addr,
            paddr: addr,
            data: data.to_vec(),
            memsz,
            offset: None,
        }
    }
}

fn put(out: &mut [u8], at: usize, bytes: &[u8]) {
    out[at..at + bytes.len()].copy_from_slice(bytes);
}

/// An ELF file (class 64 if `class64`) with the given program headers; the
/// segments' data is laid out from `DATA_OFFSET` on, 16-byte aligned.
pub fn elf(class64: bool, machine: u16, e_type: u16, entry: u64, segs: &[Seg]) -> Vec<u8> {
    let (ehsize, phsize) = if class64 { (64, 56) } else { (52, 32) };
    assert!(ehsize + phsize * segs.len() <= DATA_OFFSET);
    let mut out = vec![0u8; DATA_OFFSET];
    let mut offsets = Vec::new();
    for seg in segs {
        while !out.len().is_multiple_of(16) {
            out.push(0);
        }
        offsets.push(seg.offset.unwrap_or(out.len() as u64));
        out.extend_from_slice(&seg.data);
    }
    put(
        &mut out,
        0,
        &[0x7F, b'E', b'L', b'F', if class64 { 2 } else { 1 }, 1, 1],
    );
    put(&mut out, 16, &e_type.to_le_bytes());
    put(&mut out, 18, &machine.to_le_bytes());
    put(&mut out, 20, &1u32.to_le_bytes());
    let n = segs.len() as u16;
    if class64 {
        put(&mut out, 24, &entry.to_le_bytes());
        put(&mut out, 32, &64u64.to_le_bytes()); // e_phoff
        put(&mut out, 52, &64u16.to_le_bytes()); // e_ehsize
        put(&mut out, 54, &56u16.to_le_bytes()); // e_phentsize
        put(&mut out, 56, &n.to_le_bytes());
        put(&mut out, 58, &64u16.to_le_bytes()); // e_shentsize
    } else {
        put(&mut out, 24, &(entry as u32).to_le_bytes());
        put(&mut out, 28, &52u32.to_le_bytes()); // e_phoff
        put(&mut out, 40, &52u16.to_le_bytes());
        put(&mut out, 42, &32u16.to_le_bytes());
        put(&mut out, 44, &n.to_le_bytes());
        put(&mut out, 46, &40u16.to_le_bytes());
    }
    for (i, (seg, offset)) in segs.iter().zip(offsets).enumerate() {
        let at = ehsize + i * phsize;
        let filesz = seg.data.len() as u64;
        if class64 {
            put(&mut out, at, &seg.p_type.to_le_bytes());
            put(&mut out, at + 4, &7u32.to_le_bytes());
            put(&mut out, at + 8, &offset.to_le_bytes());
            put(&mut out, at + 16, &seg.vaddr.to_le_bytes());
            put(&mut out, at + 24, &seg.paddr.to_le_bytes());
            put(&mut out, at + 32, &filesz.to_le_bytes());
            put(&mut out, at + 40, &seg.memsz.to_le_bytes());
            put(&mut out, at + 48, &0x1000u64.to_le_bytes());
        } else {
            put(&mut out, at, &seg.p_type.to_le_bytes());
            put(&mut out, at + 4, &(offset as u32).to_le_bytes());
            put(&mut out, at + 8, &(seg.vaddr as u32).to_le_bytes());
            put(&mut out, at + 12, &(seg.paddr as u32).to_le_bytes());
            put(&mut out, at + 16, &(filesz as u32).to_le_bytes());
            put(&mut out, at + 20, &(seg.memsz as u32).to_le_bytes());
            put(&mut out, at + 24, &7u32.to_le_bytes());
            put(&mut out, at + 28, &0x1000u32.to_le_bytes());
        }
    }
    out
}

/// A Multiboot header (magic, flags, checksum) followed by the a.out
/// fields.
pub fn multiboot_header(flags: u32, aout: [u32; 5]) -> Vec<u8> {
    let mut out = Vec::new();
    let magic = 0x1BAD_B002u32;
    for word in [magic, flags, 0u32.wrapping_sub(magic).wrapping_sub(flags)] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    for word in aout {
        out.extend_from_slice(&word.to_le_bytes());
    }
    out
}

/// The bytes a plan leaves at `[gpa, gpa + len)`: from a write or a zero
/// fill that contains the whole range.
pub fn read(plan: &LoadPlan<'_>, gpa: u64, len: usize) -> Vec<u8> {
    for write in &plan.writes {
        let end = write.gpa + write.bytes.len() as u64;
        if write.gpa <= gpa && gpa + len as u64 <= end {
            let at = (gpa - write.gpa) as usize;
            return write.bytes[at..at + len].to_vec();
        }
    }
    for zero in &plan.zero {
        if zero.gpa <= gpa && gpa + len as u64 <= zero.gpa + zero.len {
            return vec![0; len];
        }
    }
    panic!("nothing in the plan covers {gpa:#x}+{len:#x}");
}

pub fn read_u32(plan: &LoadPlan<'_>, gpa: u64) -> u32 {
    u32::from_le_bytes(read(plan, gpa, 4).try_into().unwrap())
}

pub fn read_u64(plan: &LoadPlan<'_>, gpa: u64) -> u64 {
    u64::from_le_bytes(read(plan, gpa, 8).try_into().unwrap())
}

/// The NUL-terminated string at `gpa`.
pub fn read_cstr(plan: &LoadPlan<'_>, gpa: u64) -> String {
    let mut out = Vec::new();
    let mut at = gpa;
    loop {
        let byte = read(plan, at, 1)[0];
        if byte == 0 {
            return String::from_utf8(out).unwrap();
        }
        out.push(byte);
        at += 1;
    }
}

/// Checks the plan's invariants: everything inside `[0, ram)`, nothing
/// empty, no overlaps.
pub fn check_invariants(plan: &LoadPlan<'_>, ram: u64) {
    let mut ranges: Vec<(u64, u64)> = plan
        .writes
        .iter()
        .map(|w| (w.gpa, w.gpa + w.bytes.len() as u64))
        .chain(plan.zero.iter().map(|z| (z.gpa, z.gpa + z.len)))
        .collect();
    ranges.sort();
    for &(start, end) in &ranges {
        assert!(
            start < end && end <= ram,
            "{start:#x}..{end:#x} vs RAM {ram:#x}"
        );
    }
    for pair in ranges.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "overlap: {pair:x?}");
    }
}

/// A synthesized bzImage: `setup_sects` setup sectors, then `code` as the
/// protected-mode part, with the setup header fields a 64-bit Linux 6.x
/// kernel has (protocol 2.15, relocatable, `XLF_KERNEL_64`), which the
/// tests then change.
#[derive(Clone, Debug)]
pub struct BzImage {
    pub setup_sects: u8,
    pub version: u16,
    pub loadflags: u8,
    pub initrd_addr_max: u32,
    pub kernel_alignment: u32,
    pub relocatable: bool,
    pub xloadflags: u16,
    pub cmdline_size: u32,
    pub pref_address: u64,
    pub init_size: u32,
    /// The jump byte at 0x201: the header ends at 0x202 + this.
    pub header_len: u8,
    pub code: Vec<u8>,
    /// Bytes after the protected-mode code that syssize does not count
    /// (a signature, say).
    pub trailer: Vec<u8>,
}

impl Default for BzImage {
    fn default() -> Self {
        Self {
            setup_sects: 4,
            version: 0x020F,
            loadflags: 0x01,
            initrd_addr_max: 0x7FFF_FFFF,
            kernel_alignment: 0x20_0000,
            relocatable: true,
            xloadflags: 0x7F,
            cmdline_size: 2047,
            pref_address: 0x100_0000,
            init_size: 0x40_0000,
            header_len: 0x6A,
            code: (0..0x3000u32).map(|i| (i % 251) as u8).collect(),
            trailer: Vec::new(),
        }
    }
}

impl BzImage {
    pub fn bytes(&self) -> Vec<u8> {
        let setup = (usize::from(self.setup_sects.max(1)) + 1) * 512;
        let setup = if self.setup_sects == 0 {
            5 * 512
        } else {
            setup
        };
        let mut out = vec![0u8; setup];
        out[0x1F1] = self.setup_sects;
        let syssize = self.code.len().div_ceil(16) as u32;
        put(&mut out, 0x1F4, &syssize.to_le_bytes());
        put(&mut out, 0x1FE, &0xAA55u16.to_le_bytes());
        out[0x200] = 0xEB;
        out[0x201] = self.header_len;
        put(&mut out, 0x202, b"HdrS");
        put(&mut out, 0x206, &self.version.to_le_bytes());
        out[0x211] = self.loadflags;
        put(&mut out, 0x214, &0x10_0000u32.to_le_bytes());
        put(&mut out, 0x22C, &self.initrd_addr_max.to_le_bytes());
        put(&mut out, 0x230, &self.kernel_alignment.to_le_bytes());
        out[0x234] = u8::from(self.relocatable);
        out[0x235] = 21;
        put(&mut out, 0x236, &self.xloadflags.to_le_bytes());
        put(&mut out, 0x238, &self.cmdline_size.to_le_bytes());
        put(&mut out, 0x258, &self.pref_address.to_le_bytes());
        put(&mut out, 0x260, &self.init_size.to_le_bytes());
        let mut code = self.code.clone();
        code.resize(syssize as usize * 16, 0);
        out.extend_from_slice(&code);
        out.extend_from_slice(&self.trailer);
        out
    }
}
