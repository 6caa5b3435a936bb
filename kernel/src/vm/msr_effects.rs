//! What a synthetic MSR write asks the kernel to do (`Effect`), done:
//! overlay pages placed or removed, a reset or crash reported to the
//! partition's lifecycle handler.
use super::exits::Next;
use super::parameter_memory::ParameterMemory;
use crate::state::Kernel;
use tessera_capability::VpId;
use tessera_exit_protocol::Exit;
use tessera_gpa_space::OverlayId;
use tessera_hv1::hypercall::GuestMemory;
use tessera_hv1::synthetic_msr::{self, Effect};
use tessera_npt::GuestRights;

impl Kernel {
    pub(super) fn apply_msr_effect(&mut self, cpu: usize, vp: VpId, effect: Effect) -> Next {
        let Some(partition) = self.vps.get(vp).map(|record| record.partition) else {
            return Next::GONE;
        };
        match effect {
            Effect::None | Effect::InvariantTscExposed => Next::Resume,
            Effect::ReferenceTscPage { enable, .. } => {
                self.apply_reference_tsc_page(cpu, vp, partition, enable);
                Next::Resume
            }
            // A move is a placement of the same identity elsewhere.
            Effect::HypercallPage { enable, .. } => {
                let id = OverlayId::HypercallPage;
                match enable {
                    Some(gpa) => {
                        let page = synthetic_msr::hypercall_page();
                        let rights = GuestRights::READ_EXECUTE;
                        if self
                            .place_overlay(partition, id, gpa, &page, rights, cpu)
                            .is_none()
                        {
                            guest_log!(
                                self,
                                partition,
                                log::Level::Warn,
                                "{}: no memory for the hypercall page",
                                self.vp_name(vp)
                            );
                        }
                    }
                    None => self.remove_overlay(partition, id, cpu),
                }
                Next::Resume
            }
            Effect::AssistPage { enable, .. } => {
                let Some(index) = self.vps.get(vp).map(|record| record.index) else {
                    return Next::GONE;
                };
                let id = OverlayId::VpAssistPage(index);
                match enable {
                    Some(gpa) => {
                        let rights = GuestRights::READ_WRITE;
                        if self
                            .place_overlay(partition, id, gpa, &[], rights, cpu)
                            .is_none()
                        {
                            guest_log!(
                                self,
                                partition,
                                log::Level::Warn,
                                "{}: no memory for the VP assist page",
                                self.vp_name(vp)
                            );
                        }
                    }
                    None => self.remove_overlay(partition, id, cpu),
                }
                Next::Resume
            }
            Effect::GuestOsIdChanged {
                hypercall_page_removed,
                value,
                ..
            } => {
                guest_log!(
                    self,
                    partition,
                    log::Level::Info,
                    "{}: guest OS ID {value:#x}",
                    self.vp_name(vp)
                );
                if hypercall_page_removed.is_some() {
                    self.remove_overlay(partition, OverlayId::HypercallPage, cpu);
                }
                Next::Resume
            }
            Effect::Reset => {
                log::info!(
                    "{}: the guest asked for a reset (HV_X64_MSR_RESET)",
                    self.vp_name(vp)
                );
                self.report_to_lifecycle(cpu, vp, Exit::ResetRequest)
            }
            Effect::CrashNotify {
                parameters,
                message,
                ..
            } => {
                let name = self.vp_name(vp);
                log::error!(
                    "{name}: guest crash: P0 {:#x} P1 {:#x} P2 {:#x} P3 {:#x} P4 {:#x}",
                    parameters[0],
                    parameters[1],
                    parameters[2],
                    parameters[3],
                    parameters[4]
                );
                if let Some(message) = message
                    && let Some(target) = self.partitions.get(partition)
                {
                    let mut text = [0u8; 512];
                    let length = (message.len as usize).min(text.len());
                    let memory = ParameterMemory {
                        npt: target.space.npt(),
                    };
                    match memory.read(message.gpa, &mut text[..length]) {
                        Ok(()) => log::error!(
                            "{name}: guest crash message: {}",
                            core::str::from_utf8(&text[..length])
                                .unwrap_or("(not UTF-8)")
                                .trim_end_matches('\0')
                        ),
                        Err(error) => {
                            log::error!("{name}: the crash message is unreadable ({error:?})")
                        }
                    }
                }
                let [p0, p1, p2, p3, _] = parameters;
                let parameters = [p0, p1, p2, p3];
                self.report_to_lifecycle(cpu, vp, Exit::GuestCrash { parameters })
            }
        }
    }
}
