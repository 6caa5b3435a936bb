//! Sizes: `"512 KiB"`, `"8 MiB"`, `"1 GiB"`, `"4096 B"`, or an integer of bytes.

use tessera_boot_plan::PAGE_SIZE;

use crate::raw::RawSize;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// Why a size was refused: a message and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SizeError {
    pub message: String,
    pub help: String,
}

fn err(message: impl Into<String>, help: impl Into<String>) -> SizeError {
    SizeError {
        message: message.into(),
        help: help.into(),
    }
}

/// A positive whole number of pages, in bytes.
pub(crate) fn parse_size(raw: &RawSize) -> Result<u64, SizeError> {
    let bytes = match raw {
        RawSize::Bytes(n) => u64::try_from(*n).map_err(|_| {
            err(
                format!("size {n} is negative"),
                "write a positive size such as \"64 KiB\"",
            )
        })?,
        RawSize::Text(text) => parse_text(text)?,
    };
    if bytes == 0 {
        return Err(err(
            "size is zero",
            "write a positive size such as \"64 KiB\"",
        ));
    }
    if !bytes.is_multiple_of(PAGE_SIZE) {
        // Up to the next page, or down where that does not fit 64 bits.
        let up = bytes
            .div_ceil(PAGE_SIZE)
            .checked_mul(PAGE_SIZE)
            .unwrap_or(bytes / PAGE_SIZE * PAGE_SIZE);
        return Err(err(
            format!(
                "size {} is not a whole number of 4 KiB pages",
                format_size(bytes)
            ),
            format!(
                "round it to a multiple of 4 KiB, such as \"{}\"",
                format_size(up)
            ),
        ));
    }
    Ok(bytes)
}

fn parse_text(text: &str) -> Result<u64, SizeError> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '_' || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let unit = unit.trim();
    let form = "write a number and a unit, such as \"512 KiB\", \"8 MiB\" or \"4096 B\"";
    if number.is_empty() || number.starts_with('_') || number.ends_with('_') {
        return Err(err(format!("`{text}` is not a size"), form));
    }
    if number.contains('.') {
        return Err(err(
            format!("`{text}` is not a whole number"),
            "write it in a smaller unit, such as \"1536 KiB\" for 1.5 MiB",
        ));
    }
    let scale = match unit {
        "" | "B" => 1,
        "KiB" => KIB,
        "MiB" => MIB,
        "GiB" => GIB,
        "K" | "k" | "KB" | "kB" | "kb" | "Kb" | "Ki" => {
            return Err(ambiguous(text, unit, "KiB"));
        }
        "M" | "MB" | "Mb" | "mb" | "Mi" => return Err(ambiguous(text, unit, "MiB")),
        "G" | "GB" | "Gb" | "gb" | "Gi" => return Err(ambiguous(text, unit, "GiB")),
        _ => {
            return Err(err(
                format!("`{text}`: unknown unit `{unit}`"),
                "use B, KiB, MiB or GiB",
            ));
        }
    };
    let digits: String = number.chars().filter(|&c| c != '_').collect();
    let value: u64 = digits
        .parse()
        .map_err(|_| err(format!("`{text}` is too large"), form))?;
    value
        .checked_mul(scale)
        .ok_or_else(|| err(format!("`{text}` is too large"), form))
}

fn ambiguous(text: &str, unit: &str, binary: &str) -> SizeError {
    err(
        format!("`{text}`: unit `{unit}` is ambiguous (1000 or 1024?)"),
        format!("write `{binary}` (powers of 1024)"),
    )
}

/// `bytes` in the largest unit that divides it exactly.
pub fn format_size(bytes: u64) -> String {
    for (unit, scale) in [("GiB", GIB), ("MiB", MIB), ("KiB", KIB)] {
        if bytes >= scale && bytes.is_multiple_of(scale) {
            return format!("{} {unit}", bytes / scale);
        }
    }
    format!("{bytes} B")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Result<u64, SizeError> {
        parse_size(&RawSize::Text(s.into()))
    }

    #[test]
    fn sizes() {
        assert_eq!(text("512 KiB"), Ok(512 * KIB));
        assert_eq!(text("512KiB"), Ok(512 * KIB));
        assert_eq!(text(" 8 MiB "), Ok(8 * MIB));
        assert_eq!(text("1 GiB"), Ok(GIB));
        assert_eq!(text("4096"), Ok(4096));
        assert_eq!(text("8_192 B"), Ok(8192));
        assert_eq!(parse_size(&RawSize::Bytes(65536)), Ok(65536));
    }

    #[test]
    fn refused() {
        for (input, needle) in [
            ("0 KiB", "zero"),
            ("1 KiB", "4 KiB pages"),
            ("1.5 MiB", "whole number"),
            ("8 MB", "ambiguous"),
            ("8 k", "ambiguous"),
            ("8 TiB", "unknown unit"),
            ("MiB", "not a size"),
            ("", "not a size"),
            ("99999999999999999999 B", "too large"),
            ("99999999999 GiB", "too large"),
        ] {
            let error = text(input).unwrap_err();
            assert!(error.message.contains(needle), "{input}: {error:?}");
        }
        assert!(
            parse_size(&RawSize::Bytes(-4096))
                .unwrap_err()
                .message
                .contains("negative")
        );
        assert!(
            parse_size(&RawSize::Bytes(100))
                .unwrap_err()
                .help
                .contains("\"4 KiB\"")
        );
    }

    #[test]
    fn a_size_that_cannot_be_rounded_up_is_refused_not_a_panic() {
        // Found by `cargo xtask fuzz manifest` (seed 0x5eed0001, operation
        // 4314): rounding u64::MAX up to a page overflowed.
        let error = text("18446744073709551615 B").unwrap_err();
        assert!(error.message.contains("4 KiB pages"), "{error:?}");
        assert!(error.help.contains("18014398509481980 KiB"), "{error:?}");
    }

    #[test]
    fn formatting() {
        assert_eq!(format_size(8 * MIB), "8 MiB");
        assert_eq!(format_size(1536 * KIB), "1536 KiB");
        assert_eq!(format_size(100), "100 B");
        assert_eq!(format_size(2 * GIB), "2 GiB");
    }
}
