//! How many lines a guest can make the kernel print (issue 9 finding 6).
//!
//! Some exits a guest takes as often as it likes make the kernel log a
//! line (a `GUEST_OS_ID` write, an access to a memory-mapped device, ...).
//! Each partition has a budget: its first [`LineBudget::FREE`] lines
//! print; after that only the line whose number is a power of two does,
//! saying how many were suppressed before it. So `n` lines cost at most
//! `FREE + log2(n)` printed, whatever the machine's speed, and a guest
//! that goes on misbehaving is still seen to.

/// One partition's or one component's budget of logged lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LineBudget {
    /// Lines asked for so far.
    asked: u64,
    /// Lines suppressed since the last one printed.
    suppressed: u64,
}

impl LineBudget {
    /// Lines that always print.
    pub const FREE: u64 = 16;

    /// Whether the next line prints: `Some(n)` with `n` the lines
    /// suppressed since the last printed one, or `None` to suppress it.
    pub fn admit(&mut self) -> Option<u64> {
        self.asked = self.asked.saturating_add(1);
        if self.asked <= Self::FREE || self.asked.is_power_of_two() {
            Some(core::mem::take(&mut self.suppressed))
        } else {
            self.suppressed += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LineBudget;

    #[test]
    fn the_first_lines_print_and_then_powers_of_two_with_a_count() {
        let mut budget = LineBudget::default();
        for _ in 0..LineBudget::FREE {
            assert_eq!(budget.admit(), Some(0));
        }
        // Lines 17 to 31 are suppressed; line 32 reports them.
        for _ in 17..32 {
            assert_eq!(budget.admit(), None);
        }
        assert_eq!(budget.admit(), Some(15));
        for _ in 33..64 {
            assert_eq!(budget.admit(), None);
        }
        assert_eq!(budget.admit(), Some(31));
    }

    #[test]
    fn thousands_of_lines_print_a_bounded_few() {
        let mut budget = LineBudget::default();
        let printed = (0..5000).filter(|_| budget.admit().is_some()).count();
        // 16 free, then 32, 64, ..., 4096.
        assert_eq!(printed, 16 + 8);
        let mut budget = LineBudget::default();
        let printed = (0..1_000_000).filter(|_| budget.admit().is_some()).count();
        assert!(printed <= 16 + 20);
    }
}
