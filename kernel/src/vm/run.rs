//! A VP's loop on its CPU: apply the handler's answer if it was waiting for
//! one, inject what is pending, run the guest, handle the exit, again —
//! until the VP blocks, stops, parks or is preempted.
use super::entry::Entry;
use super::exits::Next;
use super::fast;
use super::{VpState, guest_state, tables, world_switch};
use crate::sched::{self, Keep};
use crate::state::{KERNEL, Kernel};
use crate::{percpu, tlb};
use core::sync::atomic::Ordering;
use spin::MutexGuard;
use tessera_capability::ThreadId;
use tessera_svm::ExitCode;
use tessera_svm::controls::TlbControl;
use tessera_vcpu::exit_stats::Outcome;

/// Per CPU: whether it has run a VP yet (then its FPU protection is on and
/// its host MSRs are on record).
static PREPARED: [core::sync::atomic::AtomicBool; crate::tlb::MAX_CPUS] =
    [const { core::sync::atomic::AtomicBool::new(false) }; crate::tlb::MAX_CPUS];

/// The scheduler picked VP thread `thread` for `cpu`: run it on a fresh
/// stack (its loop never returns).
pub fn enter(guard: MutexGuard<'static, Option<Kernel>>, thread: ThreadId) -> ! {
    drop(guard);
    world_switch::on_fresh_stack(vp_main, thread.raw().to_word())
}

extern "C" fn vp_main(raw: u64) -> ! {
    let thread = ThreadId(tessera_capability::RawId::from_word(raw));
    let cpu = percpu::current_index() as usize;
    let host_vmcb = tables::host_vmcb(cpu);
    if !PREPARED[cpu].swap(true, core::sync::atomic::Ordering::Relaxed) {
        guest_state::init_cpu();
        super::host_msrs::snapshot(cpu);
    }
    let mut guard = KERNEL.lock();
    loop {
        let kernel = guard.as_mut().expect("VPs run once the kernel exists");
        let entry = match kernel.prepare_entry(cpu, thread) {
            Ok(entry) => entry,
            Err(keep) => sched::after_syscall(guard, cpu, keep),
        };
        drop(guard);
        crate::console::drain();
        let exited = run_until_slow_exit(cpu, host_vmcb, &entry);
        guard = KERNEL.lock();
        let kernel = guard.as_mut().expect("exists");
        if !exited {
            continue;
        }
        let Some(vp) = kernel.threads.get(&thread).and_then(|t| t.vp) else {
            sched::after_syscall(guard, cpu, Keep::Blocked)
        };
        // One look at the record says which of the steps before the
        // exit's handling have anything to do (each checks again).
        let Some(before) = kernel.vps.get(vp).map(|v| BeforeExit {
            code: v.vmcb.control.exit_code,
            in_synic: v.in_synic,
            serving: v.apic.as_ref().is_some_and(|a| !a.isr().is_empty()),
            lazy_eoi_armed: v.lazy_eoi.armed().is_some(),
            stop_requested: v.stop_requested,
        }) else {
            sched::after_syscall(guard, cpu, Keep::Blocked)
        };
        let BeforeExit { code, .. } = before;
        // The vectors in service before the exit: those it ends may free
        // SynIC slots (`synic.rs`). With none in service it can end none
        // (an EOI of any kind ends one in service), so the SynIC's
        // records are not looked up.
        let in_service = if before.in_synic && before.serving {
            kernel.synic_isr(vp)
        } else {
            None
        };
        // Before anything reads the APIC, a stop included (`lapic_hv.rs`).
        if before.lazy_eoi_armed {
            kernel.reconcile_lazy_eoi(vp);
        }
        if before.stop_requested && kernel.stop_at_exit(vp) {
            kernel.count_exit(vp, code, Outcome::Left);
            sched::after_syscall(guard, cpu, Keep::Blocked)
        }
        let next = kernel.handle_exit(cpu, vp);
        kernel.synic_eois(vp, in_service);
        let outcome = match (&next, kernel.vps.get(vp).map(|v| v.state)) {
            (Next::Resume, _) => Outcome::Kernel,
            (Next::Leave(_), Some(VpState::AwaitingReply(_))) => Outcome::Forwarded,
            (Next::Leave(_), _) => Outcome::Left,
        };
        kernel.count_exit(vp, code, outcome);
        if let Next::Leave(keep) = next {
            kernel.settle_destroyed(vp);
            sched::after_vp_exit(guard, cpu, keep)
        }
    }
}

/// What the VP loop reads of a VP's record after a slow exit.
struct BeforeExit {
    code: ExitCode,
    in_synic: bool,
    /// Its APIC has a vector in service.
    serving: bool,
    lazy_eoi_armed: bool,
    stop_requested: bool,
}

/// Runs the guest, answering the exits `fast::answer` can without the
/// lock, until one it cannot (`true`: the exit is in the VMCB) or the
/// partition's translations changed before the entry (`false`: prepare
/// again, which flushes).
///
/// The CPU counts as in the guest from before the first VMRUN until the
/// loop ends, across the exits answered without the lock: an unmapping
/// CPU that bumps the partition's TLB generation meanwhile sees it so,
/// interrupts it and waits, and the interrupt ends the next VMRUN (INTR).
/// The generation is therefore compared once, before the first VMRUN.
/// Not inlined: its few live values then stay in registers.
#[inline(never)]
fn run_until_slow_exit(cpu: usize, host_vmcb: u64, entry: &Entry) -> bool {
    // The VP is pinned to this CPU and marked running: no other CPU
    // touches its VMCB, general registers, seen generation, run time,
    // fetch cache or local APIC until it leaves the CPU (they only write
    // its pending interrupt and stop flags, under the lock, and then
    // interrupt this CPU; a halted VP's APIC is read off every CPU). The VMCB and the VP record live in boxes, so the pointers stay
    // valid while the lock is released. The partition's lock-free part is
    // boxed too, and a partition is reaped only once its VPs are, each once
    // no CPU runs it (`reap_vp`).
    // SAFETY: this CPU alone uses these fields until the VP leaves it.
    let (vmcb, gprs, seen, run_ticks, fetch_cache, partition, counts, fixed_cpuid, apic) = unsafe {
        (
            &mut *entry.vmcb,
            &mut *entry.gprs,
            &mut *entry.seen_tlb_generation,
            &mut *entry.run_ticks,
            &mut *entry.fetch_cache,
            &*entry.fast,
            &*entry.exit_counts,
            &*entry.fixed_cpuid,
            &mut *entry.apic,
        )
    };
    // As above (the record is boxed); an atomic, shared with
    // senders on other CPUs.
    // SAFETY: by the argument just above.
    let published_priority = unsafe { &*entry.published_priority };
    // As above: in the boxed record, atomics written under the lock.
    // SAFETY: by the argument just above.
    let synic = unsafe { &*entry.synic };
    // The VP's time counts from here to its next slow exit: the guest's
    // time and the fast exits it took, which are its own work.
    let started = crate::arch::tsc::read();
    let mut clean_runs = super::clean_runs::Tally::default();
    // The lock-free path's view, made once. Its generation is the one
    // compared before the first VMRUN: a newer one makes the unmapping CPU
    // wait for this one, whose next VMRUN its interrupt then ends, so until
    // then the frames the cache points at stay, as do the translations the
    // guest runs on (its TLB is flushed at the next entry).
    let mut unlocked = super::skip::Unlocked {
        memory: super::skip::SharedMemory::new(entry.npt_root),
        generation: *seen,
        nrip_save: entry.nrip_save,
        cache: fetch_cache,
        apic: if entry.lazy_eoi_armed || entry.pic_level {
            None
        } else {
            apic.as_mut()
        },
        solo: entry.solo,
        eoi_routed: entry.eoi_routed,
        published_priority,
        synic: Some(synic),
    };
    tlb::entering_guest(cpu, entry.partition);
    // Entering before reading: an unmapping CPU either sees this CPU in
    // the guest (and waits for it to leave) or bumped the generation
    // before this read (`tlb::shoot_down_partition`).
    let exited = partition.tlb_generation.load(Ordering::SeqCst) == *seen && {
        // `prepare_entry` checked the state VMRUN loads and set up the
        // VMCB's controls; the fast path changes only RIP and general
        // registers; interrupts are off in the kernel.
        // Both paths' writes went through the VMCB's accessors: what is
        // left unwritten since the last VMRUN here may come from the
        // processor's cache.
        clean_runs.count(vmcb.entering(cpu as u32));
        // SAFETY: a checked VMCB that only this CPU uses.
        unsafe { world_switch::run(entry.vmcb_address, gprs, host_vmcb) };
        // Only the first VMRUN of the stretch flushes what `prepare_entry`
        // asked it to.
        vmcb.set_tlb_control(TlbControl::DO_NOTHING);
        loop {
            let code = vmcb.control.exit_code;
            if code == ExitCode::INTR {
                break true;
            }
            // Still in the guest while the exit is answered: the answer may
            // read guest memory through the nested table, whose frames an
            // unmapping CPU frees only once this CPU has left (`skip.rs`).
            let answered = fast::answer(
                code,
                vmcb,
                gprs,
                partition,
                entry.vp_index,
                &mut unlocked,
                counts,
                fixed_cpuid,
            );
            if !answered {
                break true;
            }
            // Back into the guest on the CPU it just left.
            clean_runs.count(vmcb.reentering());
            // The answer wrote only guest state (RIP, RAX, the event field,
            // general registers; an APIC exit also the virtual interrupt
            // controls, their intercepts and the interrupt shadow, each
            // through the VMCB's tracked accessors), and nothing since the
            // last VMRUN here touched the host state VMSAVE covers.
            // SAFETY: as for the VMRUN above, with the host state still saved.
            unsafe { world_switch::run_again(entry.vmcb_address, gprs, host_vmcb) };
        }
    };
    tlb::left_guest(cpu);
    if exited && vmcb.control.exit_code == ExitCode::INTR {
        // The interrupt runs now, before the lock is taken: it may be
        // the flush another CPU waits for while it holds the lock.
        x86_64::instructions::interrupts::enable();
        x86_64::instructions::nop();
        x86_64::instructions::interrupts::disable();
    }
    *run_ticks += crate::arch::tsc::read().wrapping_sub(started);
    super::clean_runs::add(cpu, clean_runs);
    exited
}
