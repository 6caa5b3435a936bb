//! What a failed system call returns.

use core::fmt;

use tessera_abi::Status;

/// A failed system call: the non-zero status code the kernel put in `rax`.
///
/// The code is kept as it came, so a code this ABI version does not know is
/// still a failure, and still shown. Compare with a [`Status`] directly:
/// `error == Status::ServerDied`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Error {
    code: u64,
}

impl Error {
    /// The error for a status code; `None` for 0 (success).
    pub const fn from_code(code: u64) -> Option<Self> {
        if code == 0 { None } else { Some(Self { code }) }
    }

    /// The raw status code (never 0).
    pub const fn code(self) -> u64 {
        self.code
    }

    /// The status, if this ABI version knows the code.
    pub fn status(self) -> Option<Status> {
        Status::from_code(self.code)
    }
}

/// `Ok` for status 0, the error otherwise.
pub(crate) fn check(code: u64) -> Result<(), Error> {
    match Error::from_code(code) {
        None => Ok(()),
        Some(error) => Err(error),
    }
}

impl From<Status> for Error {
    /// The error for a failure status. `Status::Success` is not a failure:
    /// it maps to the code 0 only through this conversion, and compares
    /// unequal to every real error.
    fn from(status: Status) -> Self {
        Self {
            code: status.code(),
        }
    }
}

impl PartialEq<Status> for Error {
    fn eq(&self, status: &Status) -> bool {
        self.code == status.code()
    }
}

impl fmt::Debug for Error {
    /// The status's name (`ServerDied`), or `Unknown(0x...)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status() {
            Some(status) => write!(f, "{status:?}"),
            None => write!(f, "Unknown({:#x})", self.code),
        }
    }
}

impl fmt::Display for Error {
    /// The status's text, name and code (`the server died (ServerDied,
    /// 0x206)`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status() {
            Some(status) => write!(f, "{status}"),
            None => write!(f, "unknown status ({:#x})", self.code),
        }
    }
}

impl core::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;

    #[test]
    fn zero_is_success_anything_else_an_error() {
        assert_eq!(check(0), Ok(()));
        assert_eq!(check(0x206), Err(Error::from(Status::ServerDied)));
        assert!(Error::from_code(0).is_none());
    }

    #[test]
    fn known_codes_compare_and_print_as_their_status() {
        let error = Error::from_code(0x103).unwrap();
        assert_eq!(error, Status::EmptySlot);
        assert_ne!(error, Status::WrongType);
        assert_eq!(error.status(), Some(Status::EmptySlot));
        assert_eq!(format!("{error:?}"), "EmptySlot");
        assert_eq!(
            format!("{error}"),
            "empty capability slot (EmptySlot, 0x103)"
        );
    }

    #[test]
    fn every_status_the_kernel_returns_prints_by_name() {
        // 0x10B once printed as "unknown status (0x10b)".
        let error = Error::from_code(0x10B).unwrap();
        assert_eq!(
            format!("{error}"),
            "kernel out of memory for capabilities (CapabilityOutOfMemory, 0x10b)"
        );
        for status in Status::KNOWN.into_iter().filter(|s| *s != Status::Success) {
            let shown = format!("{}", Error::from(status));
            assert!(!shown.contains("unknown"), "{shown}");
            assert!(shown.contains(&format!("{status:?}")), "{shown}");
        }
    }

    #[test]
    fn unknown_codes_are_failures_too() {
        let error = Error::from_code(0x1234).unwrap();
        assert_eq!(error.status(), None);
        assert_eq!(error.code(), 0x1234);
        assert_eq!(format!("{error:?}"), "Unknown(0x1234)");
        assert_eq!(format!("{error}"), "unknown status (0x1234)");
    }
}
