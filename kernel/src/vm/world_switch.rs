//! The world switch (`world_switch.s`) as a Rust call.
use core::arch::global_asm;
use tessera_vcpu::GuestGprs;

global_asm!(include_str!("world_switch.s"), options(att_syntax));

unsafe extern "C" {
    fn tessera_vmrun(guest_vmcb: u64, gprs: *mut GuestGprs, host_vmcb: u64);
    fn tessera_vmrun_again(guest_vmcb: u64, gprs: *mut GuestGprs, host_vmcb: u64);
    fn tessera_on_fresh_stack(stack_top: u64, entry: extern "C" fn(u64) -> !, argument: u64) -> !;
}

/// Runs the guest until its next #VMEXIT.
///
/// # Safety
///
/// `guest_vmcb` is the physical address of a VMCB that passed
/// `tessera_vcpu::checks::runnable`, with the VMRUN intercept, a valid
/// ASID, nested paging over tables the kernel owns and the shared
/// permission maps; nothing else uses it or `gprs` until this returns.
/// `host_vmcb` is this CPU's host VMCB. Interrupts are disabled.
pub unsafe fn run(guest_vmcb: u64, gprs: &mut GuestGprs, host_vmcb: u64) {
    // SAFETY: the caller's promises are the world switch's preconditions;
    // it restores every host register it or VMRUN changes.
    unsafe { tessera_vmrun(guest_vmcb, gprs, host_vmcb) }
}

/// [`run`] again, straight after a #VMEXIT on this CPU that the kernel
/// answered without changing the host state VMSAVE covers (segment bases,
/// TR, LDTR and the SYSCALL and SYSENTER MSRs): that state is in
/// `host_vmcb` already, and is not saved again.
///
/// # Safety
///
/// As for [`run`]; and the last `run` or `run_again` on this CPU was with
/// the same `host_vmcb`, and since it returned nothing changed that state.
#[inline(always)]
pub unsafe fn run_again(guest_vmcb: u64, gprs: &mut GuestGprs, host_vmcb: u64) {
    // SAFETY: the caller's promises, and the host VMCB holds the state the
    // skipped VMSAVE would write.
    unsafe { tessera_vmrun_again(guest_vmcb, gprs, host_vmcb) }
}

/// Runs `entry(argument)` on this CPU's kernel stack, emptied.
pub fn on_fresh_stack(entry: extern "C" fn(u64) -> !, argument: u64) -> ! {
    let top = crate::percpu::current()
        .expect("VPs run on CPUs with per-CPU data")
        .kernel_stack_top
        .as_u64();
    // Nothing on this CPU's kernel stack is live: the caller never
    // returns, holds no lock and no reference into the stack, and
    // interrupts are disabled until `entry` decides otherwise.
    // SAFETY: the stack being replaced holds nothing anyone still uses.
    unsafe { tessera_on_fresh_stack(top, entry, argument) }
}
