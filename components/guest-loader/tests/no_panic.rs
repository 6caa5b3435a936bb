//! Guest images are untrusted: no input may make a loader panic, and every
//! plan a loader returns keeps its invariants.
mod common;

use common::*;
use proptest::prelude::*;
use tessera_guest_loader::{
    GuestMemory, LinuxBoot, Module, load_elf64, load_linux, load_multiboot,
};

const MIB: u64 = 1 << 20;

fn valid_images() -> Vec<Vec<u8>> {
    let mut text = multiboot_header(0x3, [0; 5])[..12].to_vec();
    text.resize(0x40, 0x90);
    let mut aout = multiboot_header(0x1_0003, [0x10_0000, 0x10_0000, 0, 0x10_2000, 0x10_0020]);
    aout.resize(0x80, 0xF4);
    vec![
        elf(
            true,
            EM_X86_64,
            ET_EXEC,
            0x10_0000,
            &[
                Seg::load(0x10_0000, &[0x90; 0x40], 0x40),
                Seg::load(0x20_0000, &[1; 0x10], 0x2000),
            ],
        ),
        elf(
            false,
            EM_386,
            ET_EXEC,
            0x10_0000,
            &[
                Seg::load(0x10_0000, &text, 0x40),
                Seg::load(0x10_1000, &[1; 0x10], 0x2000),
            ],
        ),
        aout,
    ]
}

fn memory() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(16 * MIB),
        0u64..(64 * MIB),
        0u64..(600 << 30),
        any::<u64>(),
    ]
}

fn run(image: &[u8], ram: u64, cmdline: &str) {
    let memory = GuestMemory { size: ram };
    if let Ok(plan) = load_elf64(image, memory) {
        check_invariants(&plan, ram);
    }
    let modules = [Module {
        image: &image[..image.len().min(100)],
        cmdline,
    }];
    if let Ok(plan) = load_multiboot(image, memory, cmdline, &modules) {
        check_invariants(&plan, ram);
        assert!(
            plan.writes
                .iter()
                .all(|w| w.gpa + w.bytes.len() as u64 <= 1 << 32)
        );
    }
    let _ = load_multiboot(image, memory, "", &[]).map(|plan| plan.to_owned());
    run_linux(image, ram, cmdline, 0x3000);
}

fn run_linux(image: &[u8], ram: u64, cmdline: &str, initrd_len: usize) {
    let initrd = vec![0x11; initrd_len];
    let boot = LinuxBoot {
        kernel: image,
        cmdline,
        initrd: &initrd,
        acpi: tessera_acpi_tables::Config {
            vps: 2,
            vmbus_irq: None,
            rtc: false,
        },
    };
    if let Ok((plan, layout)) = load_linux(&boot, GuestMemory { size: ram }) {
        check_invariants(&plan, ram);
        assert!(
            plan.writes
                .iter()
                .all(|w| w.gpa + w.bytes.len() as u64 <= 1 << 32)
        );
        assert_eq!(plan.vp.rip, layout.kernel + 0x200);
        if initrd_len > 0 {
            assert!(layout.initrd >= layout.kernel + layout.kernel_extent);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes(image in proptest::collection::vec(any::<u8>(), 0..600), ram in memory()) {
        run(&image, ram, "x");
    }

    #[test]
    fn mutated_images(
        which in 0usize..3,
        mutations in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        truncate in proptest::option::of(any::<usize>()),
        ram in memory(),
    ) {
        let mut image = valid_images().swap_remove(which);
        for (at, byte) in mutations {
            let len = image.len();
            image[at % len] = byte;
        }
        if let Some(len) = truncate {
            image.truncate(len % (image.len() + 1));
        }
        run(&image, ram, "console=ttyS0");
    }

    #[test]
    fn mutated_bzimages(
        mutations in proptest::collection::vec(
            (prop_oneof![0x1F0usize..0x270, any::<usize>()], any::<u8>()),
            1..12,
        ),
        truncate in proptest::option::of(any::<usize>()),
        ram in prop_oneof![Just(64 * MIB), 0u64..(128 * MIB), any::<u64>()],
        initrd_len in prop_oneof![Just(0usize), 1usize..0x1_0000],
        cmdline in "[ -~]{0,40}",
    ) {
        let mut image = BzImage::default().bytes();
        for (at, byte) in mutations {
            let len = image.len();
            image[at % len] = byte;
        }
        if let Some(len) = truncate {
            image.truncate(len % (image.len() + 1));
        }
        run_linux(&image, ram, &cmdline, initrd_len);
    }

    #[test]
    fn arbitrary_multiboot_headers(
        flags in any::<u32>(),
        aout in any::<[u32; 5]>(),
        prefix in 0usize..64,
        len in 0usize..512,
        ram in memory(),
    ) {
        let mut image = vec![0u8; prefix * 4];
        image.extend(multiboot_header(flags | 0x1_0000, aout));
        image.resize(image.len() + len, 0xAA);
        run(&image, ram, "");
    }
}

#[test]
fn valid_images_load() {
    let images = valid_images();
    load_elf64(&images[0], GuestMemory { size: 16 * MIB }).unwrap();
    load_multiboot(&images[1], GuestMemory { size: 16 * MIB }, "", &[]).unwrap();
    load_multiboot(&images[2], GuestMemory { size: 16 * MIB }, "", &[]).unwrap();
    let bz = BzImage::default().bytes();
    let boot = LinuxBoot {
        kernel: &bz,
        cmdline: "",
        initrd: &[1],
        acpi: tessera_acpi_tables::Config {
            vps: 1,
            vmbus_irq: None,
            rtc: false,
        },
    };
    load_linux(&boot, GuestMemory { size: 64 * MIB }).unwrap();
}
