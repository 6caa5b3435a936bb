//! Each live partition's nested page table against its mappings and
//! overlay pages (`tessera_audit::nested`).
use crate::memory::frames;
use crate::state::Kernel;
use crate::vm::Partition;
use crate::vm::tables::KernelTables;
use core::fmt;
use tessera_audit::nested::{self, Expected};

/// The first disagreement found, and in which partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Problem {
    /// Index of the partition in the kernel's table.
    pub partition: usize,
    pub found: nested::Problem,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "partition #{}: {}", self.partition, self.found)
    }
}

/// What a partition says it maps, as the kernel records it.
struct Records<'a> {
    kernel: &'a Kernel,
    partition: &'a Partition,
}

impl Expected for Records<'_> {
    fn overlays(&self) -> impl Iterator<Item = (u64, u64)> + Clone {
        self.partition.space.overlays().map(|o| (o.gpa, o.frame))
    }

    fn mappings(&self) -> impl Iterator<Item = (u64, u64)> + Clone {
        self.partition.space.ram().iter().map(|m| (m.gpa, m.pages))
    }

    fn region_frame(&self, gpa: u64) -> Option<u64> {
        let mapping = self
            .partition
            .space
            .ram()
            .iter()
            .find(|m| m.gpa <= gpa && (gpa - m.gpa) / 4096 < m.pages)?;
        let index = ((gpa - mapping.gpa) / 4096) as usize;
        let frames = self.kernel.regions.get(mapping.owner.region)?.frames();
        frames.get(index).map(|frame| frame.as_u64())
    }

    fn is_free(&self, frame: u64) -> bool {
        frames::is_free(frame)
    }
}

/// Checks every live partition.
pub fn check(kernel: &Kernel) -> Result<(), Problem> {
    for (id, partition) in kernel.partitions.iter() {
        let records = Records { kernel, partition };
        nested::check(partition.space.npt(), &KernelTables::default(), &records).map_err(
            |found| Problem {
                partition: id.index() as usize,
                found,
            },
        )?;
    }
    Ok(())
}
