//! Memory regions mapped into partitions (`PartitionMapGpa`), and taken
//! back — by `PartitionUnmapGpa`, or by deleting the region capability the
//! mapping was made through — on every CPU before the call returns.
//! `tessera_gpa_space` keeps the nested table in step with the mappings
//! and the overlays above them.
use super::tables::KernelTables;
use super::{GpaMapping, MAX_GPA_MAPPINGS, RamOwner};
use crate::ipc_glue::cap_status;
use crate::memory::charged::Charged;
use crate::state::Kernel;
use tessera_abi::Status;
use tessera_abi::vm::GPA_LIMIT;
use tessera_capability::{CapError, MemoryId, PartitionId, SlotAddr};
use tessera_gpa_space::MapError;
use tessera_npt::GuestRights;

const PAGE: u64 = 4096;

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
            caps,
            ..
        } = self;
        let frames = regions
            .get(region)
            .ok_or(cap_status(CapError::EmptySlot))?
            .frames();
        let pages = frames.len() as u64;
        gpa.checked_add(pages * PAGE)
            .filter(|&end| end <= GPA_LIMIT)
            .ok_or(Status::InvalidArgument.code())?;
        let target = partitions
            .get_mut(partition)
            .ok_or(Status::InvalidArgument.code())?;
        let out_of_memory = cap_status(CapError::OutOfMemory);
        if target.space.ram().len() >= MAX_GPA_MAPPINGS {
            return Err(out_of_memory);
        }
        let owner = RamOwner { region, via };
        let frame = |index: usize| frames[index].as_u64();
        // Its nested tables are charged to whoever made the partition.
        let mut tables = KernelTables::charged(Charged::to(caps, target.payer));
        let mapped = target
            .space
            .map_ram(&mut tables, gpa, (frames.len(), frame), rights, owner);
        mapped.map_err(|error| match error {
            MapError::InvalidRange => Status::InvalidArgument.code(),
            MapError::Overlap => Status::Overlap.code(),
            MapError::Table(error) => {
                log::debug!("mapping GPA {gpa:#x}: {error:?}");
                tables.status()
            }
        })
    }

    /// Removes the mappings of `partition` that `matches` selects, and makes
    /// sure no CPU keeps a translation of them.
    pub fn unmap_gpa_where(
        &mut self,
        partition: PartitionId,
        cpu: usize,
        matches: impl Fn(&GpaMapping) -> bool,
    ) -> usize {
        let Kernel {
            partitions, caps, ..
        } = self;
        let Some(target) = partitions.get_mut(partition) else {
            return 0;
        };
        let mut tables = KernelTables::charged(Charged::to(caps, target.payer));
        let count = target.space.unmap_ram(&mut tables, |m| matches(m));
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
                m.owner.region == region && via.is_none_or(|via| m.owner.via == via)
            });
            next = self.partitions.next_id(Some(partition));
        }
    }
}
