//! Port I/O exits: to the route that takes the port, or the empty bus
//! (`fast.rs` answers the empty bus without the lock; this is the same
//! answer under it).
use super::exits::Next;
use super::forward::{Pending, PendingKind};
use super::lifecycle_route::unsupported;
use crate::state::Kernel;
use tessera_abi::vm::intercept;
use tessera_capability::VpId;
use tessera_exit_protocol::Exit;
use tessera_svm::ExitCode;
use tessera_svm::ioio::IoioExitInfo;
use tessera_vcpu::exit_message;
use tlfs::intercept::HvInterceptAccessType as Access;

impl Kernel {
    pub(super) fn exit_io(&mut self, cpu: usize, vp: VpId) -> Next {
        let Some(record) = self.vps.get(vp) else {
            return Next::GONE;
        };
        let info = IoioExitInfo::from_bits(record.vmcb.control.exit_info1);
        let next_rip = record.vmcb.control.exit_info2;
        let Ok(access) = info.decode() else {
            return self.lifecycle(cpu, vp, unsupported(ExitCode::IOIO));
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
            return self.lifecycle(cpu, vp, unsupported(ExitCode::IOIO));
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
            let exit = Exit::IoPort {
                port: access.port,
                size,
                write: !access.is_in,
                value: if access.is_in { 0 } else { (rax & mask) as u32 },
            };
            let kind = if access.is_in {
                PendingKind::IoRead { size }
            } else {
                PendingKind::IoWrite
            };
            let pending = Pending::routed(&exit, kind, Some(next_rip));
            return Next::Leave(self.send_exit(cpu, vp, route, &exit, &body, pending));
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
}
