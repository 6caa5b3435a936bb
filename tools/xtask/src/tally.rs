//! Counting passed and failed tests across unit and system tests.

use std::ops::AddAssign;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub passed: u64,
    pub failed: u64,
}

impl Tally {
    pub const PASSED: Self = Self {
        passed: 1,
        failed: 0,
    };
    pub const FAILED: Self = Self {
        passed: 0,
        failed: 1,
    };

    /// The closing line of `cargo xtask test`.
    pub fn summary(&self) -> String {
        format!("{} passed, {} failed", self.passed, self.failed)
    }
}

impl AddAssign for Tally {
    fn add_assign(&mut self, other: Self) {
        self.passed += other.passed;
        self.failed += other.failed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_and_summarises() {
        let mut tally = Tally::default();
        tally += Tally {
            passed: 40,
            failed: 0,
        };
        tally += Tally::PASSED;
        tally += Tally::FAILED;
        assert_eq!(tally.summary(), "41 passed, 1 failed");
    }
}
