//! What each #VMEXIT means: a kernel fast path, a route to a component, or
//! the lifecycle handler (`tessera_abi::vm`, "Exits handled by the kernel").
use super::Route;
use super::forward::{Pending, PendingKind};
use super::lifecycle_route::{unrecoverable, unsupported};
use crate::sched::Keep;
use crate::state::Kernel;
use tessera_abi::vm::intercept;
use tessera_capability::VpId;
use tessera_exit_protocol::Exit;
use tessera_svm::{Event, EventInjection, ExceptionVector, ExitCode};
use tessera_vcpu::exit_message;
use tessera_vcpu::msr;
use tlfs::intercept::HvInterceptAccessType as Access;

/// What the VP does after an exit.
#[derive(Debug)]
pub enum Next {
    /// Back into the guest.
    Resume,
    /// Off the CPU (blocked on a handler, stopped, parked, or preempted).
    Leave(Keep),
}

impl Next {
    /// The VP's record is gone (its partition was reaped under it): it
    /// leaves the CPU for good.
    pub const GONE: Self = Self::Leave(Keep::Blocked);
}

pub fn general_protection() -> EventInjection {
    Event::Exception {
        vector: ExceptionVector::new(13).expect("13 is #GP"),
        error_code: Some(0),
    }
    .encode()
    .expect("#GP(0) is a valid event")
}

pub fn invalid_opcode() -> EventInjection {
    Event::Exception {
        vector: ExceptionVector::new(6).expect("6 is #UD"),
        error_code: None,
    }
    .encode()
    .expect("#UD is a valid event")
}

/// VMEXIT_CR4_WRITE (APM vol. 2, Table C-1: CR*n* writes at 10h + *n*).
const CR4_WRITE: ExitCode = ExitCode(ExitCode::CR0_WRITE.0 + 4);
/// VMEXIT_CR8_WRITE.
const CR8_WRITE: ExitCode = ExitCode(ExitCode::CR0_WRITE.0 + 8);

/// The instruction length field of an intercept message header.
pub fn instruction_length(rip: u64, next_rip: u64) -> u8 {
    next_rip.wrapping_sub(rip).min(15) as u8
}

impl Kernel {
    /// Handles the exit VP `vp` just took on `cpu`.
    pub fn handle_exit(&mut self, cpu: usize, vp: VpId) -> Next {
        let Some(record) = self.vps.get_mut(vp) else {
            return Next::GONE;
        };
        record.tpr_from_vmcb();
        record.exit_rip = Some(record.vmcb.save.rip);
        let vmcb = &mut record.vmcb;
        // An event whose delivery the exit interrupted is delivered again
        // (APM 15.7.2), unless something replaces it below.
        let interrupted = vmcb.control.exit_int_info;
        *vmcb.event_inj_mut() = if interrupted.valid() {
            interrupted
        } else {
            EventInjection::NONE
        };
        let code = vmcb.control.exit_code;
        match code {
            ExitCode::INTR | ExitCode::NMI => {
                self.wake_halted_at_deadline(cpu);
                crate::arch::host_events::report(false);
                let (stop_requested, routes_post) = self
                    .vps
                    .get(vp)
                    .map_or((false, false), |r| (r.stop_requested, r.routes_post));
                // The interrupt may have been a typed key for a reader.
                crate::console_input::deliver(self);
                self.expire_component_timers(cpu);
                // A busy VP's posted writes wait at most a time slice.
                if routes_post && let Some(keep) = self.flush_posted(cpu, vp) {
                    return Next::Leave(keep);
                }
                let preempt = !self.sched.nothing_ready(cpu) || stop_requested;
                if preempt {
                    Next::Leave(Keep::Yield)
                } else {
                    Next::Resume
                }
            }
            ExitCode::VINTR => {
                vmcb.v_intr_mut().set_v_irq(false);
                vmcb.intercepts_mut()
                    .set(tessera_svm::Intercept::Vintr, false);
                Next::Resume
            }
            // What both exit paths decide alike (`decided.rs`).
            ExitCode::CPUID | ExitCode::IOIO | ExitCode::INVD | ExitCode::WBINVD => {
                self.exit_decided(cpu, vp)
            }
            ExitCode::IRET => {
                record.iret_exit(cpu);
                Next::Resume
            }
            ExitCode::MSR => self.exit_msr(cpu, vp),
            ExitCode::HLT => self.exit_hlt(cpu, vp),
            ExitCode::NPF => self.exit_npf(cpu, vp),
            ExitCode::SHUTDOWN => {
                self.report_registers(vp, "triple fault");
                self.lifecycle(cpu, vp, unrecoverable(ExitCode::SHUTDOWN.0))
            }
            ExitCode::VMMCALL => self.hypercall(cpu, vp),
            // No PMU is virtualised: no counter index is valid (APM vol. 3,
            // RDPMC: #GP for an ECX the processor has no counter for; the
            // CPL and CR4.PCE checks come before the intercept).
            ExitCode::RDPMC => {
                *vmcb.event_inj_mut() = general_protection();
                Next::Resume
            }
            ExitCode::RDTSCP => self.exit_rdtscp(cpu, vp),
            code if code == CR4_WRITE => self.exit_cr4_write(cpu, vp),
            code if code == CR8_WRITE => self.exit_cr8_write(cpu, vp),
            code if tessera_vcpu::intercepts::undefined_for_guests(code) => {
                *vmcb.event_inj_mut() = invalid_opcode();
                Next::Resume
            }
            code if code.exception_vector().is_some() => self.exit_exception(cpu, vp),
            code if code.is_invalid() => {
                // What VMRUN left in the save area may be the host's.
                super::entry_state::restore(cpu, &mut vmcb.all_mut().save);
                self.report_registers(vp, "VMRUN refused the guest state (VMEXIT_INVALID)");
                log::error!(
                    "{}: this is a kernel bug: every state is checked before VMRUN",
                    self.vp_name(vp)
                );
                self.lifecycle(cpu, vp, unrecoverable(u64::MAX))
            }
            other => {
                log::warn!("{}: unexpected exit {other:?}", self.vp_name(vp));
                self.lifecycle(cpu, vp, unsupported(other))
            }
        }
    }

    pub(super) fn route_of(&self, vp: VpId, kind: u64, value: u64) -> Option<Route> {
        let partition = self.vps.get(vp)?.partition;
        self.partitions.get(partition)?.route(kind, value).copied()
    }

    fn exit_msr(&mut self, cpu: usize, vp: VpId) -> Next {
        let Some(record) = self.vps.get(vp) else {
            return Next::GONE;
        };
        let number = record.gprs.rcx as u32;
        let write = record.vmcb.control.exit_info1 == 1;
        let value = (record.vmcb.save.rax & 0xFFFF_FFFF) | (record.gprs.rdx << 32);
        let next_rip = match self.next_rip(cpu, vp) {
            Ok(next_rip) => next_rip,
            Err(next) => return next,
        };
        if let Some(route) = self.route_of(vp, intercept::MSR, u64::from(number)) {
            let Some(record) = self.vps.get(vp) else {
                return Next::GONE;
            };
            let access = if write { Access::WRITE } else { Access::READ };
            let length = instruction_length(record.vmcb.save.rip, next_rip);
            let header = exit_message::header(&record.vmcb, record.index, length, access);
            let body = exit_message::msr(header, number, &record.gprs, record.vmcb.save.rax);
            let exit = Exit::Msr {
                msr: number,
                write,
                value: if write { value } else { 0 },
            };
            let kind = if write {
                PendingKind::MsrWrite
            } else {
                PendingKind::MsrRead
            };
            let pending = Pending::routed(&exit, kind, Some(next_rip));
            return Next::Leave(self.send_exit(cpu, vp, route, &exit, &body, pending));
        }
        if let Some(next) = self.apic_msr(cpu, vp, number, write.then_some(value), next_rip) {
            return next;
        }
        if let Some(next) = self.hv_apic_msr(cpu, vp, number, write.then_some(value), next_rip) {
            return next;
        }
        if let Some(next) = self.synthetic_msr(cpu, vp, number, write.then_some(value), next_rip) {
            return next;
        }
        let Some(record) = self.vps.get_mut(vp) else {
            return Next::GONE;
        };
        let save = &record.vmcb.save;
        let read = match (msr::fast_path(number), write) {
            (msr::FastPath::Efer, false) => Some(msr::efer_read(save.efer)),
            (msr::FastPath::Efer, true) => match msr::efer_write(
                save.efer,
                save.cr0,
                value,
                super::guest_cpu::guest_cpu().efer_allowed,
            ) {
                Some(efer) => {
                    *record.vmcb.efer_mut() = efer;
                    None
                }
                None => return self.fault(vp),
            },
            (msr::FastPath::Pat, false) => Some(save.g_pat),
            (msr::FastPath::Pat, true) if msr::valid_pat(value) => {
                *record.vmcb.g_pat_mut() = value;
                None
            }
            (msr::FastPath::Tsc, false) => {
                // SAFETY: RDTSC has no side effects.
                let host = unsafe { core::arch::x86_64::_rdtsc() };
                Some(host.wrapping_add(record.vmcb.control.tsc_offset))
            }
            (msr::FastPath::ApicBase, false) => Some(msr::apic_base(record.index)),
            (msr::FastPath::NorthbridgeConfig, false) => Some(0),
            (msr::FastPath::NorthbridgeConfig, true) => None,
            (msr::FastPath::TscAux, false) => Some(u64::from(record.tsc_aux)),
            (msr::FastPath::TscAux, true) => match msr::tsc_aux_write(value) {
                Some(aux) => {
                    record.tsc_aux = aux;
                    super::guest_state::load_tsc_aux(cpu, aux);
                    None
                }
                None => return self.fault(vp),
            },
            (msr::FastPath::Tsc, true) => {
                // SAFETY: as above.
                let host = unsafe { core::arch::x86_64::_rdtsc() };
                *record.vmcb.tsc_offset_mut() = value.wrapping_sub(host);
                let partition = record.partition;
                self.guest_tsc_written(partition);
                None
            }
            _ => return self.fault(vp),
        };
        let Some(record) = self.vps.get_mut(vp) else {
            return Next::GONE;
        };
        if let Some(read) = read {
            *record.vmcb.rax_mut() = read & 0xFFFF_FFFF;
            record.gprs.rdx = read >> 32;
        }
        *record.vmcb.rip_mut() = next_rip;
        Next::Resume
    }

    /// RDTSCP: the guest's TSC and its own TSC_AUX, never the host's.
    fn exit_rdtscp(&mut self, cpu: usize, vp: VpId) -> Next {
        let next_rip = match self.next_rip(cpu, vp) {
            Ok(next_rip) => next_rip,
            Err(next) => return next,
        };
        let Some(record) = self.vps.get_mut(vp) else {
            return Next::GONE;
        };
        let tsc = crate::arch::tsc::read().wrapping_add(record.vmcb.control.tsc_offset);
        let [rax, rdx, rcx] = msr::rdtscp(tsc, record.tsc_aux);
        *record.vmcb.rax_mut() = rax;
        record.gprs.rdx = rdx;
        record.gprs.rcx = rcx;
        *record.vmcb.rip_mut() = next_rip;
        Next::Resume
    }

    pub(super) fn fault(&mut self, vp: VpId) -> Next {
        if let Some(record) = self.vps.get_mut(vp) {
            *record.vmcb.event_inj_mut() = general_protection();
        }
        Next::Resume
    }

    fn exit_hlt(&mut self, cpu: usize, vp: VpId) -> Next {
        // Posted writes first: a VP that halts may wait on what they do
        // (the HLT runs again once they are handed over).
        if self.vps.get(vp).is_some_and(|r| r.routes_post)
            && let Some(keep) = self.flush_posted(cpu, vp)
        {
            return Next::Leave(keep);
        }
        let next_rip = match self.next_rip(cpu, vp) {
            Ok(next_rip) => next_rip,
            Err(next) => return next,
        };
        if let Some(route) = self.route_of(vp, intercept::HLT, 0) {
            let Some(record) = self.vps.get(vp) else {
                return Next::GONE;
            };
            let length = instruction_length(record.vmcb.save.rip, next_rip);
            let header = exit_message::header(&record.vmcb, record.index, length, Access::EXECUTE);
            let exit = Exit::Halt {
                rflags: record.vmcb.save.rflags,
            };
            let pending = Pending::routed(&exit, PendingKind::Other, Some(next_rip));
            return Next::Leave(self.send_exit(cpu, vp, route, &exit, &header, pending));
        }
        // Its synthetic timers first: what expired is posted, and taken
        // with the other posts below.
        self.poll_synic_timers(vp);
        let Some(record) = self.vps.get_mut(vp) else {
            return Next::GONE;
        };
        let interrupts_on = record.vmcb.save.rflags & (1 << 9) != 0;
        *record.vmcb.rip_mut() = next_rip;
        // What other VPs posted, in the same hold of the lock as the
        // decision to halt (`lapic_ipi`: no lost wake-up). INIT or a SIPI
        // replaced the registers: the HLT is over.
        if record.take_posted() {
            return match record.state {
                super::VpState::WaitForSipi => Next::Leave(Keep::Blocked),
                _ => Next::Resume,
            };
        }
        // The 8259 first: a LINT0 programmed fixed takes its edge into
        // the IRR, which `apic_wakes` then sees.
        let pic = record.pic_requested() && interrupts_on;
        let wakeable =
            pic || record.pending_interrupt.is_some() || record.pending_nmi || record.apic_wakes();
        if wakeable {
            return Next::Resume;
        }
        if interrupts_on {
            self.halt_until_deadline(vp);
            return Next::Leave(Keep::Blocked);
        }
        // With interrupts off only an NMI, INIT or SIPI ends the HLT (APM
        // vol. 3, HLT): in a partition of several VPs with APICs another
        // VP can still send one (Linux parks the CPUs it stops so, before
        // it powers off), so the VP sleeps until one is posted to it
        // (`lapic_ipi::post_to`). Alone, nothing can: its handler is told.
        if record.apic.is_some() && !self.solo(vp) {
            if let Some(record) = self.vps.get_mut(vp) {
                record.state = super::VpState::Parked;
            }
            return Next::Leave(Keep::Blocked);
        }
        log::info!("{}: HLT with interrupts disabled", self.vp_name(vp));
        self.lifecycle(cpu, vp, |vp| Exit::Halt {
            rflags: vp.vmcb.save.rflags,
        })
    }
}
