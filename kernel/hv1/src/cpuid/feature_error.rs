//! Why a feature list is refused, and the parsing of feature values
//! (`=on`, `=0x1fff`), for [`Hv1Config::from_features`](super::Hv1Config::from_features).

use core::fmt;

use super::features::SUPPORTED_FEATURES;
use super::validate::Violation;

/// Why a feature list is refused. Borrowed parts point into the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeatureError<'a> {
    /// Not a name Tessera or QEMU knows.
    Unknown {
        /// The name as written.
        name: &'a str,
    },
    /// A QEMU name Tessera does not implement (or a value it cannot
    /// honour).
    Unsupported {
        /// The feature as written.
        name: &'a str,
        /// Why.
        reason: &'static str,
    },
    /// `name=value` required.
    MissingValue {
        /// The name.
        name: &'a str,
    },
    /// The value does not parse or is out of range.
    InvalidValue {
        /// The name.
        name: &'a str,
        /// The value as written.
        value: &'a str,
        /// What is expected.
        expected: &'static str,
    },
    /// A feature needs another one that is not enabled.
    MissingDependency {
        /// The feature.
        name: &'static str,
        /// What it needs.
        requires: &'static str,
    },
    /// The resulting configuration breaks a rule (a bug in this table, not
    /// in the list).
    Invalid(Violation),
}

impl fmt::Display for FeatureError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown { name } => {
                write!(f, "unknown Hyper-V feature `{name}`; supported: ")?;
                for (i, known) in SUPPORTED_FEATURES.iter().enumerate() {
                    if i != 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(known)?;
                    if known.ends_with('=') {
                        f.write_str("N")?;
                    }
                }
                Ok(())
            }
            Self::Unsupported { name, reason } => {
                write!(f, "Hyper-V feature `{name}` is not supported: {reason}")
            }
            Self::MissingValue { name } => {
                write!(f, "Hyper-V feature `{name}` needs a value: `{name}=...`")
            }
            Self::InvalidValue {
                name,
                value,
                expected,
            } => write!(
                f,
                "invalid value `{value}` for `{name}`: expected {expected}"
            ),
            Self::MissingDependency { name, requires } => {
                write!(f, "Hyper-V feature `{name}` requires `{requires}`")
            }
            Self::Invalid(violation) => write!(f, "invalid Hv#1 configuration: {violation}"),
        }
    }
}

/// A boolean value: none means on.
pub(super) fn boolean<'a>(name: &'a str, value: Option<&'a str>) -> Result<bool, FeatureError<'a>> {
    match value {
        None | Some("on" | "yes" | "true") => Ok(true),
        Some("off" | "no" | "false") => Ok(false),
        Some(value) => Err(FeatureError::InvalidValue {
            name,
            value,
            expected: "on or off",
        }),
    }
}

/// An unsigned number in decimal or `0x` hexadecimal, at most `max`.
pub(super) fn number<'a>(
    name: &'a str,
    value: Option<&'a str>,
    max: u64,
    expected: &'static str,
) -> Result<u64, FeatureError<'a>> {
    let value = value.ok_or(FeatureError::MissingValue { name })?;
    let invalid = FeatureError::InvalidValue {
        name,
        value,
        expected,
    };
    let parsed = match value
        .strip_prefix("0x")
        .or_else(|| value.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => value.parse::<u64>(),
    };
    match parsed {
        // from_str_radix accepts a leading '+'; QEMU does not.
        Ok(n) if n <= max && !value.contains('+') => Ok(n),
        _ => Err(invalid),
    }
}

/// A u32 `number` (the checked maximum makes the cast lossless).
pub(super) fn number32<'a>(name: &'a str, value: Option<&'a str>) -> Result<u32, FeatureError<'a>> {
    number(name, value, u64::from(u32::MAX), "a 32-bit number").map(|n| n as u32)
}
