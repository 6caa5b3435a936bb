//! `multiboot-guest`: a Multiboot 1 kernel, loaded the way QEMU's `-kernel`
//! loads one (guest-loader's `load_multiboot`). Its 32-bit entry
//! (`entry32.s`) goes to long mode on its own page tables and calls
//! [`multiboot_main`], which checks how the guest was entered and what the
//! boot information says.
//!
//! The test deployment must give the partition [`EXPECTED_RAM`] of RAM and
//! the command line [`EXPECTED_COMMAND_LINE`] (see `README.md`).
#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod boot_info;
mod entry;

use tessera_guest_framework::{Outcome, Suite, ensure, fail};

use crate::boot_info::{BootInfo, MemoryRegion};

/// The RAM the partition is given: 16 MiB.
pub const EXPECTED_RAM: u64 = 16 << 20;
/// How far the reported RAM may be from [`EXPECTED_RAM`]: loaders round.
pub const RAM_TOLERANCE: u64 = 64 << 10;
/// The command line the partition is given (the first word, like QEMU's
/// file name, is the kernel's name).
pub const EXPECTED_COMMAND_LINE: &str = "multiboot-guest check=cmdline";

/// `EAX` of a Multiboot 1 entry (specification section 3.2).
const BOOTLOADER_MAGIC: u32 = 0x2BAD_B002;
/// Upper memory starts at 1 MiB.
const UPPER_MEMORY_START: u64 = 1 << 20;
/// Conventional memory is at most 640 KiB.
const LOWER_MEMORY_LIMIT_KIB: u32 = 640;

/// MBI flags (specification section 3.3).
const INFO_MEMORY: u32 = 1 << 0;
const INFO_COMMAND_LINE: u32 = 1 << 2;
const INFO_MEMORY_MAP: u32 = 1 << 6;
const INFO_BOOT_LOADER_NAME: u32 = 1 << 9;

/// What `entry32.s` calls in long mode.
pub extern "sysv64" fn multiboot_main(magic: u32, info_address: u32) -> ! {
    tessera_guest_framework::run("multiboot-guest", |suite| {
        check_boot(suite, magic, info_address);
    })
}

fn check_boot(suite: &mut Suite, magic: u32, info_address: u32) {
    suite.check("entered with EAX = 0x2BADB002", || {
        ensure!(magic == BOOTLOADER_MAGIC, "EAX was {magic:#x}");
        Ok(())
    });
    let Some(info) = BootInfo::at(info_address) else {
        suite.check("EBX points at the boot information", || {
            fail!("EBX {info_address:#x} is not below 1 GiB, where the guest maps memory")
        });
        return;
    };
    let flags = info.flags();
    suite.note(format_args!(
        "multiboot-guest: MBI at {info_address:#x}, flags {flags:#x}"
    ));
    if flags & INFO_BOOT_LOADER_NAME != 0 {
        let mut buffer = [0; 64];
        let name = info.boot_loader_name(&mut buffer).unwrap_or("(unreadable)");
        suite.note(format_args!("multiboot-guest: boot loader {name}"));
    }
    suite.check(
        "MBI flags give memory sizes (bit 0) and a command line (bit 2)",
        || {
            let needed = INFO_MEMORY | INFO_COMMAND_LINE;
            ensure!(flags & needed == needed, "flags {flags:#x}");
            Ok(())
        },
    );
    suite.check("mem_lower is plausible (1..=640 KiB)", || {
        let lower = info.mem_lower_kib();
        ensure!(
            (1..=LOWER_MEMORY_LIMIT_KIB).contains(&lower),
            "mem_lower {lower} KiB"
        );
        Ok(())
    });
    suite.check("mem_upper says 16 MiB of RAM (within 64 KiB)", || {
        let upper = u64::from(info.mem_upper_kib());
        expect_ram_end(
            "mem_upper * 1 KiB + 1 MiB",
            upper * 1024 + UPPER_MEMORY_START,
        )
    });
    suite.check(
        "the memory map has RAM from 1 MiB to 16 MiB (within 64 KiB)",
        || {
            ensure!(
                flags & INFO_MEMORY_MAP != 0,
                "flags {flags:#x} have no memory map (bit 6)"
            );
            let upper = info
                .memory_map()
                .find(|region| region.is_ram() && region.base == UPPER_MEMORY_START);
            match upper {
                Some(MemoryRegion { base, length, .. }) => {
                    expect_ram_end("the end of the RAM region at 1 MiB", base + length)
                }
                None => fail!("no RAM region starts at 1 MiB"),
            }
        },
    );
    suite.check(
        "the command line is \"multiboot-guest check=cmdline\"",
        || {
            let mut buffer = [0; 256];
            match info.command_line(&mut buffer) {
                Some(line) if line == EXPECTED_COMMAND_LINE => Ok(()),
                Some(line) => fail!("got {line:?}"),
                None => fail!("no readable command line"),
            }
        },
    );
}

fn expect_ram_end(what: &str, end: u64) -> Outcome {
    ensure!(
        end.abs_diff(EXPECTED_RAM) <= RAM_TOLERANCE,
        "{what} is {end:#x}, expected {EXPECTED_RAM:#x}"
    );
    Ok(())
}
