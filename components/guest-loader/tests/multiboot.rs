mod common;

use common::*;
use tessera_guest_loader::multiboot::{GDT_ADDR, MBI_ADDR, MMAP_ADDR};
use tessera_guest_loader::{Error, GuestMemory, Module, Piece, Segment, load_multiboot};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// An a.out-kludge kernel loaded at 1 MiB: header at offset 0, code after
/// it, `load_end_addr = 0` (to the end of the file), 8 KiB of bss.
fn aout_kernel() -> Vec<u8> {
    let len = 0x40u32;
    let mut image = multiboot_header(
        0x1_0003,
        [0x10_0000, 0x10_0000, 0, 0x10_0000 + len + 0x2000, 0x10_0020],
    );
    image.resize(len as usize, 0xF4);
    image
}

fn mbi(plan: &tessera_guest_loader::LoadPlan<'_>, offset: u64) -> u32 {
    read_u32(plan, MBI_ADDR + offset)
}

#[test]
fn aout_kludge_kernel_with_cmdline_and_modules() {
    let image = aout_kernel();
    let ram = 128 * MIB;
    let big = vec![0xAA; 5000];
    let modules = [
        Module {
            image: b"module-one-data",
            cmdline: "mod1 arg",
        },
        Module {
            image: &big,
            cmdline: "mod2",
        },
    ];
    let plan = load_multiboot(
        &image,
        GuestMemory { size: ram },
        "console=ttyS0 verdict",
        &modules,
    )
    .unwrap();
    check_invariants(&plan, ram);

    // The kernel: the whole file at load_addr, then the bss.
    let kernel = plan
        .writes
        .iter()
        .find(|w| w.what == Piece::Kernel)
        .unwrap();
    assert_eq!((kernel.gpa, &kernel.bytes[..]), (0x10_0000, &image[..]));
    let bss = plan
        .zero
        .iter()
        .find(|z| z.what == Piece::KernelBss)
        .unwrap();
    assert_eq!((bss.gpa, bss.len), (0x10_0040, 0x2000));

    // The information structure.
    assert_eq!(mbi(&plan, 0), 0x24D); // mem, cmdline, mods, mmap, name
    assert_eq!(mbi(&plan, 4), 639);
    assert_eq!(mbi(&plan, 8), ((ram - MIB) / 1024) as u32);
    assert_eq!(mbi(&plan, 12), 0); // no boot device
    let cmdline = mbi(&plan, 16);
    assert_eq!(read_cstr(&plan, cmdline.into()), "console=ttyS0 verdict");
    assert_eq!(mbi(&plan, 20), 2);
    let mods = u64::from(mbi(&plan, 24));
    // Right after the kernel's bss (0x102040), page aligned.
    assert_eq!(mods, 0x10_3000);
    assert_eq!(u64::from(cmdline), mods + 32);
    assert_eq!(mbi(&plan, 44), 3 * 24);
    assert_eq!(u64::from(mbi(&plan, 48)), MMAP_ADDR);
    assert_eq!(read_cstr(&plan, mbi(&plan, 64).into()), "tessera");
    for offset in (28..44).chain(52..64).chain(68..116).step_by(4) {
        assert_eq!(mbi(&plan, offset), 0, "MBI offset {offset}");
    }

    // The module list: page-aligned modules after the strings.
    let expected = [(0x10_4000u64, 15u64, "mod1 arg"), (0x10_5000, 5000, "mod2")];
    for (i, (start, len, name)) in expected.into_iter().enumerate() {
        let entry = mods + 16 * i as u64;
        assert_eq!(u64::from(read_u32(&plan, entry)), start);
        assert_eq!(u64::from(read_u32(&plan, entry + 4)), start + len);
        assert_eq!(read_cstr(&plan, read_u32(&plan, entry + 8).into()), name);
        assert_eq!(read_u32(&plan, entry + 12), 0);
        let write = plan
            .writes
            .iter()
            .find(|w| w.what == Piece::Module(i))
            .unwrap();
        assert_eq!(write.gpa, start);
        assert_eq!(&write.bytes[..], modules[i].image);
    }

    // The memory map: low RAM, the hole, high RAM.
    let mmap = [
        (0u64, 0x9_FC00u64, 1u32),
        (0x9_FC00, 0x6_0400, 2),
        (0x10_0000, ram - MIB, 1),
    ];
    for (i, (base, len, kind)) in mmap.into_iter().enumerate() {
        let entry = MMAP_ADDR + 24 * i as u64;
        assert_eq!(read_u32(&plan, entry), 20);
        assert_eq!(read_u64(&plan, entry + 4), base);
        assert_eq!(read_u64(&plan, entry + 12), len);
        assert_eq!(read_u32(&plan, entry + 20), kind);
    }

    // The GDT and the initial state.
    assert_eq!(read_u64(&plan, GDT_ADDR), 0);
    assert_eq!(read_u64(&plan, GDT_ADDR + 8), 0x00CF_9B00_0000_FFFF);
    assert_eq!(read_u64(&plan, GDT_ADDR + 16), 0x00CF_9300_0000_FFFF);
    let vp = plan.vp;
    assert_eq!(vp.rip, 0x10_0020);
    assert_eq!(vp.rax, 0x2BAD_B002);
    assert_eq!(vp.rbx, 0x9500);
    assert_eq!(vp.rbx, MBI_ADDR);
    assert_eq!((vp.rsp, vp.rflags), (0, 0x2));
    assert_eq!((vp.cr0, vp.cr3, vp.cr4, vp.efer), (0x11, 0, 0, 0));
    assert_eq!(
        vp.cs,
        Segment {
            selector: 0x08,
            attributes: 0x0C9B,
            limit: 0xFFFF_FFFF,
            base: 0
        }
    );
    for data in [vp.ds, vp.es, vp.fs, vp.gs, vp.ss] {
        assert_eq!(data, Segment::flat(0x10, 0x0C93));
    }
    assert_eq!((vp.gdtr.base, vp.gdtr.limit), (GDT_ADDR, 23));
    assert_eq!((vp.idtr.base, vp.idtr.limit), (0, 0));
}

#[test]
fn aout_header_inside_the_text_with_explicit_load_end() {
    // 0x40 bytes of text before the header; header_addr - load_addr = 0x40;
    // load_end_addr stops before the file's tail; no bss.
    let mut image = vec![0x90u8; 0x40];
    image.extend(multiboot_header(
        0x1_0000,
        [0x20_0040, 0x20_0000, 0x20_0060, 0, 0x20_0000],
    ));
    image.resize(0x100, 0xCC);
    let plan = load_multiboot(&image, GuestMemory { size: 16 * MIB }, "", &[]).unwrap();
    let kernel = plan
        .writes
        .iter()
        .find(|w| w.what == Piece::Kernel)
        .unwrap();
    assert_eq!((kernel.gpa, &kernel.bytes[..]), (0x20_0000, &image[..0x60]));
    assert!(plan.zero.is_empty());
    assert_eq!(plan.vp.rip, 0x20_0000);
    // No modules: the list is empty, the strings follow the kernel.
    assert_eq!(mbi(&plan, 20), 0);
    assert_eq!(mbi(&plan, 24), 0x20_1000);
    assert_eq!(read_cstr(&plan, mbi(&plan, 16).into()), "");
    assert_eq!(mbi(&plan, 8), 15 * 1024);
}

#[test]
fn elf32_kernel() {
    // Higher-half ELF32 kernel: linked at 0xC0100000, loaded at 1 MiB.
    let mut text = multiboot_header(0x3, [0; 5])[..12].to_vec();
    text.resize(0x30, 0x90);
    let image = elf(
        false,
        EM_386,
        ET_EXEC,
        0xC010_0010,
        &[
            Seg {
                vaddr: 0xC010_0000,
                ..Seg::load(0x10_0000, &text, 0x30)
            },
            Seg {
                vaddr: 0xC010_1000,
                ..Seg::load(0x10_1000, &[7; 8], 0x3000)
            },
        ],
    );
    let ram = 32 * MIB;
    let plan = load_multiboot(
        &image,
        GuestMemory { size: ram },
        "x",
        &[Module {
            image: &[1, 2, 3],
            cmdline: "initrd",
        }],
    )
    .unwrap();
    check_invariants(&plan, ram);
    let seg = plan
        .writes
        .iter()
        .find(|w| w.what == Piece::Segment(0))
        .unwrap();
    assert_eq!((seg.gpa, &seg.bytes[..]), (0x10_0000, &text[..]));
    let bss = plan
        .zero
        .iter()
        .find(|z| z.what == Piece::Segment(1))
        .unwrap();
    assert_eq!((bss.gpa, bss.len), (0x10_1008, 0x2FF8));
    assert_eq!(plan.vp.rip, 0x10_0010);
    // Kernel ends at 0x104000: module list there, the module a page on.
    assert_eq!(mbi(&plan, 24), 0x10_4000);
    assert_eq!(read_u32(&plan, 0x10_4000), 0x10_5000);
    assert_eq!(read_u32(&plan, 0x10_4004), 0x10_5003);
    assert_eq!(mbi(&plan, 8), 31 * 1024);
}

#[test]
fn memory_above_4_gib() {
    let ram = 5 * GIB;
    let image = aout_kernel();
    let plan = load_multiboot(&image, GuestMemory { size: ram }, "", &[]).unwrap();
    assert_eq!(u64::from(mbi(&plan, 8)), (4 * GIB - MIB) / 1024);
    assert_eq!(read_u64(&plan, MMAP_ADDR + 48 + 12), ram - MIB);
}

#[test]
fn errors() {
    let mem = GuestMemory { size: 16 * MIB };
    let kernel = |flags: u32, aout: [u32; 5], len: usize| {
        let mut image = multiboot_header(flags, aout);
        image.resize(len, 0);
        image
    };
    let good = [0x10_0000, 0x10_0000, 0, 0, 0x10_0000];

    assert_eq!(
        load_multiboot(&[0; 100], mem, "", &[]),
        Err(Error::NoMultibootHeader)
    );
    // A header past the first 8192 bytes is not found.
    let mut far = vec![0; 8192];
    far.extend(multiboot_header(0x1_0000, good));
    assert_eq!(
        load_multiboot(&far, mem, "", &[]),
        Err(Error::NoMultibootHeader)
    );
    // The a.out fields must lie within the first 8192 bytes too.
    let mut late = vec![0; 8192 - 16];
    late.extend(multiboot_header(0x1_0000, good));
    assert_eq!(
        load_multiboot(&late, mem, "", &[]),
        Err(Error::MultibootHeaderTruncated { offset: 8176 })
    );

    let mut bad = kernel(0x1_0000, good, 64);
    bad[8] ^= 1;
    assert_eq!(
        load_multiboot(&bad, mem, "", &[]),
        Err(Error::MultibootChecksum { offset: 0 })
    );

    let err = load_multiboot(&kernel(0x1_0004, good, 64), mem, "", &[]).unwrap_err();
    assert_eq!(err, Error::UnsupportedMultibootFlags { flags: 0x4 });
    assert_eq!(
        load_multiboot(&kernel(0x1_8020, good, 64), mem, "", &[]),
        Err(Error::UnsupportedMultibootFlags { flags: 0x8020 })
    );
    // Optional bits 17-31 are ignored.
    assert!(load_multiboot(&kernel(0xFFFE_0003 | 0x1_0000, good, 64), mem, "", &[]).is_ok());

    let aout = |fields| load_multiboot(&kernel(0x1_0000, fields, 64), mem, "", &[]).map(|_| ());
    assert!(matches!(
        aout([0x10_0000, 0x10_0010, 0, 0, 0]),
        Err(Error::InvalidAoutAddresses(_))
    ));
    assert!(matches!(
        aout([0x10_0010, 0x10_0000, 0, 0, 0]),
        Err(Error::InvalidAoutAddresses(_))
    ));
    assert!(matches!(
        aout([0x10_0000, 0x10_0000, 0x10_0100, 0, 0]),
        Err(Error::InvalidAoutAddresses(_))
    ));
    assert!(matches!(
        aout([0x10_0000, 0x10_0000, 0x0F_0000, 0, 0]),
        Err(Error::InvalidAoutAddresses(_))
    ));
    assert!(matches!(
        aout([0x10_0000, 0x10_0000, 0, 0x10_0010, 0]),
        Err(Error::InvalidAoutAddresses(_))
    ));
    // Over the low information area.
    assert_eq!(
        aout([0x9000, 0x9000, 0, 0, 0x9000]),
        Err(Error::Overlap {
            first: Piece::Kernel,
            second: Piece::MultibootInfo,
            gpa: 0x9000
        })
    );
    // Past the end of RAM / above 4 GiB.
    assert_eq!(
        aout([0x100_0000, 0x100_0000, 0, 0, 0]),
        Err(Error::OutsideRam {
            what: Piece::Kernel,
            gpa: 0x100_0000,
            len: 64,
            ram: 16 * MIB
        })
    );
    let err = load_multiboot(
        &kernel(0x1_0000, [0xFFFF_FFF0, 0xFFFF_FFF0, 0, 0, 0], 64),
        GuestMemory { size: 8 * GIB },
        "",
        &[],
    )
    .unwrap_err();
    assert_eq!(
        err,
        Error::Above4GiB {
            what: Piece::Kernel,
            end: 0x1_0000_0030
        }
    );

    // A module that does not fit.
    let big = vec![0; 15 * MIB as usize];
    let err = load_multiboot(
        &kernel(0x1_0000, good, 64),
        mem,
        "",
        &[
            Module {
                image: &[1],
                cmdline: "",
            },
            Module {
                image: &big,
                cmdline: "",
            },
        ],
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::OutsideRam {
                what: Piece::Module(1),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("module 1"), "{err}");

    assert_eq!(
        load_multiboot(&kernel(0x1_0000, good, 64), mem, "a\0b", &[]),
        Err(Error::NulInCommandLine { module: None })
    );

    // Without the kludge, the file must be ELF32 for i386.
    let mut text = multiboot_header(0x3, [0; 5])[..12].to_vec();
    text.resize(0x20, 0);
    let seg = [Seg::load(0x10_0000, &text, 0x20)];
    let image = elf(true, EM_X86_64, ET_EXEC, 0x10_0000, &seg);
    assert_eq!(
        load_multiboot(&image, mem, "", &[]),
        Err(Error::WrongClass { expected: 32 })
    );
    let image = elf(false, EM_X86_64, ET_EXEC, 0x10_0000, &seg);
    assert!(matches!(
        load_multiboot(&image, mem, "", &[]),
        Err(Error::WrongMachine { .. })
    ));
    let image = kernel(0x3, good, 64);
    assert!(matches!(
        load_multiboot(&image, mem, "", &[]),
        Err(Error::NotElf(_))
    ));
}
