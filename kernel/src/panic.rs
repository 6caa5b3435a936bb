//! A kernel panic is a bug: say where, on which CPU, and end the run.
use crate::{console, exit};
use core::panic::PanicInfo;

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    match info.location() {
        Some(location) => console::emergency_line(format_args!(
            "panic at {}:{}: {}",
            location.file(),
            location.line(),
            info.message()
        )),
        None => console::emergency_line(format_args!("panic: {}", info.message())),
    }
    exit::finish(exit::Verdict::Fail)
}
