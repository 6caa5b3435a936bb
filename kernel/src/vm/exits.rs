//! What each #VMEXIT means: a kernel fast path, a route to a component, or
//! the lifecycle handler (`tessera_abi::vm`, "Exits handled by the kernel").
use super::Route;
use super::forward::{Pending, PendingKind};
use crate::sched::Keep;
use crate::state::Kernel;
use tessera_abi::vm::{TESSERA_UNSUPPORTED, intercept};
use tessera_capability::VpId;
use tessera_svm::ioio::IoioExitInfo;
use tessera_svm::npf::NpfErrorCode;
use tessera_svm::{Event, EventInjection, ExceptionVector, ExitCode};
use tessera_vcpu::exit_message::{self, bytes};
use tessera_vcpu::msr;
use tessera_vcpu::reflect::Requeue;
use tlfs::intercept::HvInterceptAccessType as Access;
use tlfs::message::HvMessageType;

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
fn instruction_length(rip: u64, next_rip: u64) -> u8 {
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
                let stop_requested = self.vps.get(vp).is_some_and(|r| r.stop_requested);
                // The interrupt may have been a typed key for a reader.
                crate::console_input::deliver(self);
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
            ExitCode::CPUID => self.exit_cpuid(cpu, vp),
            ExitCode::MSR => self.exit_msr(cpu, vp),
            ExitCode::IOIO => self.exit_io(cpu, vp),
            ExitCode::HLT => self.exit_hlt(cpu, vp),
            ExitCode::NPF => self.exit_npf(cpu, vp),
            ExitCode::SHUTDOWN => {
                self.report_registers(vp, "triple fault");
                self.lifecycle(cpu, vp, HvMessageType::UNRECOVERABLE_EXCEPTION.0, 0x7F)
            }
            // INVD would drop the host's dirty cache lines, WBINVD would
            // flush every partition's: guest memory is write-back and
            // coherent, so skipping both is what the guest can observe of
            // either (no device of a partition writes memory behind the
            // caches).
            ExitCode::INVD | ExitCode::WBINVD => self.skip_instruction(cpu, vp),
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
                self.lifecycle(cpu, vp, HvMessageType::UNRECOVERABLE_EXCEPTION.0, u64::MAX)
            }
            other => {
                log::warn!("{}: unexpected exit {other:?}", self.vp_name(vp));
                self.lifecycle(cpu, vp, TESSERA_UNSUPPORTED as u32, other.0)
            }
        }
    }

    fn route_of(&self, vp: VpId, kind: u64, value: u64) -> Option<Route> {
        let partition = self.vps.get(vp)?.partition;
        self.partitions.get(partition)?.route(kind, value).copied()
    }

    fn exit_cpuid(&mut self, cpu: usize, vp: VpId) -> Next {
        let Some(record) = self.vps.get(vp) else {
            return Next::GONE;
        };
        let leaf = record.vmcb.save.rax as u32;
        let subleaf = record.gprs.rcx as u32;
        let fast = self.partitions.get(record.partition).map(|p| &*p.fast);
        let answer = super::guest_cpu::partition_cpuid(fast, leaf, subleaf, record.index);
        let answer = record.apic_cpuid(leaf, answer);
        let next_rip = match self.next_rip(cpu, vp) {
            Ok(next_rip) => next_rip,
            Err(next) => return next,
        };
        if let Some(route) = self.route_of(vp, intercept::CPUID, u64::from(leaf)) {
            let Some(record) = self.vps.get(vp) else {
                return Next::GONE;
            };
            let length = instruction_length(record.vmcb.save.rip, next_rip);
            let header = exit_message::header(&record.vmcb, record.index, length, Access::EXECUTE);
            let body = exit_message::cpuid(header, &record.gprs, record.vmcb.save.rax, answer);
            let [eax, ebx, ecx, edx] = answer.map(u64::from);
            let pending = Pending {
                kind: PendingKind::Cpuid,
                next_rip: Some(next_rip),
                message_type: HvMessageType::X64_CPUID_INTERCEPT.0,
                lifecycle: false,
            };
            return Next::Leave(self.send_exit(
                cpu,
                vp,
                route,
                [
                    u64::from(leaf),
                    u64::from(subleaf),
                    eax | ebx << 32,
                    ecx | edx << 32,
                ],
                bytes(&body),
                pending,
            ));
        }
        let [eax, ebx, ecx, edx] = answer.map(u64::from);
        let Some(record) = self.vps.get_mut(vp) else {
            return Next::GONE;
        };
        *record.vmcb.rax_mut() = eax;
        record.gprs.rbx = ebx;
        record.gprs.rcx = ecx;
        record.gprs.rdx = edx;
        *record.vmcb.rip_mut() = next_rip;
        Next::Resume
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
            let pending = Pending {
                kind: if write {
                    PendingKind::MsrWrite
                } else {
                    PendingKind::MsrRead
                },
                next_rip: Some(next_rip),
                message_type: HvMessageType::MSR_INTERCEPT.0,
                lifecycle: false,
            };
            return Next::Leave(self.send_exit(
                cpu,
                vp,
                route,
                [
                    u64::from(number),
                    u64::from(write),
                    if write { value } else { 0 },
                    0,
                ],
                bytes(&body),
                pending,
            ));
        }
        if let Some(next) = self.apic_msr(vp, number, write.then_some(value), next_rip) {
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

    /// Completes an exit by moving past its instruction (or, if the bytes
    /// there are no longer it, by letting the guest run them again).
    fn skip_instruction(&mut self, cpu: usize, vp: VpId) -> Next {
        match self.next_rip(cpu, vp) {
            Ok(next) => {
                if let Some(record) = self.vps.get_mut(vp) {
                    *record.vmcb.rip_mut() = next;
                }
                Next::Resume
            }
            Err(next) => next,
        }
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

    fn fault(&mut self, vp: VpId) -> Next {
        if let Some(record) = self.vps.get_mut(vp) {
            *record.vmcb.event_inj_mut() = general_protection();
        }
        Next::Resume
    }

    fn exit_io(&mut self, cpu: usize, vp: VpId) -> Next {
        let Some(record) = self.vps.get(vp) else {
            return Next::GONE;
        };
        let info = IoioExitInfo::from_bits(record.vmcb.control.exit_info1);
        let next_rip = record.vmcb.control.exit_info2;
        let Ok(access) = info.decode() else {
            return self.lifecycle(cpu, vp, TESSERA_UNSUPPORTED as u32, ExitCode::IOIO.0);
        };
        if access.string {
            guest_log!(
                self,
                record.partition,
                log::Level::Warn,
                "{}: string port I/O on port {:#x} is not supported",
                self.vp_name(vp),
                access.port
            );
            return self.lifecycle(cpu, vp, TESSERA_UNSUPPORTED as u32, ExitCode::IOIO.0);
        }
        let size = access.size.bytes() as u8;
        let mask = match size {
            1 => 0xFF,
            2 => 0xFFFF,
            _ => 0xFFFF_FFFF,
        };
        if let Some(route) = self.route_of(vp, intercept::IO_PORT, u64::from(access.port)) {
            let Some(record) = self.vps.get(vp) else {
                return Next::GONE;
            };
            let access_type = if access.is_in {
                Access::READ
            } else {
                Access::WRITE
            };
            let length = next_rip.wrapping_sub(record.vmcb.save.rip) as u8;
            let header = exit_message::header(&record.vmcb, record.index, length, access_type);
            let rax = record.vmcb.save.rax;
            let body = exit_message::io_port(header, access.port, size, &record.gprs, rax);
            let pending = Pending {
                kind: if access.is_in {
                    PendingKind::IoRead { size }
                } else {
                    PendingKind::IoWrite
                },
                next_rip: Some(next_rip),
                message_type: HvMessageType::X64_IO_PORT_INTERCEPT.0,
                lifecycle: false,
            };
            return Next::Leave(self.send_exit(
                cpu,
                vp,
                route,
                [
                    u64::from(access.port),
                    u64::from(size),
                    u64::from(!access.is_in),
                    if access.is_in { 0 } else { rax & mask },
                ],
                bytes(&body),
                pending,
            ));
        }
        // No device there: reads float high, writes go nowhere.
        let Some(record) = self.vps.get_mut(vp) else {
            return Next::GONE;
        };
        let vmcb = &mut record.vmcb;
        if access.is_in {
            let rax = vmcb.rax_mut();
            *rax = if size == 4 { mask } else { *rax | mask };
        }
        *vmcb.rip_mut() = next_rip;
        Next::Resume
    }

    fn exit_hlt(&mut self, cpu: usize, vp: VpId) -> Next {
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
            let pending = Pending {
                kind: PendingKind::Other,
                next_rip: Some(next_rip),
                message_type: HvMessageType::X64_HALT.0,
                lifecycle: false,
            };
            return Next::Leave(self.send_exit(
                cpu,
                vp,
                route,
                [record.vmcb.save.rflags, 0, 0, 0],
                bytes(&header),
                pending,
            ));
        }
        let Some(record) = self.vps.get_mut(vp) else {
            return Next::GONE;
        };
        let interrupts_on = record.vmcb.save.rflags & (1 << 9) != 0;
        let wakeable =
            record.pending_interrupt.is_some() || record.pending_nmi || record.apic_wakes();
        *record.vmcb.rip_mut() = next_rip;
        if wakeable {
            return Next::Resume;
        }
        if interrupts_on {
            self.halt_until_deadline(vp);
            return Next::Leave(Keep::Blocked);
        }
        log::info!("{}: HLT with interrupts disabled", self.vp_name(vp));
        self.lifecycle(cpu, vp, HvMessageType::X64_HALT.0, 0)
    }

    fn exit_npf(&mut self, cpu: usize, vp: VpId) -> Next {
        let Some(record) = self.vps.get(vp) else {
            return Next::GONE;
        };
        let gpa = record.vmcb.control.exit_info2;
        if let Some(next) = self.apic_page_access(cpu, vp, gpa) {
            return next;
        }
        let Some(record) = self.vps.get(vp) else {
            return Next::GONE;
        };
        let error = NpfErrorCode::from_bits(record.vmcb.control.exit_info1);
        let access = if error.fetch() {
            2
        } else {
            u64::from(error.write())
        };
        let rip = record.vmcb.save.rip;
        let read_only_overlay = self
            .partitions
            .get(record.partition)
            .and_then(|p| p.space.overlay_at(gpa))
            .is_some_and(|overlay| !overlay.rights.write);
        if read_only_overlay && error.write() {
            return self.fault(vp);
        }
        let message_type = if error.present() {
            HvMessageType::GPA_INTERCEPT.0
        } else {
            HvMessageType::UNMAPPED_GPA.0
        };
        let access_type = Access::from_bits(access as u8);
        let (route, lifecycle) = match self.route_of(vp, intercept::MEMORY, gpa >> 12) {
            Some(route) => (Some(route), false),
            None => (self.route_of(vp, intercept::LIFECYCLE, 0), true),
        };
        // Only a device's handler can use the decoded instruction.
        let (decoded, instruction) = match (lifecycle, self.partitions.get(record.partition)) {
            (false, Some(partition)) => {
                super::mmio::decode(&record.vmcb, &record.gprs, partition.space.npt())
            }
            _ => (None, Default::default()),
        };
        let header = exit_message::header(
            &record.vmcb,
            record.index,
            decoded.map_or(0, |d| d.length),
            access_type,
        );
        let body = exit_message::memory(header, gpa, instruction.as_slice());
        let written = match decoded.map(|d| d.op) {
            Some(tessera_vcpu::mmio::Op::Store { value }) => value,
            _ => 0,
        };
        let size = decoded.map_or(0, |d| u64::from(d.size));
        let partition = record.partition;
        guest_log!(
            self,
            partition,
            log::Level::Info,
            "{}: {} GPA {gpa:#x} ({}) at rip {rip:#x}",
            self.vp_name(vp),
            if error.present() {
                "access denied to"
            } else {
                "unmapped"
            },
            ["read", "write", "execute"][access as usize]
        );
        let Some(route) = route else {
            self.stop_vp(vp);
            return Next::Leave(Keep::Blocked);
        };
        let Some(record) = self.vps.get_mut(vp) else {
            return Next::GONE;
        };
        // Retrying the access would fault again: the lifecycle handler's
        // answer ends the VP, whatever it is.
        record.stop_requested |= lifecycle;
        let pending = Pending {
            kind: match decoded {
                Some(access) => PendingKind::Mmio(access),
                None => PendingKind::Other,
            },
            next_rip: decoded.map(|d| rip.wrapping_add(u64::from(d.length))),
            message_type,
            lifecycle,
        };
        Next::Leave(self.send_exit(
            cpu,
            vp,
            route,
            [gpa, access | size << 8, rip, written],
            bytes(&body),
            pending,
        ))
    }

    fn exit_exception(&mut self, cpu: usize, vp: VpId) -> Next {
        let Some(record) = self.vps.get(vp) else {
            return Next::GONE;
        };
        let vector = record
            .vmcb
            .control
            .exit_code
            .exception_vector()
            .expect("an exception exit");
        if vector == ExceptionVector::MC {
            return self.host_machine_check(cpu, vp);
        }
        let error_code = if vector.pushes_error_code() {
            record.vmcb.control.exit_info1 & 0xFFFF_FFFF
        } else {
            u64::MAX
        };
        let route = self.route_of(vp, intercept::EXCEPTION, u64::from(vector.get()));
        if route.is_none()
            && let Some(next) = self.reflect(vp, vector)
        {
            return next;
        }
        let Some(record) = self.vps.get(vp) else {
            return Next::GONE;
        };
        let Some(route) = route else {
            return self.lifecycle(
                cpu,
                vp,
                TESSERA_UNSUPPORTED as u32,
                record.vmcb.control.exit_code.0,
            );
        };
        let header = exit_message::header(&record.vmcb, record.index, 0, Access::EXECUTE);
        let pending = Pending {
            kind: PendingKind::Other,
            next_rip: None,
            message_type: HvMessageType::EXCEPTION_INTERCEPT.0,
            lifecycle: false,
        };
        Next::Leave(self.send_exit(
            cpu,
            vp,
            route,
            [
                u64::from(vector.get()),
                error_code,
                record.vmcb.control.exit_info2,
                0,
            ],
            bytes(&header),
            pending,
        ))
    }

    /// Gives an intercepted #DB or #AC back to the guest (`tessera_vcpu::
    /// reflect`); `None` for the other vectors.
    fn reflect(&mut self, vp: VpId, vector: ExceptionVector) -> Option<Next> {
        let record = self.vps.get_mut(vp)?;
        let control = &record.vmcb.control;
        let reflection = tessera_vcpu::reflect::reflect(
            vector,
            control.exit_info1,
            control.exit_int_info,
            record.vmcb.save.dr7,
        )?;
        *record.vmcb.event_inj_mut() = reflection.inject;
        *record.vmcb.dr7_mut() = reflection.dr7;
        match reflection.requeue {
            Some(Requeue::Nmi) => record.pending_nmi = true,
            Some(Requeue::Interrupt { vector }) => {
                let event =
                    tessera_abi::vm::event::new(vector, tessera_abi::vm::event::TYPE_EXTERNAL);
                if record.pending_interrupt.replace(event).is_some() {
                    let partition = record.partition;
                    guest_log!(
                        self,
                        partition,
                        log::Level::Warn,
                        "{}: an interrupt asserted meanwhile is dropped for the one #{vector} interrupted",
                        self.vp_name(vp)
                    );
                }
            }
            None => {}
        }
        Some(Next::Resume)
    }

    /// A host machine check while the guest ran (the #MC intercept): the
    /// guest never sees it; `tessera_mca` decides whether it resumes.
    fn host_machine_check(&mut self, cpu: usize, vp: VpId) -> Next {
        use tessera_mca::{Action, Interrupted};
        match crate::arch::host_events::machine_check(Interrupted::Guest) {
            Action::Resume => {
                crate::arch::host_events::report(false);
                Next::Resume
            }
            Action::StopInterrupted => {
                log::error!("{}: a host machine check ended the guest", self.vp_name(vp));
                let code = ExitCode::EXCP_BASE.0 + u64::from(ExceptionVector::MC.get());
                self.lifecycle(cpu, vp, HvMessageType::UNRECOVERABLE_EXCEPTION.0, code)
            }
            Action::Fatal => crate::exit::fatal(format_args!(
                "cpu {cpu}: machine check with the processor context corrupt"
            )),
        }
    }

    /// Sends a lifecycle message (the VP stops once its handler has
    /// answered, whatever the answer).
    pub fn lifecycle(&mut self, cpu: usize, vp: VpId, message_type: u32, detail: u64) -> Next {
        let Some(route) = self.route_of(vp, intercept::LIFECYCLE, 0) else {
            self.stop_vp(vp);
            return Next::Leave(Keep::Blocked);
        };
        let Some(record) = self.vps.get_mut(vp) else {
            return Next::GONE;
        };
        record.stop_requested = true;
        let save = &record.vmcb.save;
        let header = exit_message::header(&record.vmcb, record.index, 0, Access::EXECUTE);
        let quick = match message_type {
            t if t == TESSERA_UNSUPPORTED as u32 => [detail, save.rip, 0, 0],
            t if t == HvMessageType::X64_HALT.0 => [save.rflags, 0, 0, 0],
            _ => [save.rip, detail, save.rsp, 0],
        };
        let pending = Pending {
            kind: PendingKind::Other,
            next_rip: None,
            message_type,
            lifecycle: true,
        };
        Next::Leave(self.send_exit(
            cpu,
            vp,
            Route {
                state: tessera_abi::vm::state::ALL,
                ..route
            },
            quick,
            bytes(&header),
            pending,
        ))
    }

    /// Logs the VP's registers (triple faults, invalid states).
    pub fn report_registers(&self, vp: VpId, what: &str) {
        let Some(record) = self.vps.get(vp) else {
            return;
        };
        let (save, g) = (&record.vmcb.save, &record.gprs);
        let name = self.vp_name(vp);
        log::error!("{name}: {what}");
        log::error!(
            "{name}:   rip {:#018x} rsp {:#018x} rflags {:#x} cs {:#06x} cpl {}",
            save.rip,
            save.rsp,
            save.rflags,
            save.cs.selector,
            save.cpl
        );
        log::error!(
            "{name}:   cr0 {:#x} cr2 {:#x} cr3 {:#x} cr4 {:#x} efer {:#x}",
            save.cr0,
            save.cr2,
            save.cr3,
            save.cr4,
            save.efer
        );
        log::error!(
            "{name}:   rax {:#x} rbx {:#x} rcx {:#x} rdx {:#x} rsi {:#x} rdi {:#x} rbp {:#x}",
            save.rax,
            g.rbx,
            g.rcx,
            g.rdx,
            g.rsi,
            g.rdi,
            g.rbp
        );
        log::error!(
            "{name}:   r8 {:#x} r9 {:#x} r10 {:#x} r11 {:#x} r12 {:#x} r13 {:#x} r14 {:#x} r15 {:#x}",
            g.r8,
            g.r9,
            g.r10,
            g.r11,
            g.r12,
            g.r13,
            g.r14,
            g.r15
        );
        log::error!(
            "{name}:   idtr {:#x}/{:#x} gdtr {:#x}/{:#x} exit info {:#x} {:#x}",
            save.idtr.base,
            save.idtr.limit,
            save.gdtr.base,
            save.gdtr.limit,
            record.vmcb.control.exit_info1,
            record.vmcb.control.exit_info2
        );
    }
}
