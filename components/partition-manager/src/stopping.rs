//! Waiting for a VP the manager has just stopped.
//!
//! A reply that stops a VP is captured when the manager sends it, but the
//! VP is marked stopped only when its own CPU next runs it
//! (`complete_exit` in the kernel). A manager that resets the partition
//! right after its reply (`VpSetRegisters`, `PartitionSetHv1` again,
//! `VpStart`) can be faster than the VP's CPU, above all on a loaded host,
//! and is refused with `VpRunning`. It gives the CPU away and asks again;
//! the VP's CPU gets there.

use tessera_abi::Status;
use tessera_rt::Error;
use tessera_rt::vm::RegisterError;

/// A kernel refusal that may mean "the VP has not taken its stop yet".
pub trait Refusal {
    /// Whether this is `VpRunning`.
    fn vp_running(&self) -> bool;
}

impl Refusal for Error {
    fn vp_running(&self) -> bool {
        *self == Status::VpRunning
    }
}

impl Refusal for RegisterError {
    fn vp_running(&self) -> bool {
        self.error.vp_running()
    }
}

/// How many times the manager yields for one stopping VP before it
/// gives up. A count of turns, not a time: the VP's CPU needs one of its
/// own turns, however slow the machine.
pub const MAX_YIELDS: u32 = 100_000;

/// `operation`'s result once it is no longer refused with `VpRunning`,
/// calling `yield_now` between tries; after [`MAX_YIELDS`] yields the
/// last refusal.
pub fn once_stopped<T, E: Refusal>(
    mut operation: impl FnMut() -> Result<T, E>,
    mut yield_now: impl FnMut(),
) -> Result<T, E> {
    let mut yields = 0;
    loop {
        match operation() {
            Err(e) if e.vp_running() && yields < MAX_YIELDS => {
                yields += 1;
                yield_now();
            }
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Refused(Status);

    impl Refusal for Refused {
        fn vp_running(&self) -> bool {
            self.0 == Status::VpRunning
        }
    }

    #[test]
    fn the_kernels_refusals_say_vp_running_only_for_vp_running() {
        let running = Error::from_code(Status::VpRunning.code()).unwrap();
        let other = Error::from_code(Status::InvalidArgument.code()).unwrap();
        assert!(running.vp_running());
        assert!(!other.vp_running());
        let registers = |error| RegisterError { error, index: None };
        assert!(registers(running).vp_running());
        assert!(!registers(other).vp_running());
    }

    #[test]
    fn a_vp_still_stopping_is_asked_again_after_a_yield() {
        let mut refusals = 3;
        let mut yields = 0;
        let result = once_stopped(
            || {
                if refusals > 0 {
                    refusals -= 1;
                    Err(Refused(Status::VpRunning))
                } else {
                    Ok("reset")
                }
            },
            || yields += 1,
        );
        assert_eq!(result, Ok("reset"));
        assert_eq!(yields, 3);
    }

    #[test]
    fn other_errors_and_successes_return_at_once() {
        let mut yields = 0;
        let result: Result<(), _> =
            once_stopped(|| Err(Refused(Status::InvalidArgument)), || yields += 1);
        assert_eq!(result, Err(Refused(Status::InvalidArgument)));
        assert_eq!(once_stopped(|| Ok::<_, Refused>(7), || yields += 1), Ok(7));
        assert_eq!(yields, 0);
    }

    #[test]
    fn a_vp_that_never_stops_is_given_up_on() {
        let mut yields = 0;
        let result: Result<(), _> =
            once_stopped(|| Err(Refused(Status::VpRunning)), || yields += 1);
        assert_eq!(result, Err(Refused(Status::VpRunning)));
        assert_eq!(yields, MAX_YIELDS);
    }
}
