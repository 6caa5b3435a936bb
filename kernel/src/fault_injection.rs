//! Faults raised on purpose (`inject-fault=` on the command line), so the
//! system tests see the kernel report each kind of failure and end the run
//! with a failure status instead of hanging or rebooting.
use tessera_boot_info::InjectedFault;

pub fn raise(fault: InjectedFault) -> ! {
    log::warn!("inject-fault: raising {}", fault.name());
    match fault {
        InjectedFault::InvalidOpcode => {
            // SAFETY: `ud2` only raises #UD, which the exception handler
            // reports before it ends the run.
            unsafe { core::arch::asm!("ud2", options(nomem, nostack)) };
            unreachable!("#UD returned")
        }
        InjectedFault::StackOverflow => {
            let depth = recurse(0);
            panic!("recursion returned at depth {depth} without reaching the guard page")
        }
        InjectedFault::Panic => panic!("panic injected from the command line"),
    }
}

/// Uses 4 KiB of stack per level until the guard page stops it.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let mut frame = [0u8; 4096];
    frame[0] = depth as u8;
    let frame = core::hint::black_box(&mut frame);
    if depth > 1_000_000 {
        return depth;
    }
    recurse(depth + 1) + u64::from(frame[4095])
}
