//! The Linux boot protocol loader against synthesized bzImages, and
//! (ignored by default) Debian's kernel.
mod common;

use common::*;
use tessera_acpi_tables::Config;
use tessera_guest_loader::linux::{
    ACPI_GPA, BOOT_CS, BOOT_DS, CMDLINE_GPA, GDT_GPA, PAGE_TABLES_GPA, ZERO_PAGE_GPA,
};
use tessera_guest_loader::{
    Error, GuestMemory, LinuxBoot, LoadPlan, Piece, Segment, elf64, load_linux,
};

const MIB: u64 = 1 << 20;

fn boot<'a>(kernel: &'a [u8], cmdline: &'a str, initrd: &'a [u8]) -> LinuxBoot<'a> {
    LinuxBoot {
        kernel,
        cmdline,
        initrd,
        acpi: Config {
            vps: 2,
            vmbus_irq: None,
            rtc: false,
        },
    }
}

fn load<'a>(boot: &LinuxBoot<'a>, ram: u64) -> Result<LoadPlan<'a>, Error> {
    let plan = load_linux(boot, GuestMemory { size: ram }).map(|(plan, _)| plan)?;
    check_invariants(&plan, ram);
    Ok(plan)
}

fn u16_at(plan: &LoadPlan<'_>, gpa: u64) -> u16 {
    u16::from_le_bytes(read(plan, gpa, 2).try_into().unwrap())
}

/// Follows the identity map from CR3 for `gpa`: the 2 MiB page's base.
fn translate(plan: &LoadPlan<'_>, cr3: u64, gpa: u64) -> Option<u64> {
    let pml4e = read_u64(plan, cr3 + ((gpa >> 39) & 511) * 8);
    (pml4e & 1 == 1).then_some(())?;
    let pdpte = read_u64(plan, (pml4e & !0xFFF) + ((gpa >> 30) & 511) * 8);
    (pdpte & 1 == 1).then_some(())?;
    let pde = read_u64(plan, (pdpte & !0xFFF) + ((gpa >> 21) & 511) * 8);
    (pde & 0x81 == 0x81 && pde & 2 == 2).then_some(())?;
    Some((pde & !0x1F_FFFF) | (gpa & 0x1F_FFFF))
}

#[test]
fn a_bzimage_boots_on_the_64_bit_path() {
    let image = BzImage::default();
    let bytes = image.bytes();
    let initrd = vec![0x5A; 0x1800];
    let ram = 64 * MIB;
    let (plan, layout) = load_linux(
        &boot(&bytes, "console=ttyS0 earlyprintk=serial", &initrd),
        GuestMemory { size: ram },
    )
    .unwrap();
    check_invariants(&plan, ram);

    // The kernel at pref_address, entered at startup_64.
    assert_eq!(layout.kernel, 0x100_0000);
    assert_eq!(layout.kernel_extent, 0x40_0000);
    let kernel = plan
        .writes
        .iter()
        .find(|w| w.what == Piece::LinuxKernel)
        .unwrap();
    assert_eq!(kernel.gpa, 0x100_0000);
    assert_eq!(&kernel.bytes[..image.code.len()], &image.code[..]);
    let vp = plan.vp;
    assert_eq!(vp.rip, 0x100_0200);
    assert_eq!(vp.rsi, ZERO_PAGE_GPA);
    assert_eq!(vp.rflags, 0x2, "interrupts off");
    assert_eq!(
        (vp.cr0, vp.cr4, vp.efer),
        (elf64::CR0, elf64::CR4, elf64::EFER)
    );
    assert_eq!(vp.cr3, PAGE_TABLES_GPA);

    // __BOOT_CS and __BOOT_DS: flat, 64-bit code and read/write data.
    assert_eq!(vp.cs.selector, BOOT_CS);
    assert_eq!(vp.cs.attributes, Segment::CODE64_ATTRIBUTES);
    for data in [vp.ds, vp.es, vp.ss, vp.fs, vp.gs] {
        assert_eq!(data.selector, BOOT_DS);
        assert_eq!(data.attributes, Segment::DATA_ATTRIBUTES);
        assert_eq!((data.base, data.limit), (0, 0xFFFF_FFFF));
    }
    assert_eq!((vp.gdtr.base, vp.gdtr.limit), (GDT_GPA, 0x1F));
    assert_eq!(read_u64(&plan, GDT_GPA + 0x10), 0x00AF_9B00_0000_FFFF);
    assert_eq!(read_u64(&plan, GDT_GPA + 0x18), 0x00CF_9300_0000_FFFF);
    assert_eq!(read_u64(&plan, GDT_GPA), 0, "null descriptor");
    assert_eq!(vp.idtr.limit, 0);

    // What the protocol demands be identity-mapped: init_size from the
    // load address, the zero page, the command line.
    for gpa in [
        layout.kernel,
        layout.kernel + layout.kernel_extent - 1,
        ZERO_PAGE_GPA,
        CMDLINE_GPA,
        layout.initrd,
        ram - 1,
    ] {
        assert_eq!(translate(&plan, vp.cr3, gpa), Some(gpa), "{gpa:#x}");
    }
}

#[test]
fn the_zero_page_holds_the_header_the_command_line_the_initrd_and_the_map() {
    let image = BzImage::default();
    let bytes = image.bytes();
    let initrd: Vec<u8> = (0..0x2345u32).map(|i| i as u8).collect();
    let ram = 64 * MIB;
    let plan = load(&boot(&bytes, "console=ttyS0", &initrd), ram).unwrap();
    let zp = ZERO_PAGE_GPA;

    // The setup header, copied; then the loader's fields.
    let header_end = 0x202 + 0x6A;
    let copied = read(&plan, zp + 0x1F1, header_end - 0x1F1);
    for (i, (&got, &want)) in copied.iter().zip(&bytes[0x1F1..header_end]).enumerate() {
        let at = 0x1F1 + i;
        let written = matches!(at, 0x1FA..=0x1FB | 0x210 | 0x214..=0x21F | 0x228..=0x22B);
        if !written {
            assert_eq!(got, want, "header byte {at:#x}");
        }
    }
    assert_eq!(read(&plan, zp + 0x202, 4), b"HdrS");
    assert_eq!(
        read(&plan, zp + 0x210, 1),
        [0xFF],
        "type_of_loader: undefined"
    );
    assert_eq!(u16_at(&plan, zp + 0x1FA), 0xFFFF, "vid_mode: normal");
    assert_eq!(read_u32(&plan, zp + 0x214), 0x100_0000, "code32_start");
    assert_eq!(read_u32(&plan, zp + 0x228) as u64, CMDLINE_GPA);
    assert_eq!(read_cstr(&plan, CMDLINE_GPA), "console=ttyS0");
    assert_eq!(read(&plan, zp + 0x1EF, 1), [0], "sentinel clear");

    // The initrd: at the top of RAM, page-aligned, below initrd_addr_max.
    let at = u64::from(read_u32(&plan, zp + 0x218));
    assert_eq!(read_u32(&plan, zp + 0x21C) as usize, initrd.len());
    assert_eq!(at % 0x1000, 0);
    assert!(at + initrd.len() as u64 <= ram);
    assert!(
        ram - (at + initrd.len() as u64) < 0x1000,
        "as high as it goes"
    );
    assert_eq!(read(&plan, at, initrd.len()), initrd);

    // acpi_rsdp_addr (protocol 2.14+) and the RSDP there.
    assert_eq!(read_u64(&plan, zp + 0x70), ACPI_GPA);
    assert_eq!(read(&plan, ACPI_GPA, 8), b"RSD PTR ");

    // e820: RAM, reserved, ACPI, reserved, RAM.
    let count = read(&plan, zp + 0x1E8, 1)[0] as u64;
    let entries: Vec<(u64, u64, u32)> = (0..count)
        .map(|i| {
            let e = zp + 0x2D0 + i * 20;
            (
                read_u64(&plan, e),
                read_u64(&plan, e + 8),
                read_u32(&plan, e + 16),
            )
        })
        .collect();
    let acpi = plan
        .writes
        .iter()
        .find(|w| w.what == Piece::AcpiTables)
        .unwrap();
    let acpi_end = (ACPI_GPA + acpi.bytes.len() as u64).next_multiple_of(0x1000);
    assert_eq!(
        entries,
        vec![
            (0, 0x9_FC00, 1),
            (0x9_FC00, 0x400, 2),
            (ACPI_GPA, acpi_end - ACPI_GPA, 3),
            (acpi_end, 0x10_0000 - acpi_end, 2),
            (0x10_0000, ram - 0x10_0000, 1),
        ]
    );
    // Every loader piece below 1 MiB lies in the e820 RAM or ACPI ranges.
    for w in &plan.writes {
        if w.gpa < 0x10_0000 {
            let end = w.gpa + w.bytes.len() as u64;
            assert!(
                entries
                    .iter()
                    .any(|&(b, s, k)| k != 2 && w.gpa >= b && end <= b + s),
                "{:?}",
                w.what
            );
        }
    }
}

#[test]
fn without_an_initrd_the_ramdisk_fields_are_zero_and_old_protocols_get_no_rsdp_field() {
    let image = BzImage {
        version: 0x020C,
        ..BzImage::default()
    };
    let bytes = image.bytes();
    let plan = load(&boot(&bytes, "", &[]), 32 * MIB).unwrap();
    assert_eq!(read_u32(&plan, ZERO_PAGE_GPA + 0x218), 0);
    assert_eq!(read_u32(&plan, ZERO_PAGE_GPA + 0x21C), 0);
    assert!(plan.writes.iter().all(|w| w.what != Piece::Initrd));
    assert_eq!(
        read_u64(&plan, ZERO_PAGE_GPA + 0x70),
        0,
        "2.12 has no acpi_rsdp_addr"
    );
    assert_eq!(
        read(&plan, ACPI_GPA, 8),
        b"RSD PTR ",
        "found by the BIOS-area scan"
    );
    assert_eq!(read_cstr(&plan, CMDLINE_GPA), "");
}

#[test]
fn only_syssize_paragraphs_are_loaded() {
    let image = BzImage {
        trailer: vec![0xEE; 0x600],
        ..BzImage::default()
    };
    let bytes = image.bytes();
    let plan = load(&boot(&bytes, "", &[]), 32 * MIB).unwrap();
    let kernel = plan
        .writes
        .iter()
        .find(|w| w.what == Piece::LinuxKernel)
        .unwrap();
    let mut code = image.code.clone();
    code.resize(image.code.len().next_multiple_of(16), 0);
    assert_eq!(
        &kernel.bytes[..],
        &code[..],
        "the code, without the trailer"
    );
}

#[test]
fn the_load_address_follows_pref_address_and_kernel_alignment() {
    let at = |image: BzImage| {
        let bytes = image.bytes();
        load_linux(&boot(&bytes, "", &[]), GuestMemory { size: 128 * MIB })
            .map(|(_, layout)| layout.kernel)
    };
    assert_eq!(
        at(BzImage {
            pref_address: 0x110_0000,
            ..BzImage::default()
        }),
        Ok(0x120_0000),
        "rounded up to kernel_alignment"
    );
    assert_eq!(
        at(BzImage {
            pref_address: 0x8000,
            kernel_alignment: 0x1000,
            ..BzImage::default()
        }),
        Ok(0x10_0000),
        "never below 1 MiB"
    );
    assert_eq!(
        at(BzImage {
            pref_address: 0x110_0000,
            relocatable: false,
            kernel_alignment: 3,
            ..BzImage::default()
        }),
        Ok(0x110_0000),
        "a fixed kernel goes where it says, whatever its alignment"
    );
    assert!(matches!(
        at(BzImage {
            pref_address: 0x9_0000,
            relocatable: false,
            ..BzImage::default()
        }),
        Err(Error::LinuxBadHeader(_))
    ));
}

#[test]
fn bad_images_are_refused_with_the_reason() {
    let ram = GuestMemory { size: 64 * MIB };
    let refuse = |bytes: &[u8]| {
        load_linux(&boot(bytes, "", &[]), ram)
            .map(drop)
            .unwrap_err()
    };
    let good = BzImage::default().bytes();

    assert!(matches!(
        refuse(&good[..0x100]),
        Error::LinuxTruncated { needed: 0x208, .. }
    ));
    assert!(matches!(
        refuse(&good[..0x240]),
        Error::LinuxTruncated { needed: 0x26C, .. }
    ));
    let cut = good.len() - 1;
    assert_eq!(
        refuse(&good[..cut]),
        Error::LinuxTruncated {
            needed: good.len() as u64,
            len: cut as u64
        }
    );
    let mut magic = good.clone();
    magic[0x202] = b'X';
    assert_eq!(refuse(&magic), Error::NotLinux);
    assert_eq!(refuse(&[0u8; 4096]), Error::NotLinux);
    let old = BzImage {
        version: 0x020B,
        ..BzImage::default()
    };
    assert_eq!(
        refuse(&old.bytes()),
        Error::LinuxProtocolTooOld { version: 0x020B }
    );
    let zimage = BzImage {
        loadflags: 0,
        ..BzImage::default()
    };
    assert_eq!(refuse(&zimage.bytes()), Error::LinuxNotBzImage);
    let only32 = BzImage {
        xloadflags: 0x7E,
        ..BzImage::default()
    };
    assert_eq!(refuse(&only32.bytes()), Error::LinuxNot64Bit);
    for header_len in [0x61, 0x8F] {
        let odd = BzImage {
            header_len,
            ..BzImage::default()
        };
        assert!(
            matches!(refuse(&odd.bytes()), Error::LinuxBadHeader(_)),
            "{header_len:#x}"
        );
    }
    let unaligned = BzImage {
        kernel_alignment: 0x30_0000,
        ..BzImage::default()
    };
    assert!(matches!(
        refuse(&unaligned.bytes()),
        Error::LinuxBadHeader(_)
    ));
    let empty = BzImage {
        code: Vec::new(),
        ..BzImage::default()
    };
    assert!(matches!(refuse(&empty.bytes()), Error::LinuxBadHeader(_)));
}

#[test]
fn a_kernel_whose_init_size_does_not_fit_is_refused() {
    let image = BzImage {
        init_size: 0x100_0000,
        ..BzImage::default()
    };
    let bytes = image.bytes();
    // 16 MiB at 16 MiB needs 32 MiB of RAM.
    assert!(load(&boot(&bytes, "", &[]), 32 * MIB).is_ok());
    assert!(matches!(
        load(&boot(&bytes, "", &[]), 30 * MIB),
        Err(Error::OutsideRam {
            what: Piece::LinuxKernelInit,
            ..
        })
    ));
    let small = BzImage::default().bytes();
    assert!(matches!(
        load(&boot(&small, "", &[]), 16 * MIB),
        Err(Error::OutsideRam {
            what: Piece::LinuxKernel,
            ..
        })
    ));
}

#[test]
fn an_initrd_that_does_not_fit_is_refused() {
    let bytes = BzImage::default().bytes();
    // The kernel takes [16 MiB, 20 MiB); 24 MiB of RAM leaves 4 MiB.
    let ram = 24 * MIB;
    let fits = vec![1u8; 4 * MIB as usize];
    assert!(load(&boot(&bytes, "", &fits), ram).is_ok());
    let too_big = vec![1u8; 4 * MIB as usize + 1];
    assert_eq!(
        load(&boot(&bytes, "", &too_big), ram).map(drop),
        Err(Error::LinuxInitrdDoesNotFit {
            size: 4 * MIB + 1,
            kernel_end: 20 * MIB,
            limit: ram
        })
    );
    // initrd_addr_max below the kernel's end leaves no room at all.
    let low_max = BzImage {
        initrd_addr_max: 0xFF_FFFF,
        ..BzImage::default()
    }
    .bytes();
    assert_eq!(
        load(&boot(&low_max, "", &[1]), 64 * MIB).map(drop),
        Err(Error::LinuxInitrdDoesNotFit {
            size: 1,
            kernel_end: 20 * MIB,
            limit: 16 * MIB
        })
    );
    // With room, initrd_addr_max bounds it, not the end of RAM.
    let max = BzImage {
        initrd_addr_max: 0x1FF_FFFF,
        ..BzImage::default()
    }
    .bytes();
    let plan = load(&boot(&max, "", &[7; 100]), 64 * MIB).unwrap();
    let initrd = plan
        .writes
        .iter()
        .find(|w| w.what == Piece::Initrd)
        .unwrap();
    assert_eq!(initrd.gpa, 0x1FF_F000);
}

#[test]
fn command_lines_are_bounded_and_have_no_nul() {
    let bytes = BzImage {
        cmdline_size: 16,
        ..BzImage::default()
    }
    .bytes();
    assert!(load(&boot(&bytes, "0123456789abcdef", &[]), 32 * MIB).is_ok());
    assert_eq!(
        load(&boot(&bytes, "0123456789abcdefg", &[]), 32 * MIB).map(drop),
        Err(Error::LinuxCommandLineTooLong { len: 17, max: 16 })
    );
    let good = BzImage::default().bytes();
    assert_eq!(
        load(&boot(&good, "a\0b", &[]), 32 * MIB).map(drop),
        Err(Error::NulInCommandLine { module: None })
    );
}

#[test]
fn ram_beyond_what_the_low_page_tables_map_is_refused() {
    let bytes = BzImage::default().bytes();
    assert!(matches!(
        load_linux(&boot(&bytes, "", &[]), GuestMemory { size: 65 << 30 }),
        Err(Error::RamTooLarge { .. })
    ));
}

#[test]
fn the_acpi_tables_describe_the_partitions_vps() {
    let bytes = BzImage::default().bytes();
    let mut linux = boot(&bytes, "", &[]);
    linux.acpi.vps = 0;
    assert!(matches!(
        load_linux(&linux, GuestMemory { size: 32 * MIB }),
        Err(Error::Acpi(_))
    ));
    linux.acpi.vps = 4;
    let plan = load(&linux, 32 * MIB).unwrap();
    let tables = plan
        .writes
        .iter()
        .find(|w| w.what == Piece::AcpiTables)
        .unwrap();
    assert_eq!(tables.gpa, ACPI_GPA);
    let built = tessera_acpi_tables::build(&linux.acpi, ACPI_GPA).unwrap();
    assert_eq!(&tables.bytes[..], &built.bytes[..]);
}

/// Debian's kernel, fetched by `cargo xtask` (or named by
/// `TESSERA_LINUX_KERNEL`): `cargo test -p tessera-guest-loader -- --ignored`.
#[test]
#[ignore = "needs a Linux bzImage on disk: TESSERA_LINUX_KERNEL or cargo xtask's Debian kernel"]
fn debians_kernel_loads() {
    let path = std::env::var("TESSERA_LINUX_KERNEL").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../target/tessera/linux/vmlinuz"
        )
        .to_owned()
    });
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let initrd = vec![0u8; 2 << 20];
    let ram = 256 * MIB;
    let (plan, layout) = load_linux(
        &boot(&bytes, "console=ttyS0 earlyprintk=serial", &initrd),
        GuestMemory { size: ram },
    )
    .unwrap();
    check_invariants(&plan, ram);
    assert!(layout.header.version >= 0x020F, "Linux 6.1 speaks 2.15");
    assert_eq!(layout.kernel, 0x100_0000, "CONFIG_PHYSICAL_START");
    assert!(layout.kernel_extent > 16 * MIB);
    assert!(layout.initrd >= layout.kernel + layout.kernel_extent);
    assert_eq!(plan.vp.rip, layout.kernel + 0x200);
}
