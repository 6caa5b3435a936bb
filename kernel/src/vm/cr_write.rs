//! MOV to CR4, intercepted so that a guest sets only the bits its CPUID
//! offers (`tessera_vcpu::control_registers` decides).
use super::exits::{Next, general_protection};
use crate::state::Kernel;
use tessera_capability::VpId;
use tessera_vcpu::control_registers::{self, Cr4Write};
use tessera_vcpu::gprs;
use tessera_vcpu::instruction::CodeState;

impl Kernel {
    /// A MOV to CR4 of VP `vp`: the register from the CPU's decode assist
    /// or from the bytes at CS:RIP, the value checked against the guest's
    /// CPUID; #GP where the architecture says so.
    pub fn exit_cr4_write(&mut self, cpu: usize, vp: VpId) -> Next {
        let Some(record) = self.vps.get(vp) else {
            return Next::GONE;
        };
        let features = crate::svm::features();
        let control = &record.vmcb.control;
        let code = CodeState::of(&record.vmcb.save);
        let assisted = features.decode_assists && control.exit_info1 & (1 << 63) != 0;
        let fetched = if assisted {
            Default::default()
        } else {
            self.instruction_bytes(vp)
        };
        let mov = control_registers::mov_to_cr(
            4,
            features.decode_assists,
            control.exit_info1,
            fetched.as_slice(),
            code.bits == 64,
        );
        let saved = features.nrip_save.then_some(control.next_rip);
        let next_rip = match (mov, saved) {
            (Some(_), Some(next)) => next,
            (Some(mov), None) => match mov.length {
                Some(length) => code.advanced(u64::from(length)),
                None => return self.instruction_missing(cpu, vp),
            },
            (None, _) => return self.instruction_missing(cpu, vp),
        };
        let mov = mov.expect("matched above");
        let Some(record) = self.vps.get_mut(vp) else {
            return Next::GONE;
        };
        record.skip_failed_at = None;
        let save = &record.vmcb.save;
        let mut value = gprs::read(&record.gprs, save.rax, save.rsp, mov.source);
        if code.bits != 64 {
            // A 32-bit register: CR4's upper half is written as zero.
            value &= 0xFFFF_FFFF;
        }
        let cpu_rules = super::guest_cpu::guest_cpu();
        match control_registers::cr4_write(save.cr4, value, save.efer, save.cr3, cpu_rules) {
            Cr4Write::Fault => *record.vmcb.event_inj_mut() = general_protection(),
            Cr4Write::Accept { cr4, flush } => {
                *record.vmcb.cr4_mut() = cr4;
                *record.vmcb.rip_mut() = next_rip;
                if flush {
                    // The next entry flushes this VP's translations.
                    record.seen_tlb_generation = 0;
                }
            }
        }
        Next::Resume
    }
}
