//! Normalises the loader's memory map.
//!
//! Loaders (and the firmware behind them) hand over e820-style lists that may
//! be unsorted, overlap, or split one kind of memory into many pieces. The
//! kernel wants one answer per byte, so overlapping entries are resolved in
//! favour of the more restrictive kind: treating reserved RAM as usable would
//! corrupt firmware state, whereas the opposite only wastes a little memory.

use heapless::Vec;

use crate::{BootInfoError, MAX_MEMORY_REGIONS, MemoryKind, MemoryRegion};

/// How many raw loader entries [`normalize_memory_map`] accepts.
///
/// The sweep is quadratic in the number of entries and uses no storage of its
/// own, which keeps the early boot stack small; this bound keeps the time
/// small too (real e820 maps have a few dozen entries).
pub const MAX_LOADER_MEMORY_ENTRIES: usize = 1024;

/// Turns loader entries `(start, end_exclusive, kind)` into a sorted,
/// non-overlapping map with adjacent regions of the same kind merged.
///
/// Empty entries (`start >= end`) are ignored. Where entries overlap, the
/// greatest [`MemoryKind`] (the most restrictive) wins, so no byte that any
/// entry calls non-usable comes out usable, and no usable byte is invented.
/// Bytes that no entry covers are left out.
///
/// # Errors
///
/// [`BootInfoError::TooManyLoaderMemoryEntries`] for more than
/// [`MAX_LOADER_MEMORY_ENTRIES`] input entries, and
/// [`BootInfoError::TooManyMemoryRegions`] (with the full count) if the result
/// has more than [`MAX_MEMORY_REGIONS`] regions.
pub fn normalize_memory_map<I>(
    entries: I,
) -> Result<Vec<MemoryRegion, MAX_MEMORY_REGIONS>, BootInfoError>
where
    I: IntoIterator<Item = (u64, u64, MemoryKind)>,
    I::IntoIter: Clone,
{
    let entries = entries.into_iter();
    let count = entries.clone().count();
    if count > MAX_LOADER_MEMORY_ENTRIES {
        return Err(BootInfoError::TooManyLoaderMemoryEntries {
            limit: MAX_LOADER_MEMORY_ENTRIES,
            count,
        });
    }
    let entries = entries.filter(|&(start, end, _)| start < end);

    let mut out = Vec::new();
    let mut regions = 0;
    // The region being grown; it is only pushed once a different kind or a
    // hole follows, so merging never needs to look back into `out`.
    let mut pending: Option<MemoryRegion> = None;
    let mut finish = |region: MemoryRegion, out: &mut Vec<MemoryRegion, MAX_MEMORY_REGIONS>| {
        regions += 1;
        // A full vector still lets the sweep run to the end so that the error
        // can report how many regions there really are.
        out.push(region).ok();
    };

    let Some(mut pos) = entries.clone().map(|(start, _, _)| start).min() else {
        return Ok(out);
    };
    // Sweep from boundary to boundary: between two consecutive entry
    // boundaries the set of covering entries, and so the kind, is constant.
    loop {
        let mut kind: Option<MemoryKind> = None;
        let mut next: Option<u64> = None;
        for (start, end, k) in entries.clone() {
            if start <= pos && pos < end {
                kind = kind.max(Some(k));
            }
            for boundary in [start, end] {
                if boundary > pos {
                    next = Some(next.map_or(boundary, |n| n.min(boundary)));
                }
            }
        }
        let Some(next) = next else { break };
        if let Some(kind) = kind {
            match &mut pending {
                Some(p) if p.end == pos && p.kind == kind => p.end = next,
                _ => {
                    let region = MemoryRegion {
                        start: pos,
                        end: next,
                        kind,
                    };
                    if let Some(done) = pending.replace(region) {
                        finish(done, &mut out);
                    }
                }
            }
        }
        pos = next;
    }
    if let Some(done) = pending {
        finish(done, &mut out);
    }

    if regions > MAX_MEMORY_REGIONS {
        return Err(BootInfoError::TooManyMemoryRegions {
            limit: MAX_MEMORY_REGIONS,
            count: regions,
        });
    }
    Ok(out)
}
