//! What the partition's lifecycle handler hears: the exits that stop a
//! VP (`tessera_abi::vm`, "Exits handled by the kernel"), with the VP's
//! registers, and the registers logged.
use super::exits::Next;
use super::forward::Pending;
use super::{Route, Vp};
use crate::sched::Keep;
use crate::state::Kernel;
use tessera_abi::vm::intercept;
use tessera_capability::VpId;
use tessera_exit_protocol::Exit;
use tessera_svm::ExitCode;
use tessera_vcpu::exit_message;
use tlfs::intercept::HvInterceptAccessType as Access;

/// The lifecycle message of an exit that ended the VP (`exit_code`:
/// the SVM exit code, or `u64::MAX` for an invalid state).
pub fn unrecoverable(exit_code: u64) -> impl FnOnce(&Vp) -> Exit {
    move |vp| Exit::UnrecoverableException {
        rip: vp.vmcb.save.rip,
        exit_code,
        rsp: vp.vmcb.save.rsp,
    }
}

/// The lifecycle message of an exit the kernel does not handle.
pub fn unsupported(code: ExitCode) -> impl FnOnce(&Vp) -> Exit {
    move |vp| Exit::Unsupported {
        exit_code: code.0,
        rip: vp.vmcb.save.rip,
    }
}

impl Kernel {
    /// Sends a lifecycle message (the VP stops once its handler has
    /// answered, whatever the answer).
    pub fn lifecycle(&mut self, cpu: usize, vp: VpId, exit: impl FnOnce(&Vp) -> Exit) -> Next {
        let Some(route) = self.route_of(vp, intercept::LIFECYCLE, 0) else {
            self.stop_vp(vp);
            return Next::Leave(Keep::Blocked);
        };
        let Some(record) = self.vps.get_mut(vp) else {
            return Next::GONE;
        };
        record.stop_requested = true;
        let exit = exit(record);
        let header = exit_message::header(&record.vmcb, record.index, 0, Access::EXECUTE);
        let route = Route {
            state: tessera_abi::vm::state::ALL,
            ..route
        };
        let pending = Pending::lifecycle(&exit);
        Next::Leave(self.send_exit(cpu, vp, route, &exit, &header, pending))
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

    /// Tells the lifecycle handler of an event the guest asked for (no
    /// intercept message, no registers); the VP stops once it has answered.
    pub(super) fn report_to_lifecycle(&mut self, cpu: usize, vp: VpId, exit: Exit) -> Next {
        let Some(partition) = self.vps.get(vp).map(|record| record.partition) else {
            return Next::GONE;
        };
        let route = self
            .partitions
            .get(partition)
            .and_then(|p| p.route(intercept::LIFECYCLE, 0).copied());
        let Some(route) = route else {
            self.stop_vp(vp);
            return Next::Leave(Keep::Blocked);
        };
        let Some(record) = self.vps.get_mut(vp) else {
            return Next::GONE;
        };
        record.stop_requested = true;
        record.exit_message.restart(&exit, record.index);
        Next::Leave(self.forward_exit(cpu, vp, route, Pending::lifecycle(&exit)))
    }
}
