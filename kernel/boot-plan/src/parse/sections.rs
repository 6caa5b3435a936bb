//! Locating the record sections.

use zerocopy::FromBytes;

use crate::layout::SectionRef;
use crate::{PlanError, Section};

/// Locates one section: in order, 8-aligned, within the plan.
pub(super) fn section<'a, T: FromBytes + zerocopy::KnownLayout + zerocopy::Immutable>(
    bytes: &'a [u8],
    which: Section,
    sref: &SectionRef,
    record_size: usize,
    max: u32,
    previous_end: &mut u64,
    total: u64,
) -> Result<&'a [T], PlanError> {
    let count = sref.count.get();
    if count > max {
        return Err(PlanError::TooManyRecords {
            section: which,
            count,
            max,
        });
    }
    let offset = u64::from(sref.offset.get());
    let end = offset + u64::from(count) * record_size as u64;
    if !offset.is_multiple_of(8) || offset < *previous_end || end > total {
        return Err(PlanError::BadSection { section: which });
    }
    *previous_end = end;
    let bad = PlanError::BadSection { section: which };
    let start = usize::try_from(offset).map_err(|_| bad)?;
    let end = usize::try_from(end).map_err(|_| bad)?;
    let raw = bytes.get(start..end).ok_or(bad)?;
    <[T]>::ref_from_bytes(raw).map_err(|_| bad)
}
