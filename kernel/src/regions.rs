//! Memory regions: frames a component holds a capability to and can map
//! into a domain it controls — its own, or, for init, the ones it builds —
//! and share by passing a (weaker) capability over IPC.
//!
//! A region's frames belong to the region, not to the address spaces that
//! map it. A mapping is remembered with the capability it was made through:
//! when that capability is deleted or revoked, the mapping goes, on every
//! CPU (tlb.rs), before the system call returns; when the last capability
//! goes, the frames return to the frame pool.
use crate::ipc_glue::cap_status;
use crate::memory::address_space::{MapError, PageRights};
use crate::memory::charged::Charged;
use crate::state::Kernel;
use alloc::vec::Vec;
use tessera_abi::Status;
use tessera_capability::{CSpaceId, CapError, DomainId, MemoryId, SlotAddr};
use tessera_slots::fallible::{try_push, try_with_capacity};
use x86_64::PhysAddr;

const PAGE: u64 = 4096;
/// The most pages one region may have (1 GiB).
pub const MAX_REGION_PAGES: u64 = 1 << 18;
/// The most mappings of one region into domains at a time.
pub const MAX_REGION_MAPPINGS: usize = 256;

#[derive(Debug)]
pub struct MemoryRegion {
    frames: Vec<PhysAddr>,
    mappings: Vec<Mapping>,
    /// Whose quota the frames are charged to (the creator's).
    payer: CSpaceId,
}

#[derive(Debug, Clone, Copy)]
struct Mapping {
    /// The capability the mapping was made through.
    via: SlotAddr,
    domain: DomainId,
    address: u64,
}

/// The kernel heap a region of `pages` pages takes (its record and its
/// list of frames), charged to its creator with its capability.
pub fn record_bytes(pages: u64) -> u64 {
    (size_of::<MemoryRegion>() + size_of::<PhysAddr>() * pages as usize) as u64
}

impl MemoryRegion {
    /// The region's frames, in order.
    pub fn frames(&self) -> &[PhysAddr] {
        &self.frames
    }
}

impl Kernel {
    /// A region of `pages` zeroed frames, charged to `payer`'s quota.
    pub fn create_region(&mut self, pages: u64, payer: CSpaceId) -> Result<MemoryId, u64> {
        if pages == 0 || pages > MAX_REGION_PAGES {
            return Err(Status::InvalidArgument.code());
        }
        let out_of_memory = cap_status(CapError::OutOfMemory);
        let mut taken = try_with_capacity(pages as usize).map_err(|_| out_of_memory)?;
        let mut charged = Charged::to(&mut self.caps, payer);
        for _ in 0..pages {
            match charged.take() {
                Some(frame) => taken.push(frame),
                None => {
                    taken.into_iter().for_each(|frame| charged.give(frame));
                    return Err(charged.status());
                }
            }
        }
        let region = MemoryRegion {
            frames: taken,
            mappings: Vec::new(),
            payer,
        };
        self.regions.insert(region).map_err(|region| {
            let mut charged = Charged::to(&mut self.caps, payer);
            region
                .frames
                .into_iter()
                .for_each(|frame| charged.give(frame));
            out_of_memory
        })
    }

    /// Maps the whole region at `address` in `domain`, remembered as made
    /// through the capability at `via`. All or nothing.
    pub fn map_region(
        &mut self,
        id: MemoryId,
        via: SlotAddr,
        domain: DomainId,
        address: u64,
        rights: PageRights,
    ) -> Result<(), u64> {
        if !address.is_multiple_of(PAGE) || rights.writable && rights.executable {
            return Err(Status::InvalidArgument.code());
        }
        let region = self
            .regions
            .get_mut(id)
            .ok_or(cap_status(CapError::EmptySlot))?;
        if region.mappings.len() >= MAX_REGION_MAPPINGS {
            return Err(cap_status(CapError::OutOfMemory));
        }
        region
            .mappings
            .try_reserve(1)
            .map_err(|_| cap_status(CapError::OutOfMemory))?;
        let target = self
            .domains
            .get_mut(domain)
            .ok_or(Status::InvalidArgument.code())?;
        // The page tables the mapping needs are the target domain's.
        let mut charged = Charged::to(&mut self.caps, target.cspace);
        for (index, &frame) in region.frames.iter().enumerate() {
            let at = address
                .checked_add(index as u64 * PAGE)
                .ok_or(Status::InvalidArgument.code())?;
            if let Err(error) = target.space.map_borrowed(at, frame, rights, &mut charged) {
                // Nothing of it ran yet: undo without a shoot-down.
                target.space.unmap(address, index as u64);
                log::debug!("mapping a region: {error}");
                return Err(match error {
                    MapError::OutOfMemory => charged.status(),
                    _ => Status::InvalidArgument.code(),
                });
            }
        }
        // Room was reserved above.
        let _ = try_push(
            &mut region.mappings,
            Mapping {
                via,
                domain,
                address,
            },
        );
        Ok(())
    }

    /// Removes the mappings made through the capability that was at `via`.
    pub fn unmap_via(&mut self, id: MemoryId, via: SlotAddr, cpu: usize) {
        // One mapping at a time, so taking them back allocates nothing.
        loop {
            let Some(region) = self.regions.get_mut(id) else {
                return;
            };
            let pages = region.frames.len() as u64;
            let Some(position) = region.mappings.iter().position(|m| m.via == via) else {
                return;
            };
            let mapping = region.mappings.swap_remove(position);
            self.unmap_mapping(mapping, pages, cpu);
        }
    }

    /// The last capability to the region is gone: unmap what is left and
    /// return the frames.
    pub fn destroy_region(&mut self, id: MemoryId, cpu: usize) {
        let Some(region) = self.regions.remove(id) else {
            return;
        };
        let pages = region.frames.len() as u64;
        for mapping in region.mappings {
            self.unmap_mapping(mapping, pages, cpu);
        }
        let mut charged = Charged::to(&mut self.caps, region.payer);
        region
            .frames
            .into_iter()
            .for_each(|frame| charged.give(frame));
    }

    fn unmap_mapping(&mut self, mapping: Mapping, pages: u64, cpu: usize) {
        // A domain that ended has released its tables already.
        let Some(domain) = self.domains.get_mut(mapping.domain) else {
            return;
        };
        if domain.ending.is_some() {
            return;
        }
        domain.space.unmap(mapping.address, pages);
        crate::tlb::shoot_down(self, mapping.domain, cpu);
    }
}
