//! The instruction behind a memory-mapped I/O exit: fetched from guest
//! memory through the guest's page tables and the partition's nested ones,
//! then decoded (`tessera_vcpu::mmio`).
use super::tables::KernelTables;
use crate::memory::physical_to_virtual;
use tessera_npt::NestedPageTable;
use tessera_svm::Vmcb;
use tessera_vcpu::GuestGprs;
use tessera_vcpu::guest_walk::{self, GuestPhysical, Paging};
use tessera_vcpu::mmio::{self, Access};

/// The longest x86 instruction.
pub const MAX_INSTRUCTION: usize = 15;

/// Guest RAM as the partition maps it.
struct PartitionMemory<'a> {
    npt: &'a NestedPageTable,
}

impl PartitionMemory<'_> {
    fn read_byte(&self, gpa: u64) -> Option<u8> {
        let word = self.read_u64(gpa & !7)?;
        Some((word >> ((gpa & 7) * 8)) as u8)
    }
}

impl GuestPhysical for PartitionMemory<'_> {
    fn read_u64(&self, gpa: u64) -> Option<u64> {
        if gpa & 7 != 0 {
            return None;
        }
        let translation = self.npt.translate(&KernelTables::default(), gpa)?;
        let pointer = physical_to_virtual(translation.hpa).as_ptr::<u64>();
        // The nested table maps `gpa` to `hpa`, a frame of a memory region
        // the partition holds (its frames stay allocated while mapped, and
        // the kernel lock is held). Guest memory may change under a running
        // VP: the value is only ever used as data.
        // SAFETY: an aligned read inside a mapped guest frame.
        Some(unsafe { core::ptr::read_volatile(pointer) })
    }
}

/// Fetches up to 15 bytes at the guest's CS:RIP; fewer if the code runs
/// off mapped memory.
pub fn fetch(vmcb: &Vmcb, npt: &NestedPageTable, bytes: &mut [u8; MAX_INSTRUCTION]) -> usize {
    let save = &vmcb.save;
    let memory = PartitionMemory { npt };
    let paging = Paging::of(save.cr0, save.cr4, save.efer);
    let start = save.cs.base.wrapping_add(save.rip);
    for (index, byte) in bytes.iter_mut().enumerate() {
        let gva = start.wrapping_add(index as u64);
        let fetched = guest_walk::translate(&memory, paging, save.cr3, save.cr4, gva)
            .and_then(|gpa| memory.read_byte(gpa));
        match fetched {
            Some(value) => *byte = value,
            None => return index,
        }
    }
    MAX_INSTRUCTION
}

/// The code segment's operand size in bits.
pub fn bitness(vmcb: &Vmcb) -> u32 {
    let save = &vmcb.save;
    if save.efer & (1 << 10) != 0 && save.cs.attrib.l() {
        64
    } else if save.cs.attrib.db() {
        32
    } else {
        16
    }
}

/// Decodes the instruction behind a memory exit of the VP whose state is
/// `vmcb` and `gprs`; also returns the bytes for the exit message.
pub fn decode(
    vmcb: &Vmcb,
    gprs: &GuestGprs,
    npt: &NestedPageTable,
) -> (Option<Access>, [u8; MAX_INSTRUCTION], usize) {
    let mut bytes = [0u8; MAX_INSTRUCTION];
    let count = fetch(vmcb, npt, &mut bytes);
    let access = mmio::decode(
        &bytes[..count],
        bitness(vmcb),
        gprs,
        vmcb.save.rax,
        vmcb.save.rsp,
    );
    (access, bytes, count)
}
