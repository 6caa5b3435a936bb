//! `multiboot-guest`: a Multiboot 1 kernel, loaded the way QEMU's `-kernel`
//! loads one (guest-loader's `load_multiboot`). Its 32-bit entry
//! (`entry32.s`) goes to long mode on its own page tables and calls
//! [`multiboot_main`], which checks how the guest was entered and what the
//! boot information says.
//!
//! The test deployment must give the partition [`EXPECTED_RAM`] of RAM, the
//! command line [`EXPECTED_COMMAND_LINE`] and one boot module, the file
//! `module.txt` ([`EXPECTED_MODULE`]) with the string
//! [`EXPECTED_MODULE_STRING`] (see `README.md`).
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
/// The one boot module's contents: what `module.txt` holds. Written out
/// here, not included from the file, so that the check compares the
/// module with what the file should be.
pub const EXPECTED_MODULE: &[u8] = b"Tessera multiboot module one\n";
/// The one boot module's string (like QEMU's `-initrd "FILE ARGS"`, the
/// file's name, `module-one`, first).
pub const EXPECTED_MODULE_STRING: &str = "module-one arg";

/// `EAX` of a Multiboot 1 entry (specification section 3.2).
const BOOTLOADER_MAGIC: u32 = 0x2BAD_B002;
/// Modules start on page boundaries (the header asks for it: flag 0).
const PAGE_SIZE: u32 = 4096;
/// Upper memory starts at 1 MiB.
const UPPER_MEMORY_START: u64 = 1 << 20;
/// Conventional memory is at most 640 KiB.
const LOWER_MEMORY_LIMIT_KIB: u32 = 640;

/// MBI flags (specification section 3.3).
const INFO_MEMORY: u32 = 1 << 0;
const INFO_COMMAND_LINE: u32 = 1 << 2;
const INFO_MODULES: u32 = 1 << 3;
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
    check_modules(suite, info, flags);
}

/// The boot modules: exactly one, `module.txt` with its string.
fn check_modules(suite: &mut Suite, info: BootInfo, flags: u32) {
    let has_modules = suite.check("the MBI flags give boot modules (bit 3)", || {
        ensure!(flags & INFO_MODULES != 0, "flags {flags:#x}");
        Ok(())
    });
    let one = suite.check("mods_count is 1", || {
        ensure!(has_modules, "no module list (flag 3)");
        let count = info.mods_count();
        ensure!(count == 1, "mods_count {count}");
        Ok(())
    });
    let module = if one { info.module(0) } else { None };
    suite.check("module 0 starts on a page boundary", || {
        let Some(module) = module else {
            return fail!("no readable module 0");
        };
        ensure!(
            module.start.is_multiple_of(PAGE_SIZE),
            "mod_start {:#x}",
            module.start
        );
        Ok(())
    });
    suite.check("module 0 holds the bytes of module.txt", || {
        let Some(module) = module else {
            return fail!("no readable module 0");
        };
        let mut buffer = [0; 64];
        match module.read(&mut buffer) {
            Some(bytes) if bytes == EXPECTED_MODULE => Ok(()),
            Some(bytes) => fail!(
                "{} bytes at {:#x}: {:?}",
                bytes.len(),
                module.start,
                core::str::from_utf8(bytes).unwrap_or("(not UTF-8)")
            ),
            None => fail!(
                "{:#x}..{:#x} is not {} bytes of mapped memory",
                module.start,
                module.end,
                EXPECTED_MODULE.len()
            ),
        }
    });
    suite.check("module 0's string is \"module-one arg\"", || {
        let Some(module) = module else {
            return fail!("no readable module 0");
        };
        let mut buffer = [0; 256];
        match module.string(&mut buffer) {
            Some(string) if string == EXPECTED_MODULE_STRING => Ok(()),
            Some(string) => fail!("got {string:?}"),
            None => fail!("no readable string"),
        }
    });
}

fn expect_ram_end(what: &str, end: u64) -> Outcome {
    ensure!(
        end.abs_diff(EXPECTED_RAM) <= RAM_TOLERANCE,
        "{what} is {end:#x}, expected {EXPECTED_RAM:#x}"
    );
    Ok(())
}
