//! Memory regions mapped into partitions (`PartitionMapGpa`), and taken
//! back — by `PartitionUnmapGpa`, or by deleting the region capability the
//! mapping was made through — on every CPU before the call returns.
//! `tessera_gpa_space` keeps the nested table in step with the mappings
//! and the overlays above them.
use super::tables::KernelTables;
use super::{GpaMapping, RamOwner};
use crate::ipc_glue::cap_status;
use crate::state::Kernel;
use alloc::vec::Vec;
use tessera_abi::Status;
use tessera_abi::vm::GPA_LIMIT;
use tessera_capability::{CapError, MemoryId, SlotAddr};
use tessera_gpa_space::MapError;
use tessera_npt::GuestRights;

const PAGE: u64 = 4096;

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
        gpa.checked_add(pages * PAGE)
            .filter(|&end| end <= GPA_LIMIT)
            .ok_or(Status::InvalidArgument.code())?;
        let target = self.partitions[partition]
            .as_mut()
            .ok_or(Status::InvalidArgument.code())?;
        let owner = RamOwner { region, via };
        target
            .space
            .map_ram(&mut KernelTables::default(), gpa, &frames, rights, owner)
            .map_err(|error| match error {
                MapError::InvalidRange => Status::InvalidArgument.code(),
                MapError::Overlap => Status::Overlap.code(),
                MapError::Table(error) => {
                    log::debug!("mapping GPA {gpa:#x}: {error:?}");
                    cap_status(CapError::OutOfMemory)
                }
            })
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
        let gone = target
            .space
            .unmap_ram(&mut KernelTables::default(), |m| matches(m));
        if gone.is_empty() {
            return 0;
        }
        self.flush_partition(partition, cpu);
        gone.len()
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
                m.owner.region == region && via.is_none_or(|via| m.owner.via == via)
            });
        }
    }
}
