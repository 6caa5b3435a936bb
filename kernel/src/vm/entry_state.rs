//! The guest state each CPU last handed to VMRUN from the locked path.
//!
//! A VMRUN that refuses its guest state exits with VMEXIT_INVALID, and the
//! save area it leaves behind need not be the guest's: under QEMU it holds
//! the host's RIP, RSP, CR3, GDTR and IDTR (`svm-on-qemu.md`; issue 9,
//! finding 5). The kernel checks every state before VMRUN, so this is for a
//! kernel bug only — and even then no host value may reach a component
//! through the lifecycle message or `VpGetRegisters`: the VP gets back the
//! state it was entered with (`tessera_vcpu::saved_on_exit`: only what a
//! #VMEXIT writes, so keeping it is cheap).
use crate::tlb::MAX_CPUS;
use spin::Mutex;
use tessera_svm::save_area::VmcbSaveArea;
use tessera_vcpu::saved_on_exit::SavedOnExit;

static LAST_ENTRY: [Mutex<Option<SavedOnExit>>; MAX_CPUS] = [const { Mutex::new(None) }; MAX_CPUS];

/// Before VMRUN on `cpu`, under the kernel lock.
pub fn remember(cpu: usize, save: &VmcbSaveArea) {
    LAST_ENTRY[cpu]
        .lock()
        .get_or_insert_with(SavedOnExit::default)
        .record(save);
}

/// After VMRUN on `cpu` refused the state: `save` gets back what it was
/// entered with (lock-free exits since changed only RIP and general
/// registers, of which it gets the older values).
pub fn restore(cpu: usize, save: &mut VmcbSaveArea) {
    if let Some(kept) = LAST_ENTRY[cpu].lock().as_ref() {
        kept.restore(save);
    }
}
