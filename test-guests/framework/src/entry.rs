//! How a guest starts and how it ends when something goes wrong.
//!
//! An ELF64 guest names its `main` with [`entry!`](crate::entry!); the
//! macro defines `_start`, which the loader enters in long mode with
//! interrupts off, RSP at the top of RAM and no IDT. `_start` keeps that
//! RSP (it tells the guest how much RAM it has, see
//! [`layout`](crate::layout)), moves to a stack in the image's bss (so a
//! deep call chain cannot run into the loader's page tables just below the
//! initial stack) and calls [`start_elf64`], which calls [`run`].
//!
//! A guest with its own entry (the Multiboot guest) calls [`run`] directly
//! once it is in long mode on a stack of its own.
#![allow(unsafe_code)]

use crate::suite::{self, Suite};

/// Size of the stack `_start` moves to.
pub const STACK_SIZE: usize = 64 * 1024;

/// The stack `_start` moves to. Only ever touched through RSP.
#[repr(C, align(16))]
#[derive(Debug)]
pub struct Stack(pub [u8; STACK_SIZE]);
pub static mut STACK: Stack = Stack([0; STACK_SIZE]);

/// Defines `_start` for an ELF64 guest that runs `$main(&mut Suite)`; the
/// run ends with the summary and verdict once `$main` returns.
///
/// ```ignore
/// tessera_guest_framework::entry!(main);
///
/// fn main(suite: &mut tessera_guest_framework::Suite) { /* checks */ }
/// ```
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        ::core::arch::global_asm!(
            ".pushsection .text._start, \"ax\"",
            ".globl _start",
            "_start:",
            "mov rdi, rsp",
            "lea rsp, [rip + {stack} + {stack_size}]",
            "xor ebp, ebp",
            "call {start}",
            "ud2",
            ".popsection",
            stack = sym $crate::entry::STACK,
            stack_size = const $crate::entry::STACK_SIZE,
            start = sym __tessera_guest_start,
        );

        extern "sysv64" fn __tessera_guest_start(initial_stack_top: u64) -> ! {
            $crate::entry::start_elf64(initial_stack_top, ::core::env!("CARGO_PKG_NAME"), $main)
        }
    };
}

/// What `_start` calls: records the initial stack top, then [`run`].
pub fn start_elf64(initial_stack_top: u64, guest: &str, main: impl FnOnce(&mut Suite)) -> ! {
    crate::layout::record_initial_stack_top(initial_stack_top);
    run(guest, main)
}

/// Installs the exception catcher, prints the start line, runs `main` and
/// ends the run with the summary and the verdict.
pub fn run(guest: &str, main: impl FnOnce(&mut Suite)) -> ! {
    crate::exception::install();
    suite::start(guest);
    let mut suite = Suite::new();
    main(&mut suite);
    suite.finish()
}

#[cfg(all(target_os = "none", not(test)))]
mod panic {
    use core::panic::PanicInfo;
    use core::sync::atomic::{AtomicBool, Ordering};

    use crate::suite::abort;

    static PANICKING: AtomicBool = AtomicBool::new(false);

    #[panic_handler]
    fn panic(info: &PanicInfo<'_>) -> ! {
        if PANICKING.swap(true, Ordering::SeqCst) {
            // Reporting the first panic panicked: give the verdict without it.
            crate::exit::fail();
        }
        match info.location() {
            Some(at) => abort(
                format_args!("panic: {} (at {}:{})", info.message(), at.file(), at.line()),
                || {},
            ),
            None => abort(format_args!("panic: {}", info.message()), || {}),
        }
    }
}
