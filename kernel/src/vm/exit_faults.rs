//! Exits that are faults: an access the nested table refused (memory-
//! mapped I/O, or a GPA nothing maps) and an intercepted exception, each
//! to its route, back to the guest, or to the lifecycle handler.
use super::exits::Next;
use super::forward::{Pending, PendingKind};
use crate::sched::Keep;
use crate::state::Kernel;
use tessera_abi::vm::intercept;
use tessera_capability::VpId;
use tessera_exit_protocol::{Exit, MemoryAccess};
use tessera_svm::npf::NpfErrorCode;
use tessera_svm::{ExceptionVector, ExitCode};
use tessera_vcpu::exit_message;
use tessera_vcpu::reflect::Requeue;
use tlfs::intercept::HvInterceptAccessType as Access;

impl Kernel {
    pub(super) fn exit_npf(&mut self, cpu: usize, vp: VpId) -> Next {
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
            MemoryAccess::Execute
        } else if error.write() {
            MemoryAccess::Write
        } else {
            MemoryAccess::Read
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
        let access_type = Access::from_bits(access.word() as u8);
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
        let exit = Exit::Memory {
            gpa,
            access,
            rip,
            unmapped: !error.present(),
            size: decoded.map_or(0, |d| d.size),
            value: written,
        };
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
            ["read", "write", "execute"][access.word() as usize]
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
            message_type: exit.message_type(),
            lifecycle,
        };
        Next::Leave(self.send_exit(cpu, vp, route, &exit, &body, pending))
    }

    pub(super) fn exit_exception(&mut self, cpu: usize, vp: VpId) -> Next {
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
        let error_code = vector
            .pushes_error_code()
            .then_some(record.vmcb.control.exit_info1 as u32);
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
            let code = record.vmcb.control.exit_code;
            return self.lifecycle(cpu, vp, super::lifecycle_route::unsupported(code));
        };
        let header = exit_message::header(&record.vmcb, record.index, 0, Access::EXECUTE);
        let exit = Exit::Exception {
            vector: vector.get(),
            error_code,
            fault_address: record.vmcb.control.exit_info2,
        };
        let pending = Pending::routed(&exit, PendingKind::Other, None);
        Next::Leave(self.send_exit(cpu, vp, route, &exit, &header, pending))
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
                self.lifecycle(cpu, vp, super::lifecycle_route::unrecoverable(code))
            }
            Action::Fatal => crate::exit::fatal(format_args!(
                "cpu {cpu}: machine check with the processor context corrupt"
            )),
        }
    }
}
