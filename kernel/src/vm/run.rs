//! A VP's loop on its CPU: apply the handler's answer if it was waiting for
//! one, inject what is pending, run the guest, handle the exit, again —
//! until the VP blocks, stops, parks or is preempted.
use super::VpVmcb;
use super::exits::Next;
use super::fast::{self, FastPartition};
use super::{VpState, guest_state, tables, world_switch};
use crate::sched::{self, Keep};
use crate::state::{KERNEL, Kernel};
use crate::{percpu, tlb};
use core::sync::atomic::Ordering;
use spin::MutexGuard;
use tessera_capability::{PartitionId, ThreadId};
use tessera_svm::controls::TlbControl;
use tessera_svm::{Event, ExitCode, Intercept};
use tessera_vcpu::GuestGprs;
use tessera_vcpu::exit_stats::{ExitCounts, Injected, Outcome};

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
        let Some((code, in_synic)) = kernel
            .vps
            .get(vp)
            .map(|v| (v.vmcb.control.exit_code, v.in_synic))
        else {
            sched::after_syscall(guard, cpu, Keep::Blocked)
        };
        // The vectors in service before the exit: those it ends may free
        // SynIC slots (`synic.rs`).
        let in_service = if in_synic { kernel.synic_isr(vp) } else { None };
        // Before anything reads the APIC, a stop included (`lapic_hv.rs`).
        kernel.reconcile_lazy_eoi(vp);
        if kernel.stop_at_exit(vp) {
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

/// What `prepare_entry` hands the lock-free part of the loop: everything
/// the exits it answers need, decided once per entry rather than per exit.
struct Entry {
    vmcb: *mut VpVmcb,
    vmcb_address: u64,
    gprs: *mut GuestGprs,
    seen_tlb_generation: *mut u64,
    run_ticks: *mut u64,
    fetch_cache: *mut tessera_vcpu::fetch_cache::FetchCache,
    fast: *const FastPartition,
    partition: PartitionId,
    vp_index: u32,
    /// The partition's nested table root (fixed for its life).
    npt_root: u64,
    /// Whether the CPU saves the next RIP on exits (else the instruction
    /// is fetched and measured).
    nrip_save: bool,
    fixed_cpuid: *const super::guest_cpu::FixedCpuid,
    exit_counts: *const ExitCounts,
    apic: *mut Option<tessera_lapic::LocalApic>,
    published_priority: *const core::sync::atomic::AtomicU16,
    /// Whether the VP is its partition's only one (`Unlocked::solo`).
    solo: bool,
    /// The partition takes EOI broadcasts (an `EOI` route): the EOI of a
    /// level-triggered vector goes to the locked path, which forwards it
    /// (`device_interrupt::eoi_broadcast`).
    eoi_routed: bool,
    /// The assist page's "No EOI required" bit is set: the lock-free path
    /// leaves the APIC to the locked one, which reconciles it first
    /// (`lapic_hv.rs`).
    lazy_eoi_armed: bool,
    /// The 8259's output is high for this VP (`extint.rs`): its APIC
    /// exits take the locked path, whose entry looks at LINT0 again.
    pic_level: bool,
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
    // SAFETY: as above (the record is boxed); an atomic, shared with
    // senders on other CPUs.
    let published_priority = unsafe { &*entry.published_priority };
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

impl Kernel {
    /// Everything before VMRUN, under the lock: the VMCB's physical
    /// address, the registers' home and the partition index, or why the VP
    /// does not run now.
    fn prepare_entry(&mut self, cpu: usize, thread: ThreadId) -> Result<Entry, Keep> {
        let record = self.threads.get(&thread).ok_or(Keep::Blocked)?;
        if record.dead {
            return Err(Keep::Blocked);
        }
        let vp = record.vp.ok_or(Keep::Blocked)?;
        let (state, in_synic) = self
            .vps
            .get(vp)
            .map(|v| (v.state, v.in_synic))
            .ok_or(Keep::Blocked)?;
        if let VpState::AwaitingReply(pending) = state {
            if let Some(keep) = self.complete_exit(cpu, vp, pending) {
                return Err(keep);
            }
            self.acknowledged(vp, pending);
        }
        // Its synthetic timers (`synic.rs`): what expired is posted to its
        // APIC, taken just below.
        let synic_deadline = if in_synic {
            self.poll_synic_timers(vp)
        } else {
            None
        };
        // Interrupts other VPs posted (`lapic_ipi`): INIT may put the VP
        // into wait-for-SIPI, which it leaves the CPU for.
        let state = self.vps.get_mut(vp).ok_or(Keep::Blocked)?;
        state.take_posted();
        let state = self.vps.get(vp).ok_or(Keep::Blocked)?;
        let partition = state.partition;
        let target = self.partitions.get(partition);
        let destroyed = target.is_none_or(|p| p.destroyed);
        if state.stop_requested || state.destroyed || destroyed {
            self.stop_vp(vp);
            return Err(Keep::Blocked);
        }
        if state.state != VpState::Runnable {
            return Err(Keep::Blocked);
        }
        let Some(target) = target else {
            return Err(Keep::Blocked);
        };
        let lazy_eoi_page = super::lapic_hv::lazy_eoi_page(target, state);
        let exceptions = target.exception_intercepts;
        let solo = target.vps.len() <= 1;
        // With its SynIC enabled, the VP's APIC EOIs and injections are
        // the locked path's too: they end SINT vectors (`synic_eois`) and
        // perform AutoEOI (`synic_auto_eoi`).
        let eoi_routed = target.apic != super::lapic::ApicChoice::None
            && (target.route(tessera_abi::vm::intercept::EOI, 0).is_some()
                || (in_synic && super::synic::synic_enabled(target, state.index)));
        let fast: *const FastPartition = &*target.fast;
        let generation = target.fast.tlb_generation.load(Ordering::SeqCst);
        let (serial, npt_root) = (target.fast.serial, target.space.npt().root());
        guest_state::switch_to(self, cpu, vp);
        super::barrier::entering(cpu, serial);
        let vp_record = self.vps.get_mut(vp).ok_or(Keep::Blocked)?;
        if vp_record.exception_intercepts != exceptions {
            super::lifecycle::set_exception_intercepts(vp_record.vmcb.intercepts_mut(), exceptions);
            vp_record.exception_intercepts = exceptions;
        }
        vp_record.end_shadow_past();
        vp_record.inject_pending();
        // The 8259 (virtual wire) before the APIC's vectors (`extint.rs`).
        if let Some(keep) = self.acknowledge_pic(cpu, vp) {
            return Err(keep);
        }
        let vp_record = self.vps.get_mut(vp).ok_or(Keep::Blocked)?;
        let apic_deadline = vp_record.inject_apic();
        let deadline = match (apic_deadline, synic_deadline) {
            (Some(a), Some(s)) => Some(a.min(s)),
            (a, s) => a.or(s),
        };
        if let Some(deadline) = deadline {
            crate::arch::apic::interrupt_by(cpu, deadline);
        }
        if in_synic {
            self.synic_auto_eoi(vp);
        }
        let vp_record = self.vps.get_mut(vp).ok_or(Keep::Blocked)?;
        vp_record.arm_lazy_eoi(lazy_eoi_page);
        vp_record.guard_cr8();
        // Only senders of its own partition arbitrate over it.
        if !solo {
            vp_record.publish_priority();
        }
        if let Some(kind) = Injected::of(vp_record.vmcb.control.event_inj) {
            vp_record.exit_counts.injected(kind);
        }
        let flush = vp_record.seen_tlb_generation != generation;
        vp_record.seen_tlb_generation = generation;
        vp_record.vmcb.set_tlb_control(if flush {
            TlbControl::guest_flush(crate::svm::features().flush_by_asid)
        } else {
            TlbControl::DO_NOTHING
        });
        super::entry_state::remember(cpu, &vp_record.vmcb.save);
        Ok(Entry {
            vmcb_address: vp_record.vmcb_address(),
            vmcb: &mut vp_record.vmcb,
            gprs: &mut vp_record.gprs,
            seen_tlb_generation: &mut vp_record.seen_tlb_generation,
            run_ticks: &mut vp_record.run_ticks,
            fetch_cache: &mut vp_record.fetch_cache,
            fast,
            partition,
            vp_index: vp_record.index,
            npt_root,
            nrip_save: crate::svm::features().nrip_save,
            fixed_cpuid: &vp_record.fixed_cpuid,
            exit_counts: &vp_record.exit_counts,
            lazy_eoi_armed: vp_record.lazy_eoi.armed().is_some(),
            pic_level: vp_record.pic_level,
            apic: &mut vp_record.apic,
            published_priority: &vp_record.published_priority,
            solo,
            eoi_routed,
        })
    }
}

impl super::Vp {
    /// Delivers an asserted interrupt when the guest can take one, and
    /// otherwise asks for an exit when it can (the interrupt window).
    fn inject_pending(&mut self) {
        let vmcb = &mut self.vmcb;
        if vmcb.control.event_inj.valid() {
            return;
        }
        if self.pending_nmi && self.nmi_deliverable() {
            self.pending_nmi = false;
            *self.vmcb.event_inj_mut() = Event::Nmi.encode().expect("an NMI is a valid event");
            self.nmi_injected();
            return;
        }
        let vmcb = &mut self.vmcb;
        let Some(event) = self.pending_interrupt else {
            return;
        };
        let interrupts_on = vmcb.save.rflags & (1 << 9) != 0;
        let shadow = vmcb.control.interrupt_state.interrupt_shadow();
        if interrupts_on && !shadow {
            if let Ok(injection) = tessera_vcpu::reply::event_injection(event) {
                *vmcb.event_inj_mut() = injection;
            }
            self.pending_interrupt = None;
            vmcb.v_intr_mut().set_v_irq(false);
            vmcb.intercepts_mut().set(Intercept::Vintr, false);
        } else {
            // A virtual interrupt request makes the CPU exit (VINTR) as
            // soon as the guest could take it; the kernel then injects
            // the real one.
            let v_intr = vmcb.v_intr_mut();
            v_intr.set_v_irq(true);
            v_intr.set_v_ign_tpr(true);
            v_intr.set_v_intr_vector((event & 0xFF) as u8);
            vmcb.intercepts_mut().set(Intercept::Vintr, true);
        }
    }
}
