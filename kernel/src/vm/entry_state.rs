//! The guest state each CPU last handed to VMRUN from the locked path.
//!
//! A VMRUN that refuses its guest state exits with VMEXIT_INVALID, and the
//! save area it leaves behind need not be the guest's: under QEMU it holds
//! the host's RIP, RSP, CR3, GDTR and IDTR (`svm-on-qemu.md`; issue 9,
//! finding 5). The kernel checks every state before VMRUN, so this is for a
//! kernel bug only — and even then no host value may reach a component
//! through the lifecycle message or `VpGetRegisters`: the VP gets back the
//! state it was entered with.
use crate::tlb::MAX_CPUS;
use alloc::boxed::Box;
use spin::Mutex;
use tessera_svm::save_area::VmcbSaveArea;

static LAST_ENTRY: [Mutex<Option<Box<VmcbSaveArea>>>; MAX_CPUS] =
    [const { Mutex::new(None) }; MAX_CPUS];

/// Before VMRUN on `cpu`, under the kernel lock.
pub fn remember(cpu: usize, save: &VmcbSaveArea) {
    let mut slot = LAST_ENTRY[cpu].lock();
    match slot.as_mut() {
        Some(copy) => (**copy).clone_from(save),
        None => *slot = Some(Box::new(save.clone())),
    }
}

/// After VMRUN on `cpu` refused the state: `save` gets back what it was
/// entered with (lock-free exits since changed only RIP and general
/// registers, of which it gets the older values).
pub fn restore(cpu: usize, save: &mut VmcbSaveArea) {
    if let Some(copy) = LAST_ENTRY[cpu].lock().as_ref() {
        save.clone_from(&**copy);
    }
}
