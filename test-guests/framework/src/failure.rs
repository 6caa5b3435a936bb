//! Why a check failed, and the macros that say so.

use core::fmt::{self, Write};

/// How much of a failure's detail is kept; the rest is cut, marked `...`.
pub const DETAIL_CAPACITY: usize = 240;

/// Why a check failed: a short text, formatted without an allocator.
#[derive(Clone)]
pub struct Failure {
    text: [u8; DETAIL_CAPACITY],
    len: usize,
    truncated: bool,
}

impl Failure {
    #[must_use]
    pub fn new(detail: fmt::Arguments<'_>) -> Self {
        let mut failure = Self {
            text: [0; DETAIL_CAPACITY],
            len: 0,
            truncated: false,
        };
        // `write_str` below never fails; it truncates instead.
        let _ = failure.write_fmt(detail);
        failure
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only whole characters are ever stored, so this cannot fail.
        core::str::from_utf8(&self.text[..self.len]).unwrap_or("")
    }

    #[must_use]
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }
}

impl Write for Failure {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if self.truncated {
                break;
            }
            let c = if c.is_control() { ' ' } else { c };
            let mut buffer = [0; 4];
            let encoded = c.encode_utf8(&mut buffer).as_bytes();
            if self.len + encoded.len() > DETAIL_CAPACITY {
                self.truncated = true;
                break;
            }
            self.text[self.len..self.len + encoded.len()].copy_from_slice(encoded);
            self.len += encoded.len();
        }
        Ok(())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())?;
        if self.truncated {
            f.write_str("...")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Failure({:?})", self.as_str())
    }
}

impl PartialEq for Failure {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str() && self.truncated == other.truncated
    }
}

/// A [`Failure`] from a format string: `.map_err(|e| failure!("{e}"))`.
#[macro_export]
macro_rules! failure {
    ($($detail:tt)+) => {
        $crate::Failure::new(::core::format_args!($($detail)+))
    };
}

/// `Err(Failure)` from a format string: `return fail!("got {x}")`.
#[macro_export]
macro_rules! fail {
    ($($detail:tt)+) => {
        ::core::result::Result::Err($crate::failure!($($detail)+))
    };
}

/// Returns `Err(Failure)` from the enclosing check unless `condition`.
#[macro_export]
macro_rules! ensure {
    ($condition:expr, $($detail:tt)+) => {
        if !$condition {
            return $crate::fail!($($detail)+);
        }
    };
}

/// Returns `Err(Failure)` from the enclosing check unless `actual ==
/// expected`; both are integers, shown in hex.
#[macro_export]
macro_rules! ensure_eq {
    ($actual:expr, $expected:expr, $what:expr) => {{
        let (actual, expected) = ($actual, $expected);
        if actual != expected {
            return $crate::fail!("{}: got {:#x}, expected {:#x}", $what, actual, expected);
        }
    }};
    ($actual:expr, $expected:expr) => {
        $crate::ensure_eq!($actual, $expected, ::core::stringify!($actual))
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tap::Outcome;

    #[test]
    fn long_details_are_cut_at_a_character_boundary_and_marked() {
        let long = "é".repeat(DETAIL_CAPACITY);
        let failure = Failure::new(format_args!("{long}"));
        assert!(failure.is_truncated());
        assert_eq!(failure.as_str().len(), DETAIL_CAPACITY);
        assert!(std::format!("{failure}").ends_with("é..."));
    }

    #[test]
    fn a_detail_that_fits_exactly_is_not_truncated() {
        let exact = "x".repeat(DETAIL_CAPACITY);
        let failure = Failure::new(format_args!("{exact}"));
        assert!(!failure.is_truncated());
        assert_eq!(std::format!("{failure}"), exact);
    }

    fn check_eq(actual: u64, expected: u64) -> Outcome {
        ensure_eq!(actual, expected, "EFER");
        Ok(())
    }

    fn check_eq_unlabelled(value: u32) -> Outcome {
        ensure_eq!(value + 1, 3);
        Ok(())
    }

    fn check_condition(value: u32) -> Outcome {
        ensure!(value < 10, "{value} is not below 10");
        Ok(())
    }

    #[test]
    fn ensure_macros_return_early_with_the_detail() {
        assert_eq!(check_eq(0x500, 0x500), Ok(()));
        assert_eq!(
            check_eq(0x400, 0x500).unwrap_err().as_str(),
            "EFER: got 0x400, expected 0x500"
        );
        assert_eq!(
            check_eq_unlabelled(1).unwrap_err().as_str(),
            "value + 1: got 0x2, expected 0x3"
        );
        assert_eq!(check_condition(3), Ok(()));
        assert_eq!(
            check_condition(12).unwrap_err().as_str(),
            "12 is not below 10"
        );
    }
}
