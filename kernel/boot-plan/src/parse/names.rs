//! Names in NUL-padded fields.

use crate::{NAME_FIELD, is_valid_name};

/// The name in a NUL-padded field, if it is a valid name.
pub(crate) fn name_of(field: &[u8; NAME_FIELD]) -> Option<&str> {
    let len = field.iter().position(|&b| b == 0)?;
    let (name, padding) = field.split_at(len);
    if !is_valid_name(name) || padding.iter().any(|&b| b != 0) {
        return None;
    }
    core::str::from_utf8(name).ok()
}

/// The name of a field already checked by `parse`.
pub(super) fn checked_name(field: &[u8; NAME_FIELD]) -> &str {
    name_of(field).unwrap_or("")
}
