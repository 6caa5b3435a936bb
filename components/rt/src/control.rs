//! The system calls about the component itself: ending it, ending the
//! deployment, giving up the CPU.

use tessera_abi::{CapTransfer, Syscall, slot};

use crate::error::Error;
use crate::syscall::invoke;

/// Ends the component (all its threads) with `code`, which the kernel logs.
pub fn exit(code: u64) -> ! {
    let _ = invoke(Syscall::Exit, 0, [code, 0, 0, 0, 0, 0], CapTransfer::NONE);
    // Exit does not return; should a kernel ever refuse it, stay out of
    // everyone's way.
    loop {
        yield_now();
    }
}

/// Ends the deployment with pass or fail, through the verdict capability
/// (slot 3, `verdict = true` in the manifest).
///
/// If the kernel refuses (the component has no verdict capability), logs
/// why and exits with code 1.
pub fn verdict(pass: bool) -> ! {
    let word = if pass { 0 } else { 1 };
    let result = invoke(
        Syscall::Verdict,
        slot::VERDICT,
        [word, 0, 0, 0, 0, 0],
        CapTransfer::NONE,
    );
    let outcome = if pass { "pass" } else { "fail" };
    match result {
        Err(e) => log::error!("verdict {outcome} refused: {e}"),
        Ok(_) => log::error!("verdict {outcome} returned"),
    }
    exit(1)
}

/// Gives up the rest of this thread's time slice.
pub fn yield_now() {
    let _ = invoke(Syscall::Yield, 0, [0; 6], CapTransfer::NONE);
}

/// The system call that does nothing: the baseline for measurements.
pub fn null_syscall() -> Result<(), Error> {
    invoke(Syscall::Null, 0, [0; 6], CapTransfer::NONE).map(drop)
}
