//! The capability system calls (derive, delete, revoke) and what removing
//! a capability means for the object it named.
use super::{Result, succeed};
use crate::ipc_glue::cap_status;
use crate::sched::Keep;
use crate::state::Kernel;
use tessera_abi::{Status, Syscall};
use tessera_capability::{Badge, CapError, Object, Removal, Rights, SlotAddr, ThreadId};

pub(super) fn cap_derive(kernel: &mut Kernel, thread: ThreadId, selector: u64) -> Result<Keep> {
    let context = &kernel.threads[&thread].context;
    let (destination, rights, badge) = (context.rsi, context.rdx, context.r10);
    let selector = u32::try_from(selector).map_err(|_| cap_status(CapError::InvalidSelector))?;
    let destination =
        u32::try_from(destination).map_err(|_| cap_status(CapError::InvalidSelector))?;
    let rights = u32::try_from(rights)
        .ok()
        .and_then(Rights::from_bits)
        .ok_or(Status::InvalidArgument.code())?;
    let badge = (badge != 0).then_some(Badge(badge));
    let cspace = kernel.cspace_of(thread);
    kernel
        .caps
        .derive(cspace, selector, destination, rights, badge)
        .map_err(cap_status)?;
    succeed(kernel, thread)
}

pub(super) fn cap_remove(
    kernel: &mut Kernel,
    thread: ThreadId,
    selector: u64,
    call: Syscall,
) -> Result<Keep> {
    let selector = u32::try_from(selector).map_err(|_| cap_status(CapError::InvalidSelector))?;
    let at = SlotAddr::new(kernel.cspace_of(thread), selector);
    let cpu = kernel.threads[&thread].cpu;
    match call {
        Syscall::CapDelete => kernel.delete_cap(at, cpu).map_err(cap_status)?,
        _ => kernel.revoke_cap(at, cpu).map_err(cap_status)?,
    }
    succeed(kernel, thread)
}

/// Capabilities one step of a revocation deletes: its removals (at most
/// two per capability) fit a buffer on the stack.
const REVOKE_STEP: usize = 16;

/// The removals of one step.
type Removals = heapless::Vec<Removal<Object>, { 2 * REVOKE_STEP }>;

impl Kernel {
    /// Deletes the capability at `at` and what it leaves behind
    /// (`apply_removals`).
    pub fn delete_cap(&mut self, at: SlotAddr, cpu: usize) -> core::result::Result<(), CapError> {
        let mut removals = Removals::new();
        let result = self.caps.delete(at, &mut |removal| {
            // One capability: two removals at most.
            let _ = removals.push(removal);
        });
        self.apply_removals(removals, cpu);
        result
    }

    /// Revokes everything derived from the capability at `at`, a bounded
    /// step at a time so the removals fit on the stack.
    pub fn revoke_cap(&mut self, at: SlotAddr, cpu: usize) -> core::result::Result<(), CapError> {
        loop {
            let mut removals = Removals::new();
            let progress = self.caps.revoke_bounded(at, REVOKE_STEP, &mut |removal| {
                let _ = removals.push(removal);
            });
            self.apply_removals(removals, cpu);
            if progress? == tessera_capability::RevokeProgress::Done {
                return Ok(());
            }
        }
    }

    /// What deleting capabilities means for the objects: mappings made
    /// through a deleted memory capability go (on every CPU), and an object
    /// nobody can name any more is destroyed — whoever waits on it is woken
    /// with an error rather than left blocked.
    fn apply_removals(&mut self, removals: Removals, cpu: usize) {
        let mut named_domains = false;
        for removal in removals {
            match removal {
                Removal::CapDeleted { at, cap } => match cap.object {
                    Object::Memory(region) => {
                        self.unmap_via(region, at, cpu);
                        self.unmap_region_from_partitions(region, Some(at), cpu);
                    }
                    Object::Domain(_) | Object::Thread(_) => named_domains = true,
                    _ => {}
                },
                Removal::ObjectReclaimed { object, .. } => match object {
                    Object::Endpoint(endpoint) => {
                        let _ = self.waking(|ipc, wake| ipc.destroy_endpoint(endpoint, wake));
                    }
                    Object::Notification(notification) => {
                        let _ =
                            self.waking(|ipc, wake| ipc.destroy_notification(notification, wake));
                    }
                    Object::Memory(region) => {
                        self.unmap_region_from_partitions(region, None, cpu);
                        self.destroy_region(region, cpu);
                    }
                    Object::Partition(partition) => self.destroy_partition(partition, cpu),
                    Object::Vp(vp) => self.destroy_vp(vp),
                    Object::Domain(domain) => self.domain_unnamed(domain),
                    Object::Thread(thread) => self.thread_unnamed(thread),
                    _ => {}
                },
            }
        }
        if named_domains {
            self.end_unreachable_domains();
        }
    }
}
