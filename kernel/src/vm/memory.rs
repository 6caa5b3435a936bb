//! Memory regions mapped into partitions (`PartitionMapGpa`), and taken
//! back — by `PartitionUnmapGpa`, or by deleting the region capability the
//! mapping was made through — on every CPU before the call returns.
use super::tables::KernelTables;
use super::{GpaMapping, MAX_GPA_MAPPINGS, Partition};
use crate::ipc_glue::cap_status;
use crate::state::Kernel;
use tessera_abi::Status;
use tessera_abi::vm::GPA_LIMIT;
use tessera_capability::{CapError, MemoryId, PartitionId, SlotAddr};
use tessera_npt::{GuestRights, PageSize};

const PAGE: u64 = 4096;
const LARGE: u64 = 2 << 20;

impl Kernel {
    /// Maps all of region `region` at `gpa` in `partition`. All or nothing.
    pub fn map_gpa(
        &mut self,
        partition: PartitionId,
        region: MemoryId,
        via: SlotAddr,
        gpa: u64,
        rights: GuestRights,
    ) -> Result<(), u64> {
        let Kernel {
            regions,
            partitions,
            ..
        } = self;
        let frames = regions
            .get(region)
            .ok_or(cap_status(CapError::EmptySlot))?
            .frames();
        let pages = frames.len() as u64;
        let end = gpa
            .checked_add(pages * PAGE)
            .filter(|&end| end <= GPA_LIMIT)
            .ok_or(Status::InvalidArgument.code())?;
        if !gpa.is_multiple_of(PAGE) {
            return Err(Status::InvalidArgument.code());
        }
        let target = partitions
            .get_mut(partition)
            .ok_or(Status::InvalidArgument.code())?;
        let overlaps = target
            .mappings
            .iter()
            .any(|m| gpa < m.gpa + m.pages * PAGE && m.gpa < end);
        if overlaps {
            return Err(Status::Overlap.code());
        }
        let out_of_memory = cap_status(CapError::OutOfMemory);
        if target.mappings.len() >= MAX_GPA_MAPPINGS {
            return Err(out_of_memory);
        }
        target.mappings.try_reserve(1).map_err(|_| out_of_memory)?;
        let mut tables = KernelTables::default();
        let mut index = 0usize;
        while index < frames.len() {
            let at = gpa + index as u64 * PAGE;
            let frame = frames[index].as_u64();
            // Where the region's frames happen to be one aligned 2 MiB run
            // at a 2 MiB-aligned GPA, one large page maps them.
            let large = at.is_multiple_of(LARGE)
                && frame.is_multiple_of(LARGE)
                && frames.len() - index >= 512
                && frames[index..index + 512]
                    .windows(2)
                    .all(|pair| pair[1].as_u64() == pair[0].as_u64() + PAGE);
            let size = if large {
                PageSize::Size2M
            } else {
                PageSize::Size4K
            };
            if let Err(error) = target.npt.map(&mut tables, at, frame, size, rights) {
                unmap_range(target, &mut tables, gpa, at);
                log::debug!("mapping GPA {at:#x}: {error:?}");
                return Err(out_of_memory);
            }
            index += if large { 512 } else { 1 };
        }
        // Room was reserved above.
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
        partition: PartitionId,
        cpu: usize,
        matches: impl Fn(&GpaMapping) -> bool,
    ) -> usize {
        let Some(target) = self.partitions.get_mut(partition) else {
            return 0;
        };
        let mut tables = KernelTables::default();
        let mut count = 0;
        while let Some(position) = target.mappings.iter().position(&matches) {
            let mapping = target.mappings.swap_remove(position);
            unmap_range(
                target,
                &mut tables,
                mapping.gpa,
                mapping.gpa + mapping.pages * PAGE,
            );
            count += 1;
        }
        if count > 0 {
            self.flush_partition(partition, cpu);
        }
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
        let mut next = self.partitions.next_id(None);
        while let Some(partition) = next {
            self.unmap_gpa_where(partition, cpu, |m| {
                m.region == region && via.is_none_or(|via| m.via == via)
            });
            next = self.partitions.next_id(Some(partition));
        }
    }
}

/// Unmaps `start..end` from `target`'s nested table, whatever page sizes
/// map it, leaving the overlays in place.
fn unmap_range(target: &mut Partition, tables: &mut KernelTables, start: u64, end: u64) {
    let mut at = start;
    while at < end {
        if target.overlays.iter().any(|o| o.gpa == at) {
            at += PAGE;
            continue;
        }
        let size = target
            .npt
            .translate(tables, at)
            .map_or(PageSize::Size4K, |t| t.size);
        let _ = target.npt.unmap(tables, at, size);
        at += size.bytes();
    }
}
