//! The header: framing, checksum and deployment-wide fields.

use zerocopy::FromBytes;

use super::names::name_of;
use crate::layout::Header;
use crate::{
    CHECKSUM_START, FORMAT_VERSION, HEADER_SIZE, MAGIC, MAX_CPUS, MAX_MODULES, PlanError, Section,
    checksum,
};

/// Checks the header and framing of `bytes`; returns the header and the
/// plan's total size.
pub(super) fn check_header(bytes: &[u8]) -> Result<(&Header, usize), PlanError> {
    // Framing. Magic and version first: on a short or foreign blob they
    // say more than "truncated".
    if let Some(magic) = bytes.get(..4)
        && magic != MAGIC
    {
        return Err(PlanError::BadMagic);
    }
    if let Some(&[lo, hi]) = bytes.get(4..6) {
        let found = u16::from_le_bytes([lo, hi]);
        if found != FORMAT_VERSION {
            return Err(PlanError::UnsupportedVersion { found });
        }
    }
    let (header, _) = Header::ref_from_prefix(bytes).map_err(|_| PlanError::Truncated {
        needed: HEADER_SIZE,
        actual: bytes.len(),
    })?;
    if usize::from(header.header_size.get()) != HEADER_SIZE {
        return Err(PlanError::BadHeaderSize {
            found: header.header_size.get(),
        });
    }
    let total = usize::try_from(header.total_size.get()).unwrap_or(usize::MAX);
    if bytes.len() < total {
        return Err(PlanError::Truncated {
            needed: total,
            actual: bytes.len(),
        });
    }
    if bytes.len() > total {
        return Err(PlanError::TrailingBytes {
            expected: total,
            actual: bytes.len(),
        });
    }
    let computed = checksum(bytes.get(CHECKSUM_START..).unwrap_or(&[]));
    if computed != header.checksum.get() {
        return Err(PlanError::BadChecksum {
            stored: header.checksum.get(),
            computed,
        });
    }
    if header.flags.get() != 0 {
        return Err(PlanError::ReservedNotZero {
            section: Section::Header,
            index: 0,
        });
    }
    let cpu_count = header.cpu_count.get();
    if cpu_count == 0 || cpu_count > MAX_CPUS {
        return Err(PlanError::BadHeaderField { field: "cpu_count" });
    }
    let module_count = header.module_count.get();
    if module_count == 0 || module_count > MAX_MODULES {
        return Err(PlanError::BadHeaderField {
            field: "module_count",
        });
    }
    if name_of(&header.name).is_none() {
        return Err(PlanError::BadName {
            section: Section::Header,
            index: 0,
        });
    }
    Ok((header, total))
}
