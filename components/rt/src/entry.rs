//! Where a component starts and ends: `_start`, the heap, the panic
//! handler, and the [`entry!`](crate::entry) macro that names `main`.
//!
//! The kernel starts the first thread at `_start` with `rsp` at the top of
//! the stack (`STACK_TOP`) and every other register zero. `_start` aligns
//! the stack, and calls [`start`], which sets up the heap and the logger,
//! runs the component's `main` (through the symbol `__tessera_rt_main`
//! that `entry!` defines), and exits with its code.

use core::fmt::Display;

/// Exit code of a component whose `main` returned an error.
pub const EXIT_ERROR: u64 = 1;
/// Exit code of a component that panicked.
pub const EXIT_PANIC: u64 = 101;

/// Names the component's `main`: `fn main()` or `fn main() -> Result<(), E>`
/// with `E: Display` (an error is logged, and the exit code is 1).
///
/// ```ignore
/// tessera_rt::entry!(main);
///
/// fn main() -> Result<(), tessera_rt::Error> { Ok(()) }
/// ```
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        /// The runtime's entry point calls this once, after setting up the
        /// heap and the logger; its result is the exit code.
        #[doc(hidden)]
        #[unsafe(export_name = "__tessera_rt_main")]
        pub fn __tessera_rt_main() -> u64 {
            $crate::Termination::exit_code($main())
        }
    };
}

/// What `main` may return.
pub trait Termination {
    /// The exit code; logs a failure first.
    fn exit_code(self) -> u64;
}

impl Termination for () {
    fn exit_code(self) -> u64 {
        0
    }
}

impl<E: Display> Termination for Result<(), E> {
    fn exit_code(self) -> u64 {
        match self {
            Ok(()) => 0,
            Err(e) => {
                log::error!("main failed: {e}");
                EXIT_ERROR
            }
        }
    }
}

#[cfg(all(target_os = "none", not(test)))]
#[allow(unsafe_code)]
mod bare_metal {
    use core::mem::MaybeUninit;

    use linked_list_allocator::LockedHeap;

    use super::EXIT_PANIC;
    use crate::control::exit;
    use crate::logger;

    /// The heap's size: a static array in `.bss`.
    pub const HEAP_SIZE: usize = 64 * 1024;

    #[global_allocator]
    static ALLOCATOR: LockedHeap = LockedHeap::empty();

    static mut HEAP: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];

    unsafe extern "Rust" {
        /// Defined by [`crate::entry!`] in the component.
        safe fn __tessera_rt_main() -> u64;
    }

    /// The ELF entry point.
    #[unsafe(naked)]
    #[unsafe(no_mangle)]
    extern "C" fn _start() -> ! {
        // rsp is STACK_TOP (16-aligned) by the ABI; align it anyway, so
        // that after the call's return address it is what the System V ABI
        // expects on function entry. rbp = 0 ends stack walks here.
        core::arch::naked_asm!(
            "and rsp, -16",
            "xor ebp, ebp",
            "call {start}",
            "ud2",
            start = sym start,
        )
    }

    extern "C" fn start() -> ! {
        init_heap();
        logger::init();
        exit(__tessera_rt_main())
    }

    fn init_heap() {
        let bottom = (&raw mut HEAP).cast::<u8>();
        // `HEAP` is a static of HEAP_SIZE bytes, valid for the
        // whole run and named nowhere else: the allocator becomes its only
        // user. `start` calls this once, before anything allocates.
        // SAFETY: HEAP is used by the allocator alone, initialised once, first.
        unsafe { ALLOCATOR.lock().init(bottom, HEAP_SIZE) };
    }

    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
        if let Some(console) = logger::console() {
            let message = info.message();
            let _ = match info.location() {
                Some(at) => console.log(
                    log::Level::Error,
                    format_args!("panic at {}:{}: {message}", at.file(), at.line()),
                ),
                None => console.log(log::Level::Error, format_args!("panic: {message}")),
            };
        }
        exit(EXIT_PANIC)
    }
}
