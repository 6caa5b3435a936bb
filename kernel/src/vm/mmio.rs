//! The instruction behind a memory-mapped I/O exit: the bytes the CPU put
//! in the VMCB where it offers decode assists, else fetched from guest
//! memory through the guest's page tables and the partition's nested ones;
//! then decoded (`tessera_vcpu::mmio`).
use super::tables::KernelTables;
use crate::memory::physical_to_virtual;
use tessera_npt::NestedPageTable;
use tessera_svm::Vmcb;
use tessera_vcpu::GuestGprs;
use tessera_vcpu::guest_walk::GuestPhysical;
use tessera_vcpu::instruction::{self, CodeState, Fetched};
use tessera_vcpu::mmio::{self, Access};

/// Guest RAM as the partition maps it (under the kernel lock).
pub(super) struct PartitionMemory<'a> {
    pub npt: &'a NestedPageTable,
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

    fn read_bytes(&self, gpa: u64, out: &mut [u8]) -> bool {
        match self.npt.translate(&KernelTables::default(), gpa) {
            Some(translation) => {
                super::skip::copy_bytes(translation.hpa, out);
                true
            }
            None => false,
        }
    }
}

/// The bytes of the instruction behind a nested page fault: the CPU's,
/// where it offers decode assists, else fetched.
pub fn instruction_bytes(vmcb: &Vmcb, npt: &NestedPageTable, decode_assists: bool) -> Fetched {
    Fetched::for_nested_fault(decode_assists, &vmcb.control, || {
        instruction::fetch(&PartitionMemory { npt }, &CodeState::of(&vmcb.save))
    })
}

/// Decodes the instruction behind a memory exit of the VP whose state is
/// `vmcb` and `gprs`; also returns the bytes for the exit message.
pub fn decode(vmcb: &Vmcb, gprs: &GuestGprs, npt: &NestedPageTable) -> (Option<Access>, Fetched) {
    let fetched = instruction_bytes(vmcb, npt, crate::svm::features().decode_assists);
    let bits = CodeState::of(&vmcb.save).bits;
    let access = mmio::decode(fetched.as_slice(), bits, gprs, vmcb.save.rax, vmcb.save.rsp);
    (access, fetched)
}

/// Completes the memory access `access` (if it is a load) with the value
/// `value` read: into the destination register, as the instruction would
/// have written it (`tessera_vcpu::mmio::load_result`).
pub fn complete_load(vmcb: &mut super::VpVmcb, gprs: &mut GuestGprs, access: Access, value: u64) {
    let mmio::Op::Load { dest, .. } = access.op else {
        return;
    };
    let old = tessera_vcpu::gprs::read(gprs, vmcb.save.rax, vmcb.save.rsp, dest);
    let new = mmio::load_result(access.op, access.size, value, old);
    match tessera_vcpu::gprs::slot(gprs, dest) {
        Some(slot) => *slot = new,
        None if dest == tessera_vcpu::gprs::GprIndex::RAX => *vmcb.rax_mut() = new,
        None => *vmcb.rsp_mut() = new,
    }
}
