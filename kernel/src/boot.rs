//! The boot path's link to Rust: the assembly that gets from the boot loader
//! to long mode, and `kernel_start`, where the bootstrap processor arrives.
use crate::{console, exit, memory};
use core::arch::global_asm;
use spin::Once;
use tessera_boot_info::{KernelOptions, PhysMemory, parse, parse_command_line};

static OPTIONS: Once<KernelOptions> = Once::new();

/// What the kernel command line asked for.
pub fn options() -> &'static KernelOptions {
    OPTIONS.get().expect("command line parsed in kernel_start")
}

global_asm!(
    include_str!("../../boot/multiboot-header.s"),
    options(att_syntax)
);
global_asm!(include_str!("../../boot/entry.s"), options(att_syntax));

/// Entered from `boot/entry.s` in 64-bit mode on the boot stack, with the
/// early page tables: physical memory below 4 GiB is reachable through the
/// physical map.
#[unsafe(no_mangle)]
extern "C" fn kernel_start(magic: u32, info_address: u64) -> ! {
    console::init();
    let boot_info = match parse(magic, info_address, &EarlyPhysicalMemory) {
        Ok(boot_info) => boot_info,
        Err(error) => exit::fatal(format_args!("cannot read the boot information: {error}")),
    };
    let (options, not_understood) = parse_command_line(boot_info.command_line.as_str());
    console::set_level(options.log_level);
    exit::set_debug_exit_port(options.debug_exit_port);
    for word in not_understood {
        log::warn!(
            "command line: ignoring {word:?} (known: log=<level> debug-exit=<port> inject-fault=<fault>)"
        );
    }
    if options.unrecognised_overflow > 0 {
        log::warn!(
            "command line: and {} more words not understood",
            options.unrecognised_overflow
        );
    }
    OPTIONS.call_once(|| options);
    crate::bootstrap(boot_info)
}

/// Physical memory as the early page tables map it (the first 4 GiB).
struct EarlyPhysicalMemory;

impl PhysMemory for EarlyPhysicalMemory {
    fn read(&self, address: u64, len: usize) -> Option<&[u8]> {
        memory::early_physical_slice(address, len)
    }
}
