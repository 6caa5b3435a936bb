//! Starting and stopping VPs, waiting for a stop, asserting interrupts
//! and adding exception intercepts.
use super::VpState;
use crate::state::Kernel;
use tessera_abi::Status;
use tessera_capability::{PartitionId, ThreadId, VpId};

impl Kernel {
    /// Stops VP `vp` where it is (its thread leaves the run queues), and
    /// checks that the guest left the host's MSRs alone.
    pub fn stop_vp(&mut self, vp: VpId) {
        let Some(record) = self.vps.get_mut(vp) else {
            return;
        };
        record.state = VpState::Stopped;
        record.stop_requested = false;
        let (thread, cpu) = (record.thread, record.cpu);
        self.sched.forget_queued(thread);
        log::info!("{}: stopped", self.vp_name(vp));
        self.wake_stop_waiter(vp);
        if crate::percpu::current_index() as usize == cpu {
            crate::vm::host_msrs::check(cpu);
        }
        self.reap_vp(vp);
    }

    /// A reply that stops its VP (`capture_reply_to_vp`) takes effect as the
    /// kernel accepts it, here on the handler's CPU (the VP is blocked, so
    /// nothing of it runs), not when the VP's CPU next takes it up: once
    /// the handler's `Reply` returns, the VP is stopped and its registers
    /// are the reply's. So a handler can act on the stopped VP at once —
    /// issue 12: the partition manager answered a reset request STOP and
    /// at once reset the Hv#1 state, which the kernel refused while the VP
    /// had not yet stopped on its own CPU. Returns whether it did (the VP's
    /// thread is then not to be woken).
    pub fn stop_on_reply(&mut self, caller: ThreadId, stops: bool) -> bool {
        if !stops {
            return false;
        }
        let Some(vp) = self.threads.get(&caller).and_then(|thread| thread.vp) else {
            return false;
        };
        let Some(VpState::AwaitingReply(pending)) = self.vps.get(vp).map(|v| v.state) else {
            return false;
        };
        self.stop_with_answer(vp, caller, pending);
        true
    }

    /// Applies the answer VP `vp` (whose thread is `thread`) was woken
    /// with, here, and stops it.
    fn stop_with_answer(&mut self, vp: VpId, thread: ThreadId, pending: super::forward::Pending) {
        crate::ipc_glue::deliver_wakeup(self, thread);
        let cpu = crate::percpu::current_index() as usize;
        if self.complete_exit(cpu, vp, pending).is_none() {
            // The answer did not say STOP, but the VP was to stop anyway.
            self.stop_vp(vp);
        }
    }

    /// `VpStart`: the VP runs when its state is one VMRUN accepts and its
    /// partition has a lifecycle route.
    pub fn start_vp(&mut self, vp: VpId) -> Result<(), u64> {
        let record = self.vps.get(vp).ok_or(Status::InvalidArgument.code())?;
        if record.destroyed {
            return Err(Status::InvalidArgument.code());
        }
        if record.state != VpState::Stopped {
            return Err(Status::VpRunning.code());
        }
        let partition = self
            .partitions
            .get(record.partition)
            .ok_or(Status::InvalidArgument.code())?;
        if partition.destroyed {
            return Err(Status::InvalidArgument.code());
        }
        if partition
            .route(tessera_abi::vm::intercept::LIFECYCLE, 0)
            .is_none()
        {
            return Err(Status::NoLifecycleRoute.code());
        }
        let apic = partition.apic;
        let waits_for_sipi = apic != super::lapic::ApicChoice::None && record.index != 0;
        if waits_for_sipi {
            // An application processor of a partition with an APIC:
            // powered on, waiting for INIT/SIPI from its guest
            // (`lapic_ipi`); the registers its manager set do not apply.
            let thread = record.thread;
            let Some(record) = self.vps.get_mut(vp) else {
                return Err(Status::InvalidArgument.code());
            };
            // Started again (its partition was reset): power-on is RESET
            // for its APIC too (SDM Vol. 3A §10.4.7.1), and nothing the
            // old run sent it (a SIPI, a vector) reaches the new one. At
            // the first start its APIC is as created, and a start-up IPI
            // may already have come.
            if record.ever_started {
                record.reset_apic(apic);
            }
            record.power_on_waiting();
            record.state = VpState::WaitForSipi;
            record.ever_started = true;
            // A start-up IPI may have come before VpStart.
            record.take_posted();
            let runs = record.state == VpState::Runnable;
            self.refresh_apic_address(vp);
            log::info!("{}: started: waiting for INIT/SIPI", self.vp_name(vp));
            if runs {
                self.wake(thread);
            }
            return Ok(());
        }
        if let Err(error) =
            tessera_vcpu::checks::runnable(&record.vmcb, super::guest_cpu::guest_cpu())
        {
            log::info!("{}: not started: {error:?}", self.vp_name(vp));
            return Err(Status::InvalidArgument.code());
        }
        let thread = record.thread;
        if let Some(record) = self.vps.get_mut(vp) {
            record.state = VpState::Runnable;
            record.ever_started = true;
        }
        log::info!("{}: started", self.vp_name(vp));
        self.wake(thread);
        Ok(())
    }

    /// `VpStop`: at once if the VP is not on a CPU (queued or halted);
    /// when its handler's answer is accepted if it waits for one; else (in
    /// its guest) at its next exit, which an interrupt makes soon —
    /// `Ok(false)` then, and `waiter`'s call returns when it has stopped
    /// (`wake_stop_waiter`). So the caller knows the VP has stopped when
    /// its call returns, without polling (issue 12).
    pub fn request_stop(&mut self, vp: VpId, waiter: ThreadId) -> Result<bool, u64> {
        let record = self.vps.get(vp).ok_or(Status::InvalidArgument.code())?;
        let (thread, cpu, state) = (record.thread, record.cpu, record.state);
        let on_a_cpu = (0..self.sched.cpus()).any(|c| self.sched.running(c) == Some(thread));
        let answered = self.ipc.state(thread) == Ok(tessera_ipc::ThreadState::Runnable);
        match state {
            VpState::Stopped => Ok(true),
            _ if on_a_cpu => {
                // In its guest (or taking up its handler's answer): it stops
                // on its CPU, at once; the caller waits for that.
                let record = self.vps.get_mut(vp).ok_or(Status::InvalidArgument.code())?;
                if record.stop_waiter.is_some_and(|other| other != waiter) {
                    return Err(Status::Busy.code());
                }
                record.stop_requested = true;
                record.stop_waiter = Some(waiter);
                self.sched.kick(cpu);
                Ok(false)
            }
            VpState::AwaitingReply(pending) if answered => {
                // Answered, and the answer not yet taken up: it is, here.
                self.stop_with_answer(vp, thread, pending);
                Ok(true)
            }
            VpState::AwaitingReply(_) => {
                // It stops with its handler's answer, as the kernel accepts
                // it (`stop_on_reply`).
                if let Some(record) = self.vps.get_mut(vp) {
                    record.stop_requested = true;
                }
                Ok(true)
            }
            VpState::Parked | VpState::Runnable | VpState::WaitForSipi => {
                self.stop_vp(vp);
                Ok(true)
            }
        }
    }

    /// The VP stopped (or went): a `VpStop` waiting for it returns.
    pub(super) fn wake_stop_waiter(&mut self, vp: VpId) {
        let Some(waiter) = self
            .vps
            .get_mut(vp)
            .and_then(|record| record.stop_waiter.take())
        else {
            return;
        };
        if let Some(thread) = self.threads.get_mut(&waiter) {
            thread.context.rax = Status::Success.code();
            self.wake(waiter);
        }
    }

    /// A VP asked to stop took an exit in its guest: it stops there, before
    /// the exit is handled (whose instruction runs again when it is
    /// restarted; an event the exit interrupted is delivered then).
    /// Whether it did.
    pub fn stop_at_exit(&mut self, vp: VpId) -> bool {
        let Some(record) = self.vps.get_mut(vp) else {
            return false;
        };
        if !record.stop_requested {
            return false;
        }
        let control = &record.vmcb.control;
        if control.exit_int_info.valid() && !control.event_inj.valid() {
            let interrupted = control.exit_int_info;
            *record.vmcb.event_inj_mut() = interrupted;
        }
        self.stop_vp(vp);
        true
    }

    /// `VpAssertInterrupt`.
    pub fn assert_interrupt(&mut self, vp: VpId, event: u64) -> Result<(), u64> {
        use tessera_abi::vm::event as ev;
        if event & !(ev::VECTOR_MASK | (0b111 << ev::TYPE_SHIFT)) != 0 {
            return Err(Status::InvalidArgument.code());
        }
        let kind = (event >> ev::TYPE_SHIFT) & 0b111;
        let record = self.vps.get_mut(vp).ok_or(Status::InvalidArgument.code())?;
        match kind {
            ev::TYPE_NMI if event & ev::VECTOR_MASK == 2 => record.pending_nmi = true,
            ev::TYPE_EXTERNAL if event & ev::VECTOR_MASK >= 32 => {
                if record.pending_interrupt.is_some() {
                    return Err(Status::Busy.code());
                }
                record.pending_interrupt = Some(event);
            }
            _ => return Err(Status::InvalidArgument.code()),
        }
        self.wake_or_kick(vp);
        Ok(())
    }

    /// Something was posted to VP `vp`: if HLT parked it, it runs again;
    /// otherwise its CPU is kicked, so a running VP leaves its guest and
    /// looks before its next entry.
    pub fn wake_or_kick(&mut self, vp: VpId) {
        let Some(record) = self.vps.get_mut(vp) else {
            return;
        };
        let (thread, cpu) = (record.thread, record.cpu);
        if record.state == VpState::Parked {
            record.state = VpState::Runnable;
            self.wake(thread);
        } else {
            self.sched.kick(cpu);
        }
    }

    /// Routes exceptions `vectors` too: every VP of the partition
    /// intercepts them from its next entry (a running VP's VMCB is its
    /// CPU's alone, so each VP applies the change itself, `sync_intercepts`).
    pub fn add_exception_intercepts(&mut self, partition: PartitionId, vectors: u32) {
        let Some(target) = self.partitions.get_mut(partition) else {
            return;
        };
        target.exception_intercepts |= vectors;
        for &vp in &target.vps {
            if let Some(record) = self.vps.get(vp) {
                self.sched.kick(record.cpu);
            }
        }
    }
}
