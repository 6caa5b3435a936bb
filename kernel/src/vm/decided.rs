//! The locked path's side of the exits both paths decide
//! (`tessera_vcpu::decide`): CPUID, port I/O, INVD and WBINVD. The
//! decision comes from the partition's route table; this carries it out:
//! an answer applied to the VP, a message to the route's handler, or the
//! lifecycle handler told. `fast.rs` takes the same decision without the
//! lock, from the routes it publishes, and applies the answers alike.
use super::exits::{Next, instruction_length};
use super::forward::{Pending, PendingKind};
use super::{Route, Vp};
use crate::state::Kernel;
use tessera_capability::VpId;
use tessera_exit_protocol::Exit;
use tessera_vcpu::decide::{self, Decision, ExitState};
use tessera_vcpu::exit_message;
use tessera_vcpu::route_ranges::RouteTable;
use tlfs::intercept::HvInterceptAccessType as Access;

/// What the decision reads of a VP's exit.
pub fn exit_state(vp: &Vp) -> ExitState<'_> {
    ExitState {
        code: vp.vmcb.control.exit_code,
        vmcb: &vp.vmcb,
        gprs: &vp.gprs,
    }
}

impl Kernel {
    /// Decides VP `vp`'s exit with its partition's routes, and carries
    /// the decision out.
    pub(super) fn exit_decided(&mut self, cpu: usize, vp: VpId) -> Next {
        let Some(record) = self.vps.get(vp) else {
            return Next::GONE;
        };
        let Some(partition) = self.partitions.get(record.partition) else {
            return Next::GONE;
        };
        let fast = Some(&*partition.fast);
        let index = record.index;
        // The partition's answer, with this VP's local APIC bits.
        let decision = decide::decide(
            &exit_state(record),
            &RouteTable(&partition.routes),
            |leaf, subleaf| {
                let answer = super::guest_cpu::partition_cpuid(fast, leaf, subleaf, index);
                record.apic_cpuid(leaf, answer)
            },
        );
        let decision = match decision {
            Decision::Answer(answer) => Decision::Answer(answer),
            Decision::Forward { route, exit } => Decision::Forward {
                route: *route,
                exit,
            },
            Decision::Stop(exit) => Decision::Stop(exit),
            Decision::Defer => Decision::Defer,
        };
        self.carry_out(cpu, vp, decision)
    }

    fn carry_out(&mut self, cpu: usize, vp: VpId, decision: Decision<Route>) -> Next {
        match decision {
            Decision::Answer(answer) => {
                let next_rip = if answer.measured() {
                    match self.next_rip(cpu, vp) {
                        Ok(next_rip) => next_rip,
                        Err(next) => return next,
                    }
                } else {
                    0
                };
                let Some(record) = self.vps.get_mut(vp) else {
                    return Next::GONE;
                };
                answer.apply(&mut record.vmcb, &mut record.gprs, next_rip);
                Next::Resume
            }
            Decision::Forward { route, exit } => self.forward_decided(cpu, vp, route, exit),
            Decision::Stop(exit) => {
                if let Some(record) = self.vps.get(vp) {
                    guest_log!(
                        self,
                        record.partition,
                        log::Level::Warn,
                        "{}: {exit:?} is not supported",
                        self.vp_name(vp)
                    );
                }
                self.lifecycle(cpu, vp, |_| exit)
            }
            // The route table always tells.
            Decision::Defer => {
                let code = self.vps.get(vp).map(|record| record.vmcb.control.exit_code);
                let code = code.unwrap_or(tessera_svm::ExitCode(u64::MAX));
                self.lifecycle(cpu, vp, super::lifecycle_route::unsupported(code))
            }
        }
    }

    /// Sends a decided exit to its route, with its TLFS intercept message.
    fn forward_decided(&mut self, cpu: usize, vp: VpId, route: Route, exit: Exit) -> Next {
        match exit {
            Exit::Cpuid { default, .. } => {
                let next_rip = match self.next_rip(cpu, vp) {
                    Ok(next_rip) => next_rip,
                    Err(next) => return next,
                };
                let Some(record) = self.vps.get(vp) else {
                    return Next::GONE;
                };
                let length = instruction_length(record.vmcb.save.rip, next_rip);
                let header =
                    exit_message::header(&record.vmcb, record.index, length, Access::EXECUTE);
                let rax = record.vmcb.save.rax;
                let body = exit_message::cpuid(header, &record.gprs, rax, default);
                let pending = Pending::routed(&exit, PendingKind::Cpuid, Some(next_rip));
                Next::Leave(self.send_exit(cpu, vp, route, &exit, &body, pending))
            }
            Exit::IoPort {
                port, size, write, ..
            } => {
                let Some(record) = self.vps.get(vp) else {
                    return Next::GONE;
                };
                let next_rip = record.vmcb.control.exit_info2;
                let access = if write { Access::WRITE } else { Access::READ };
                let length = instruction_length(record.vmcb.save.rip, next_rip);
                let header = exit_message::header(&record.vmcb, record.index, length, access);
                let rax = record.vmcb.save.rax;
                let body = exit_message::io_port(header, port, size, &record.gprs, rax);
                let kind = if write {
                    PendingKind::IoWrite
                } else {
                    PendingKind::IoRead { size }
                };
                let pending = Pending::routed(&exit, kind, Some(next_rip));
                Next::Leave(self.send_exit(cpu, vp, route, &exit, &body, pending))
            }
            // `decide` forwards nothing else.
            other => self.lifecycle(cpu, vp, |_| other),
        }
    }
}
