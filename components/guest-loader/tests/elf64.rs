mod common;

use common::*;
use tessera_guest_loader::elf64::{CR0, CR4, EFER, STACK_SIZE};
use tessera_guest_loader::{Error, GuestMemory, Piece, Segment, load_elf64};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn sample() -> Vec<u8> {
    let code: Vec<u8> = (0..0x20u8).collect();
    let data = [0xAB; 0x10];
    elf(
        true,
        EM_X86_64,
        ET_EXEC,
        0x10_0008,
        &[
            Seg::load(0x10_0000, &code, 0x20),
            Seg {
                p_type: PT_NOTE,
                ..Seg::load(0x5000_0000, &[1, 2, 3], 3)
            },
            Seg::load(0x20_0000, &data, 0x1010),
        ],
    )
}

#[test]
fn segments_are_copied_and_bss_zeroed() {
    let image = sample();
    let ram = 64 * MIB;
    let plan = load_elf64(&image, GuestMemory { size: ram }).unwrap();
    check_invariants(&plan, ram);

    let text = plan
        .writes
        .iter()
        .find(|w| w.what == Piece::Segment(0))
        .unwrap();
    assert_eq!(text.gpa, 0x10_0000);
    assert_eq!(&text.bytes[..], &(0..0x20u8).collect::<Vec<_>>()[..]);
    let data = plan
        .writes
        .iter()
        .find(|w| w.what == Piece::Segment(2))
        .unwrap();
    assert_eq!(data.gpa, 0x20_0000);
    assert_eq!(&data.bytes[..], &[0xAB; 0x10]);
    // Borrowed from the image, not copied.
    assert!(matches!(data.bytes, std::borrow::Cow::Borrowed(_)));
    let bss = plan
        .zero
        .iter()
        .find(|z| z.what == Piece::Segment(2))
        .unwrap();
    assert_eq!((bss.gpa, bss.len), (0x20_0010, 0x1000));
    // The PT_NOTE segment is not loaded.
    assert!(plan.writes.iter().all(|w| w.what != Piece::Segment(1)));
    assert_eq!(plan.writes.len(), 4); // two segments, GDT, page tables
    assert_eq!(plan.zero.len(), 2); // bss, stack
}

#[test]
fn identity_map_gdt_and_stack_at_the_top_of_ram() {
    let image = sample();
    let ram = 64 * MIB;
    let plan = load_elf64(&image, GuestMemory { size: ram }).unwrap();
    let gdt = ram - STACK_SIZE - 4 * 0x1000;
    let (pml4, pdpt, pd) = (gdt + 0x1000, gdt + 0x2000, gdt + 0x3000);

    assert_eq!(read_u64(&plan, pml4), pdpt | 0b11);
    for i in 1..512 {
        assert_eq!(read_u64(&plan, pml4 + 8 * i), 0);
    }
    assert_eq!(read_u64(&plan, pdpt), pd | 0b11);
    for i in 1..512 {
        assert_eq!(read_u64(&plan, pdpt + 8 * i), 0);
    }
    for i in 0..512 {
        let entry = read_u64(&plan, pd + 8 * i);
        if i < 32 {
            // Identity, 2 MiB page, present, writable.
            assert_eq!(entry, (i * 2 * MIB) | 0x83, "PD[{i}]");
        } else {
            assert_eq!(entry, 0, "PD[{i}]");
        }
    }

    // GDT: null, 64-bit code, flat data.
    assert_eq!(read_u64(&plan, gdt), 0);
    assert_eq!(read_u64(&plan, gdt + 8), 0x00AF_9B00_0000_FFFF);
    assert_eq!(read_u64(&plan, gdt + 16), 0x00CF_9300_0000_FFFF);

    let stack = plan.zero.iter().find(|z| z.what == Piece::Stack).unwrap();
    assert_eq!((stack.gpa, stack.len), (ram - STACK_SIZE, STACK_SIZE));

    let vp = plan.vp;
    assert_eq!(vp.rip, 0x10_0008);
    assert_eq!(vp.rsp, ram);
    assert_eq!(vp.rflags, 0x2);
    assert_eq!((vp.rax, vp.rbx), (0, 0));
    assert_eq!(vp.cr0, 0x8000_0031);
    assert_eq!(vp.cr0, CR0);
    assert_eq!(vp.cr3, pml4);
    assert_eq!(vp.cr4, 0x20);
    assert_eq!(vp.cr4, CR4);
    assert_eq!(vp.efer, 0x500);
    assert_eq!(vp.efer, EFER);
    assert_eq!(
        vp.cs,
        Segment {
            selector: 0x08,
            attributes: 0x0A9B,
            limit: 0xFFFF_FFFF,
            base: 0
        }
    );
    for data in [vp.ds, vp.es, vp.fs, vp.gs, vp.ss] {
        assert_eq!(
            data,
            Segment {
                selector: 0x10,
                attributes: 0x0C93,
                limit: 0xFFFF_FFFF,
                base: 0
            }
        );
    }
    assert_eq!((vp.tr.attributes, vp.tr.limit), (0x8B, 0xFFFF));
    assert_eq!((vp.ldtr.attributes, vp.ldtr.limit), (0x82, 0xFFFF));
    assert_eq!((vp.gdtr.base, vp.gdtr.limit), (gdt, 23));
    assert_eq!((vp.idtr.base, vp.idtr.limit), (0, 0));
    assert_eq!(vp.pat, 0x0007_0406_0007_0406);
    assert_eq!((vp.dr6, vp.dr7), (0xFFFF_0FF0, 0x400));
}

#[test]
fn several_page_directories_for_large_ram() {
    let image = sample();
    let ram = 3 * GIB + MIB + 0x123; // not even page aligned
    let plan = load_elf64(&image, GuestMemory { size: ram }).unwrap();
    check_invariants(&plan, ram);
    let top = ram & !0xFFF;
    let gdt = top - STACK_SIZE - 7 * 0x1000;
    let (pml4, pdpt) = (gdt + 0x1000, gdt + 0x2000);
    assert_eq!(plan.vp.cr3, pml4);
    assert_eq!(plan.vp.rsp, top);
    for i in 0..4 {
        assert_eq!(read_u64(&plan, pdpt + 8 * i), (pdpt + (1 + i) * 0x1000) | 3);
    }
    assert_eq!(read_u64(&plan, pdpt + 32), 0);
    // 3 GiB + 2 MiB mapped: 1537 large pages.
    let pd0 = pdpt + 0x1000;
    assert_eq!(read_u64(&plan, pd0 + 8 * 1536), (1536 * 2 * MIB) | 0x83);
    assert_eq!(read_u64(&plan, pd0 + 8 * 1537), 0);
}

#[test]
fn entry_is_translated_from_virtual_to_physical() {
    let base = 0xFFFF_FFFF_8010_0000;
    let image = elf(
        true,
        EM_X86_64,
        ET_EXEC,
        base + 0x10,
        &[Seg {
            vaddr: base,
            ..Seg::load(0x10_0000, &[0x90; 0x40], 0x40)
        }],
    );
    let plan = load_elf64(&image, GuestMemory { size: 16 * MIB }).unwrap();
    assert_eq!(plan.writes[0].gpa, 0x10_0000);
    assert_eq!(plan.vp.rip, 0x10_0010);
}

#[test]
fn errors() {
    let mem = GuestMemory { size: 16 * MIB };
    let one = |seg: Seg, entry| elf(true, EM_X86_64, ET_EXEC, entry, &[seg]);

    let err = load_elf64(
        &one(Seg::load(0x10_0000, &[1], 0x10), 0x10_0000),
        GuestMemory { size: MIB },
    )
    .unwrap_err();
    assert_eq!(
        err,
        Error::OutsideRam {
            what: Piece::Segment(0),
            gpa: 0x10_0000,
            len: 1,
            ram: MIB
        }
    );
    assert!(err.to_string().contains("program header 0"), "{err}");

    // Into the page tables at the top of RAM.
    let at = 16 * MIB - STACK_SIZE - 0x1000;
    let err = load_elf64(&one(Seg::load(at, &[1], 0x10), at), mem).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Overlap {
                first: Piece::PageTables,
                second: Piece::Segment(0),
                ..
            }
        ),
        "{err:?}"
    );

    let image = elf(
        true,
        EM_X86_64,
        ET_EXEC,
        0x10_0000,
        &[
            Seg::load(0x10_0000, &[1; 0x20], 0x20),
            Seg::load(0x10_0010, &[2; 0x20], 0x20),
        ],
    );
    assert!(matches!(
        load_elf64(&image, mem),
        Err(Error::Overlap { .. })
    ));

    let image = one(Seg::load(0x10_0000, &[1], 1), 0x20_0000);
    assert_eq!(
        load_elf64(&image, mem),
        Err(Error::EntryOutsideImage { entry: 0x20_0000 })
    );

    let image = one(Seg::load(0x10_0000, &[1; 8], 4), 0x10_0000);
    assert_eq!(
        load_elf64(&image, mem),
        Err(Error::SegmentFileSizeExceedsMemSize { index: 0 })
    );

    let image = one(
        Seg {
            offset: Some(0xFFFF_FFFF_FFFF_FFF0),
            ..Seg::load(0x10_0000, &[1; 0x20], 0x20)
        },
        0x10_0000,
    );
    assert_eq!(
        load_elf64(&image, mem),
        Err(Error::SegmentDataOutsideFile { index: 0 })
    );

    let image = one(Seg::load(0xFFFF_FFFF_FFFF_FFF0, &[], 0x20), 0);
    assert_eq!(
        load_elf64(&image, mem),
        Err(Error::AddressOverflow {
            what: Piece::Segment(0)
        })
    );

    let image = elf(
        true,
        EM_X86_64,
        ET_EXEC,
        0,
        &[Seg {
            p_type: PT_NOTE,
            ..Seg::load(0, &[1], 1)
        }],
    );
    assert_eq!(load_elf64(&image, mem), Err(Error::NoLoadableSegment));

    let seg = Seg::load(0x10_0000, &[1], 1);
    let image = elf(
        false,
        EM_386,
        ET_EXEC,
        0x10_0000,
        std::slice::from_ref(&seg),
    );
    assert_eq!(
        load_elf64(&image, mem),
        Err(Error::WrongClass { expected: 64 })
    );
    let image = elf(true, EM_386, ET_EXEC, 0x10_0000, std::slice::from_ref(&seg));
    assert_eq!(
        load_elf64(&image, mem),
        Err(Error::WrongMachine {
            found: 3,
            expected: 62
        })
    );
    let image = elf(
        true,
        EM_X86_64,
        ET_DYN,
        0x10_0000,
        std::slice::from_ref(&seg),
    );
    assert_eq!(
        load_elf64(&image, mem),
        Err(Error::NotExecutable { e_type: 3 })
    );
    let image = elf(true, EM_X86_64, ET_EXEC, 0x10_0000, &[]);
    assert_eq!(load_elf64(&image, mem), Err(Error::NoLoadableSegment));

    assert!(matches!(
        load_elf64(b"MZ not an elf", mem),
        Err(Error::NotElf(_))
    ));
    assert!(matches!(load_elf64(&[], mem), Err(Error::NotElf(_))));

    let image = sample();
    assert_eq!(
        load_elf64(&image, GuestMemory { size: 0x1000 }),
        Err(Error::RamTooSmall {
            size: 0x1000,
            needed: STACK_SIZE + 4 * 0x1000
        })
    );
    assert!(matches!(
        load_elf64(&image, GuestMemory { size: 513 * GIB }),
        Err(Error::RamTooLarge { .. })
    ));
}
