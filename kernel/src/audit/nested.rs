//! Each partition's nested page table against what it should map: at a
//! GPA with overlay pages, one of their frames; elsewhere, the page of the
//! region mapping that covers the GPA; nothing anywhere else. Every frame
//! it maps is in use (never in the free pool).
//!
//! A nested table that maps a frame nothing accounts for is how a guest
//! reaches memory it does not own (issue 9, finding 1): this check sees
//! that state as soon as it exists, whether or not the frame has been
//! handed to someone else yet.
use crate::memory::frames;
use crate::state::Kernel;
use crate::vm::tables::KernelTables;
use crate::vm::{GpaMapping, Partition};
use core::fmt;
use tessera_npt::{PageSize, Translation, Visited};

const PAGE: u64 = 4096;

/// The first disagreement found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Problem {
    /// Index of the partition in the kernel's table.
    pub partition: usize,
    pub gpa: u64,
    pub what: &'static str,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "partition #{} GPA {:#x}: {}",
            self.partition, self.gpa, self.what
        )
    }
}

/// Checks every live partition.
pub fn check(kernel: &Kernel) -> Result<(), Problem> {
    for (index, partition) in kernel.partitions.iter().enumerate() {
        if let Some(partition) = partition {
            check_one(kernel, partition).map_err(|(gpa, what)| Problem {
                partition: index,
                gpa,
                what,
            })?;
        }
    }
    Ok(())
}

type Found = Result<(), (u64, &'static str)>;

/// Leaves seen that matched, by what they matched.
#[derive(Default)]
struct Seen {
    overlay_pages: u64,
    region_pages: u64,
}

fn check_one(kernel: &Kernel, partition: &Partition) -> Found {
    let mut seen = Seen::default();
    let mut found: Found = Ok(());
    partition
        .npt
        .visit(&KernelTables::default(), &mut |visited| {
            if let (Ok(()), Visited::Leaf { gpa, translation }) = (found, visited) {
                found = leaf(kernel, partition, gpa, translation, &mut seen);
            }
        });
    found?;
    for overlay in &partition.overlays {
        if frames::is_free(overlay.frame) {
            return Err((overlay.gpa, "an overlay's frame is in the free pool"));
        }
    }
    let overlay_gpas = distinct_overlay_gpas(partition, |_| true);
    if seen.overlay_pages != overlay_gpas {
        return Err((0, "an overlay page is not mapped at its GPA"));
    }
    let hidden = distinct_overlay_gpas(partition, |gpa| covering(partition, gpa).is_some());
    let expected: u64 = partition.mappings.iter().map(|m| m.pages).sum::<u64>() - hidden;
    if seen.region_pages != expected {
        return Err((0, "a mapped region page is missing from the nested table"));
    }
    Ok(())
}

/// The overlay GPAs (each once) that `keep` selects.
fn distinct_overlay_gpas(partition: &Partition, keep: impl Fn(u64) -> bool) -> u64 {
    let overlays = &partition.overlays;
    overlays
        .iter()
        .enumerate()
        .filter(|&(index, o)| keep(o.gpa) && !overlays[..index].iter().any(|p| p.gpa == o.gpa))
        .count() as u64
}

/// The region mapping that covers `gpa`.
fn covering(partition: &Partition, gpa: u64) -> Option<&GpaMapping> {
    partition
        .mappings
        .iter()
        .find(|m| m.gpa <= gpa && gpa - m.gpa < m.pages * PAGE)
}

/// The frame of the region page mapped at `gpa`, if a mapping covers it.
fn region_frame(kernel: &Kernel, partition: &Partition, gpa: u64) -> Option<u64> {
    let mapping = covering(partition, gpa)?;
    let index = ((gpa - mapping.gpa) / PAGE) as usize;
    kernel
        .region_frames(mapping.region)
        .and_then(|frames| frames.get(index))
        .map(|frame| frame.as_u64())
}

fn leaf(
    kernel: &Kernel,
    partition: &Partition,
    gpa: u64,
    translation: Translation,
    seen: &mut Seen,
) -> Found {
    let hpa = translation.hpa;
    let pages = match translation.size {
        PageSize::Size4K => 1,
        PageSize::Size2M => 512,
    };
    for page in 0..pages {
        if frames::is_free(hpa + page * PAGE) {
            return Err((gpa + page * PAGE, "maps a frame that is in the free pool"));
        }
    }
    let overlays_here = partition
        .overlays
        .iter()
        .filter(|o| gpa <= o.gpa && o.gpa - gpa < pages * PAGE);
    if translation.size == PageSize::Size2M {
        if overlays_here.count() != 0 {
            return Err((gpa, "a large page maps over an overlay page"));
        }
    } else if overlays_here.clone().count() != 0 {
        if !overlays_here.clone().any(|o| o.frame == hpa) {
            return Err((gpa, "maps a frame that is none of the overlays at its GPA"));
        }
        seen.overlay_pages += 1;
        return Ok(());
    }
    for page in 0..pages {
        let at = gpa + page * PAGE;
        match region_frame(kernel, partition, at) {
            Some(frame) if frame == hpa + page * PAGE => {}
            Some(_) => return Err((at, "maps a frame that is not the region page mapped there")),
            None => return Err((at, "maps a GPA that no mapping or overlay covers")),
        }
    }
    seen.region_pages += pages;
    Ok(())
}
