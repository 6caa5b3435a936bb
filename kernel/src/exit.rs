//! How a run ends: the verdict on the console, then QEMU's isa-debug-exit
//! port when the command line names one (`debug-exit=0xf4`), else a halt.
//!
//! isa-debug-exit turns a written value `c` into QEMU's exit status
//! `(c << 1) | 1`; `cargo xtask` maps 0x10 (status 33) to pass and 0x11
//! (status 35) to fail.
use crate::{arch, console, percpu};
use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
}

const PASS_CODE: u8 = 0x10;
const FAIL_CODE: u8 = 0x11;
const NO_PORT: u32 = u32::MAX;
/// Until the command line is read, failures are reported on the usual port,
/// as `boot/entry.s` does: the run should end rather than hang.
const EARLY_PORT: u32 = 0xF4;

static DEBUG_EXIT_PORT: AtomicU32 = AtomicU32::new(EARLY_PORT);

pub fn set_debug_exit_port(port: Option<u16>) {
    DEBUG_EXIT_PORT.store(port.map_or(NO_PORT, u32::from), Ordering::Relaxed);
}

/// Reports the verdict and ends the run.
pub fn finish(verdict: Verdict) -> ! {
    match verdict {
        Verdict::Pass => {
            arch::host_events::report(true);
            log::info!("tessera: verdict pass")
        }
        Verdict::Fail => console::emergency_line(format_args!("tessera: verdict fail")),
    }
    end(verdict)
}

/// Ends the run after an unrecoverable error, naming the CPU it happened on.
pub fn fatal(reason: fmt::Arguments<'_>) -> ! {
    console::emergency_line(format_args!(
        "fatal: cpu {}: {reason}",
        percpu::current_index()
    ));
    finish(Verdict::Fail)
}

/// Ends the run without a further console line (the caller has said why).
pub fn end(verdict: Verdict) -> ! {
    // Every line logged goes out before the run ends, lock or no lock,
    // and after what another CPU is writing out.
    console::flush();
    let port = DEBUG_EXIT_PORT.load(Ordering::Relaxed);
    if let Ok(port) = u16::try_from(port) {
        let code = match verdict {
            Verdict::Pass => PASS_CODE,
            Verdict::Fail => FAIL_CODE,
        };
        arch::port::write_u8(port, code);
    }
    arch::halt_forever()
}
