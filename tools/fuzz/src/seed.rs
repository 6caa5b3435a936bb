//! Seeds as the fuzzers print them and as `--seed` reads them.

use core::fmt;

/// A seed printed the way `--seed` reads it back: `0x` and 16 hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seed(pub u64);

impl fmt::Display for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#018x}", self.0)
    }
}

/// Reads a seed: hexadecimal with `0x`, or decimal (`_` may separate
/// digits in either).
///
/// # Errors
///
/// A message naming what is wrong.
pub fn parse(text: &str) -> Result<u64, &'static str> {
    let text = text.trim();
    let (digits, radix) = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (text, 10),
    };
    let mut value: u64 = 0;
    let mut any = false;
    for c in digits.chars().filter(|&c| c != '_') {
        let digit = c
            .to_digit(radix)
            .ok_or("not a number (use decimal or 0x hex)")?;
        value = value
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(u64::from(digit)))
            .ok_or("does not fit 64 bits")?;
        any = true;
    }
    if any { Ok(value) } else { Err("empty") }
}

/// A fresh seed from a clock reading (`cargo xtask fuzz` without
/// `--seed`): different for every reading, and printed, so a failure
/// replays.
#[must_use]
pub const fn from_clock(reading: u64) -> u64 {
    // Readings close in time differ in few low bits; spread them over 64.
    let mut z = reading.wrapping_add(0xDA7E_5EED_0000_0000);
    z = (z ^ (z >> 33)).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    z = (z ^ (z >> 33)).wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    z ^ (z >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;

    #[test]
    fn printed_seeds_read_back() {
        for seed in [0, 1, 0xC0FFEE, u64::MAX] {
            assert_eq!(parse(&format!("{}", Seed(seed))), Ok(seed));
        }
        assert_eq!(format!("{}", Seed(0xAB)), "0x00000000000000ab");
    }

    #[test]
    fn decimal_hex_and_mistakes() {
        assert_eq!(parse("42"), Ok(42));
        assert_eq!(parse("1_000_000"), Ok(1_000_000));
        assert_eq!(parse("0xdead_BEEF"), Ok(0xDEAD_BEEF));
        assert!(parse("").is_err());
        assert!(parse("0x").is_err());
        assert!(parse("12a").is_err());
        assert!(parse("0x1_0000_0000_0000_0000").is_err());
        assert!(parse("18446744073709551616").is_err());
    }

    #[test]
    fn each_clock_reading_has_its_own_seed() {
        assert_ne!(from_clock(20_000), from_clock(20_001));
        assert_eq!(from_clock(20_000), from_clock(20_000));
    }
}
