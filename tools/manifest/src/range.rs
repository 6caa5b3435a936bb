//! Ranges of routes: `"0x3f8-0x3ff"`, `"0xf4"`, `"1016"`, or an integer.

use crate::raw::RawRange;

/// A number written in hex (`0x...`) or decimal, `_` allowed between digits.
fn number(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, radix) = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (text, 10),
    };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') {
        return Err(format!("`{text}` is not a number"));
    }
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    u64::from_str_radix(&clean, radix).map_err(|e| match e.kind() {
        std::num::IntErrorKind::PosOverflow => format!("`{text}` is too large"),
        _ => format!("`{text}` is not a number"),
    })
}

/// The inclusive range `first..=last` a route range stands for.
pub(crate) fn parse_range(raw: &RawRange) -> Result<(u64, u64), String> {
    match raw {
        RawRange::Number(n) => u64::try_from(*n)
            .map(|n| (n, n))
            .map_err(|_| format!("{n} is negative")),
        RawRange::Text(text) => {
            let trimmed = text.trim();
            // A `-` after the first character separates the two ends (a
            // leading `-` is a negative number, which is refused below).
            let split = trimmed
                .char_indices()
                .skip(1)
                .find(|&(_, c)| c == '-')
                .map(|(i, _)| i);
            let (first, last) = match split {
                Some(i) => (number(&trimmed[..i])?, number(&trimmed[i + 1..])?),
                None => {
                    let n = number(trimmed)?;
                    (n, n)
                }
            };
            if first > last {
                return Err(format!(
                    "`{text}` runs backwards: {first:#x} is above {last:#x}"
                ));
            }
            Ok((first, last))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Result<(u64, u64), String> {
        parse_range(&RawRange::Text(s.into()))
    }

    #[test]
    fn ranges() {
        assert_eq!(text("0x3f8-0x3ff"), Ok((0x3f8, 0x3ff)));
        assert_eq!(text(" 0x3F8 - 0x3FF "), Ok((0x3f8, 0x3ff)));
        assert_eq!(text("0xf4"), Ok((0xf4, 0xf4)));
        assert_eq!(text("1016-1023"), Ok((1016, 1023)));
        assert_eq!(
            text("0x4c00_0000-0x4c00_00ff"),
            Ok((0x4c00_0000, 0x4c00_00ff))
        );
        assert_eq!(parse_range(&RawRange::Number(244)), Ok((244, 244)));
    }

    #[test]
    fn refused() {
        for (input, needle) in [
            ("0x3ff-0x3f8", "backwards"),
            ("", "not a number"),
            ("0x", "not a number"),
            ("ports", "not a number"),
            ("-1", "not a number"),
            ("1-", "not a number"),
            ("0x1-0x2-0x3", "not a number"),
            ("0x1_0000_0000_0000_0000", "too large"),
        ] {
            let error = text(input).unwrap_err();
            assert!(error.contains(needle), "{input}: {error}");
        }
        assert!(
            parse_range(&RawRange::Number(-5))
                .unwrap_err()
                .contains("negative")
        );
    }
}
