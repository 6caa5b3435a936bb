//! Memory regions mapped into partitions (`PartitionMapGpa`), and taken
//! back — by `PartitionUnmapGpa`, or by deleting the region capability the
//! mapping was made through — on every CPU before the call returns.
use super::GpaMapping;
use super::tables::KernelTables;
use crate::ipc_glue::cap_status;
use crate::state::Kernel;
use alloc::vec::Vec;
use tessera_abi::Status;
use tessera_abi::vm::GPA_LIMIT;
use tessera_capability::{CapError, MemoryId, SlotAddr};
use tessera_npt::{GuestRights, PageSize};

const PAGE: u64 = 4096;
const LARGE: u64 = 2 << 20;

impl Kernel {
    /// Maps all of region `region` at `gpa` in `partition`. All or nothing.
    pub fn map_gpa(
        &mut self,
        partition: usize,
        region: MemoryId,
        via: SlotAddr,
        gpa: u64,
        rights: GuestRights,
    ) -> Result<(), u64> {
        let frames: Vec<u64> = self
            .region_frames(region)
            .ok_or(cap_status(CapError::EmptySlot))?
            .iter()
            .map(|frame| frame.as_u64())
            .collect();
        let pages = frames.len() as u64;
        let end = gpa
            .checked_add(pages * PAGE)
            .filter(|&end| end <= GPA_LIMIT)
            .ok_or(Status::InvalidArgument.code())?;
        if !gpa.is_multiple_of(PAGE) {
            return Err(Status::InvalidArgument.code());
        }
        let target = self.partitions[partition]
            .as_mut()
            .ok_or(Status::InvalidArgument.code())?;
        let overlaps = target
            .mappings
            .iter()
            .any(|m| gpa < m.gpa + m.pages * PAGE && m.gpa < end);
        if overlaps {
            return Err(Status::Overlap.code());
        }
        let mut tables = KernelTables::default();
        let mut done: Vec<(u64, PageSize)> = Vec::new();
        let mut index = 0usize;
        while index < frames.len() {
            let at = gpa + index as u64 * PAGE;
            // Where the region's frames happen to be one aligned 2 MiB run
            // at a 2 MiB-aligned GPA, one large page maps them.
            let large = at.is_multiple_of(LARGE)
                && frames[index].is_multiple_of(LARGE)
                && frames.len() - index >= 512
                && frames[index..index + 512]
                    .windows(2)
                    .all(|pair| pair[1] == pair[0] + PAGE);
            let size = if large {
                PageSize::Size2M
            } else {
                PageSize::Size4K
            };
            if let Err(error) = target.npt.map(&mut tables, at, frames[index], size, rights) {
                for (undo, size) in done {
                    let _ = target.npt.unmap(&mut tables, undo, size);
                }
                log::debug!("mapping GPA {at:#x}: {error:?}");
                return Err(cap_status(CapError::OutOfMemory));
            }
            done.push((at, size));
            index += if large { 512 } else { 1 };
        }
        target.mappings.push(GpaMapping {
            gpa,
            pages,
            region,
            via,
            rights,
        });
        Ok(())
    }

    /// Removes the mappings of `partition` that `matches` selects, and makes
    /// sure no CPU keeps a translation of them.
    pub fn unmap_gpa_where(
        &mut self,
        partition: usize,
        cpu: usize,
        matches: impl Fn(&GpaMapping) -> bool,
    ) -> usize {
        let Some(target) = self.partitions[partition].as_mut() else {
            return 0;
        };
        let (gone, kept): (Vec<GpaMapping>, Vec<GpaMapping>) =
            target.mappings.iter().partition(|m| matches(m));
        if gone.is_empty() {
            return 0;
        }
        target.mappings = kept;
        let mut tables = KernelTables::default();
        for mapping in &gone {
            let mut at = mapping.gpa;
            let end = mapping.gpa + mapping.pages * PAGE;
            while at < end {
                if target.overlays.iter().any(|o| o.gpa == at) {
                    at += PAGE;
                    continue;
                }
                let size = target
                    .npt
                    .translate(&tables, at)
                    .map_or(PageSize::Size4K, |t| t.size);
                let _ = target.npt.unmap(&mut tables, at, size);
                at += size.bytes();
            }
        }
        let count = gone.len();
        self.flush_partition(partition, cpu);
        count
    }

    /// A region capability went: the partition mappings made through it go
    /// too (`via: None`: every mapping of the region, its last capability
    /// is gone).
    pub fn unmap_region_from_partitions(
        &mut self,
        region: MemoryId,
        via: Option<SlotAddr>,
        cpu: usize,
    ) {
        for partition in 0..self.partitions.len() {
            self.unmap_gpa_where(partition, cpu, |m| {
                m.region == region && via.is_none_or(|via| m.via == via)
            });
        }
    }
}
