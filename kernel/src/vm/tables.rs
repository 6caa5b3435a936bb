//! The memory the world switch points the processor at: nested page
//! tables, the MSR and I/O permission maps, ASIDs, and each CPU's host
//! VMCB.
use crate::memory::charged::Charged;
use crate::memory::{frames, physical_to_virtual};
use crate::tlb::MAX_CPUS;
use core::sync::atomic::{AtomicU64, Ordering};
use spin::{Mutex, Once};
use tessera_npt::TableMemory;
use tessera_svm::{IoPermissionMap, MsrPermissionMap};

/// Nested-page-table frames from the kernel's frame pool, written through
/// the physical map. Tables that change a nested table are `charged` to
/// the partition's payer; the default ones only read (a change through
/// them gets no frame).
#[derive(Debug, Default)]
pub struct KernelTables<'a> {
    charged: Option<Charged<'a>>,
}

impl<'a> KernelTables<'a> {
    /// Tables whose frames are charged through `charged`.
    pub fn charged(charged: Charged<'a>) -> Self {
        Self {
            charged: Some(charged),
        }
    }

    /// A frame for something else of the partition's (an overlay page),
    /// charged the same way.
    pub fn take_frame(&mut self) -> Option<x86_64::PhysAddr> {
        self.charged.as_mut()?.take()
    }

    /// The status for the last frame refused.
    pub fn status(&self) -> u64 {
        self.charged.as_ref().map_or(
            crate::ipc_glue::cap_status(tessera_capability::CapError::OutOfMemory),
            Charged::status,
        )
    }

    /// Gives back a frame from `take_frame`.
    pub fn give_frame(&mut self, frame: x86_64::PhysAddr) {
        match self.charged.as_mut() {
            Some(charged) => charged.give(frame),
            None => {
                log::error!("kernel bug: a partition frame given back without its payer");
                frames::free(frame);
            }
        }
    }
}

impl TableMemory for KernelTables<'_> {
    fn allocate_table(&mut self) -> Option<u64> {
        self.take_frame().map(|frame| frame.as_u64())
    }

    fn free_table(&mut self, frame: u64) {
        self.give_frame(x86_64::PhysAddr::new(frame));
    }

    fn entries(&self, frame: u64) -> &[u64; 512] {
        // `frame` is a table frame this allocator handed out (the npt crate
        // passes back only those); it is 4 KiB, aligned, mapped by the
        // physical map, and owned by one table, which the kernel lock
        // serialises.
        // SAFETY: a whole table frame of ours, reached through the physical map.
        unsafe { &*physical_to_virtual(frame).as_ptr::<[u64; 512]>() }
    }

    fn entries_mut(&mut self, frame: u64) -> &mut [u64; 512] {
        // SAFETY: as in `entries`; `&mut self` makes the access exclusive.
        unsafe { &mut *physical_to_virtual(frame).as_mut_ptr::<[u64; 512]>() }
    }
}

/// Physical addresses of the permission maps every VMCB shares.
#[derive(Debug, Clone, Copy)]
pub struct PermissionMaps {
    pub msrpm: u64,
    pub iopm: u64,
}

static PERMISSION_MAPS: Once<PermissionMaps> = Once::new();

fn copy_to_frames(bytes: &[u8]) -> u64 {
    let pages = bytes.len().div_ceil(4096);
    let Some(start) = frames::allocate_contiguous(pages) else {
        crate::exit::fatal(format_args!("no memory for the SVM permission maps"));
    };
    let target = physical_to_virtual(start.as_u64()).as_mut_ptr::<u8>();
    // SAFETY: the frames were just allocated, contiguous, `pages * 4096 >=
    // bytes.len()` long, and reached through the physical map.
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), target, bytes.len()) };
    start.as_u64()
}

/// The permission maps. Every port exits (the kernel answers a port with
/// no route as an empty bus), and every MSR exits except those the VMCB
/// holds and VMSAVE/VMLOAD swap (`tessera_vcpu::msr::PASS_THROUGH`): a
/// route never needs a map change, and no host port or MSR is ever
/// reachable from a guest.
pub fn permission_maps() -> PermissionMaps {
    *PERMISSION_MAPS.call_once(|| {
        let mut msrs = MsrPermissionMap::intercept_all();
        for msr in tessera_vcpu::msr::PASS_THROUGH {
            let _ = msrs.intercept_read(msr, false);
            let _ = msrs.intercept_write(msr, false);
        }
        let ports = IoPermissionMap::intercept_all();
        PermissionMaps {
            msrpm: copy_to_frames(msrs.as_bytes()),
            iopm: copy_to_frames(ports.as_bytes()),
        }
    })
}

/// Frames the kernel took for itself after boot: the permission maps
/// (once) and each CPU's host VMCB (on first use). For the audit.
pub fn kernel_frames() -> u64 {
    let maps = PERMISSION_MAPS.get().map_or(0, |_| {
        let msrpm = core::mem::size_of::<MsrPermissionMap>();
        let iopm = core::mem::size_of::<IoPermissionMap>();
        (msrpm.div_ceil(4096) + iopm.div_ceil(4096)) as u64
    });
    let vmcbs = HOST_VMCB
        .iter()
        .filter(|vmcb| vmcb.load(Ordering::Relaxed) != 0)
        .count() as u64;
    maps + vmcbs
}

/// ASIDs in use, one bit each (ASID 0 is the host's).
static ASIDS: Mutex<u64> = Mutex::new(1);

/// The number of ASIDs this CPU has (CPUID 8000_000Ah EBX).
fn asid_count() -> u32 {
    let ebx = raw_cpuid::CpuId::new()
        .get_svm_info()
        .map_or(0, |svm| svm.supported_asids());
    ebx.min(64)
}

/// A free ASID for a new partition; `None` when all are taken.
pub fn allocate_asid() -> Option<u32> {
    let mut used = ASIDS.lock();
    let free = (1..asid_count()).find(|&asid| *used & (1 << asid) == 0)?;
    *used |= 1 << free;
    Some(free)
}

/// Gives an ASID back. The next partition using it starts with a TLB flush
/// (every VP flushes on its first run).
pub fn free_asid(asid: u32) {
    *ASIDS.lock() &= !(1u64 << asid);
}

static HOST_VMCB: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

/// This CPU's host VMCB (for VMSAVE/VMLOAD of host state), made on first use.
pub fn host_vmcb(cpu: usize) -> u64 {
    let known = HOST_VMCB[cpu].load(Ordering::Relaxed);
    if known != 0 {
        return known;
    }
    let Some(frame) = frames::allocate_zeroed() else {
        crate::exit::fatal(format_args!("no memory for a host VMCB"));
    };
    HOST_VMCB[cpu].store(frame.as_u64(), Ordering::Relaxed);
    frame.as_u64()
}
