//! MOV to CR4, intercepted so that a guest sets only the bits its CPUID
//! offers (`tessera_vcpu::control_registers` decides).
use super::exits::{Next, general_protection};
use crate::state::Kernel;
use tessera_capability::VpId;
use tessera_vcpu::control_registers::{self, Cr4Write};
use tessera_vcpu::gprs;
use tessera_vcpu::instruction::CodeState;

impl Kernel {
    /// The value and next RIP of the MOV to CR`cr` behind VP `vp`'s
    /// CR-write exit: the register from the CPU's decode assist or from the
    /// bytes at CS:RIP (a 32-bit register outside 64-bit code), or the
    /// exit's outcome if the instruction is not there.
    fn mov_to_cr(&mut self, cpu: usize, vp: VpId, cr: u8) -> Result<(u64, u64), Next> {
        let record = self.vps.get(vp).ok_or(Next::GONE)?;
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
            cr,
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
                None => return Err(self.instruction_missing(cpu, vp)),
            },
            (None, _) => return Err(self.instruction_missing(cpu, vp)),
        };
        let mov = mov.expect("matched above");
        let record = self.vps.get_mut(vp).ok_or(Next::GONE)?;
        record.skip_failed_at = None;
        let save = &record.vmcb.save;
        let mut value = gprs::read(&record.gprs, save.rax, save.rsp, mov.source);
        if code.bits != 64 {
            value &= 0xFFFF_FFFF;
        }
        Ok((value, next_rip))
    }

    /// A MOV to CR4 of VP `vp`: the value checked against the guest's
    /// CPUID; #GP where the architecture says so.
    pub fn exit_cr4_write(&mut self, cpu: usize, vp: VpId) -> Next {
        let (value, next_rip) = match self.mov_to_cr(cpu, vp, 4) {
            Ok(mov) => mov,
            Err(next) => return next,
        };
        let Some(record) = self.vps.get_mut(vp) else {
            return Next::GONE;
        };
        let save = &record.vmcb.save;
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

    /// A MOV to CR8 of VP `vp`, intercepted only while a virtual interrupt
    /// request (`V_IRQ`) is pending (QEMU 7.2's TCG re-evaluates it on a
    /// CR8 write without its I/O thread lock and aborts) or the APIC's TPR
    /// holds a vector back, so the kernel does the write
    /// (`lapic_inject::guard_cr8`). Bits 63:4 set are #GP
    /// (APM Vol. 2 §3.1.5 "CR8 (Task Priority Register, TPR)"); the TPR's
    /// class is the value, and the interrupts are weighed again before the
    /// next entry.
    pub fn exit_cr8_write(&mut self, cpu: usize, vp: VpId) -> Next {
        let (value, next_rip) = match self.mov_to_cr(cpu, vp, 8) {
            Ok(mov) => mov,
            Err(next) => return next,
        };
        let Some(record) = self.vps.get_mut(vp) else {
            return Next::GONE;
        };
        if value > 0xF {
            *record.vmcb.event_inj_mut() = general_protection();
            return Next::Resume;
        }
        record.vmcb.v_intr_mut().set_v_tpr(value as u8);
        record.tpr_from_vmcb();
        *record.vmcb.rip_mut() = next_rip;
        Next::Resume
    }
}
