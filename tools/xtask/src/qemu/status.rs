//! What QEMU's exit tells: the guest's verdict through isa-debug-exit, or why
//! there is none.

use std::fmt;

use super::progress::Stuck;

/// The value the kernel writes to the isa-debug-exit port on success.
pub const PASS_CODE: i32 = 0x10;
/// The value the kernel writes on failure.
pub const FAIL_CODE: i32 = 0x11;

/// QEMU's process status after the guest writes `code` to isa-debug-exit.
pub const fn debug_exit_status(code: i32) -> i32 {
    (code << 1) | 1
}

/// The guest's own verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
        })
    }
}

/// How a QEMU run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Verdict(Verdict),
    /// Status 0: QEMU stopped without the guest writing to isa-debug-exit.
    NoVerdict,
    /// The boot made no progress (see [`super::progress`]) and QEMU was
    /// killed.
    Stuck(Stuck),
    /// Any other status (QEMU's own errors), or a signal.
    QemuFailed(String),
}

impl Outcome {
    /// Maps a QEMU process status (`code`, or the `signal` that ended it).
    pub fn from_status(code: Option<i32>, signal: Option<i32>) -> Self {
        const PASS: i32 = debug_exit_status(PASS_CODE);
        const FAIL: i32 = debug_exit_status(FAIL_CODE);
        match (code, signal) {
            (Some(PASS), _) => Self::Verdict(Verdict::Pass),
            (Some(FAIL), _) => Self::Verdict(Verdict::Fail),
            (Some(0), _) => Self::NoVerdict,
            (Some(code), _) => Self::QemuFailed(format!("status {code}")),
            (None, Some(signal)) => Self::QemuFailed(format!("signal {signal}")),
            (None, None) => Self::QemuFailed("an unknown status".into()),
        }
    }

    pub fn is_pass(&self) -> bool {
        *self == Self::Verdict(Verdict::Pass)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Verdict(verdict) => write!(f, "verdict {verdict}"),
            Self::NoVerdict => f.write_str(
                "QEMU ended without a verdict (guest reset or powered off without reporting)",
            ),
            Self::Stuck(stuck) => write!(f, "no verdict: {stuck}"),
            Self::QemuFailed(status) => write!(f, "QEMU failed with {status}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_exit_codes_become_statuses() {
        assert_eq!(debug_exit_status(PASS_CODE), 33);
        assert_eq!(debug_exit_status(FAIL_CODE), 35);
    }

    #[test]
    fn maps_statuses_explicitly() {
        assert_eq!(
            Outcome::from_status(Some(33), None),
            Outcome::Verdict(Verdict::Pass)
        );
        assert_eq!(
            Outcome::from_status(Some(35), None),
            Outcome::Verdict(Verdict::Fail)
        );
        assert_eq!(Outcome::from_status(Some(0), None), Outcome::NoVerdict);
        assert_eq!(
            Outcome::from_status(Some(1), None),
            Outcome::QemuFailed("status 1".into())
        );
        assert_eq!(
            Outcome::from_status(None, Some(9)),
            Outcome::QemuFailed("signal 9".into())
        );
    }

    #[test]
    fn status_zero_is_never_a_pass() {
        assert!(!Outcome::from_status(Some(0), None).is_pass());
        assert!(Outcome::from_status(Some(33), None).is_pass());
    }

    #[test]
    fn outcomes_read_as_reasons() {
        assert_eq!(
            Outcome::NoVerdict.to_string(),
            "QEMU ended without a verdict (guest reset or powered off without reporting)"
        );
        assert_eq!(
            Outcome::Stuck(Stuck::QuietWall(std::time::Duration::from_secs(300))).to_string(),
            "no verdict: no serial output for 300 s (stuck)"
        );
        assert_eq!(
            Outcome::from_status(Some(1), None).to_string(),
            "QEMU failed with status 1"
        );
        assert_eq!(Outcome::Verdict(Verdict::Fail).to_string(), "verdict fail");
    }
}
