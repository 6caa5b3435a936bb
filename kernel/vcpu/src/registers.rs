//! `HvCallGetVpRegisters` / `HvCallSetVpRegisters` on a stopped VP: TLFS
//! register names (TLFS md `datatypes/hv_register_name.md`) mapped onto the
//! VMCB and the general registers the world switch keeps.
//!
//! Values are 128 bits, as `HV_REGISTER_VALUE`: segment registers in the
//! `HV_X64_SEGMENT_REGISTER` layout (base; limit, selector and attributes
//! in the high half), table registers as `HV_X64_TABLE_REGISTER` (limit in
//! bits 63:48 of the low half, base in the high half), everything else in
//! the low half with the high half zero.
//!
//! Writes store what they are given (with SVME kept in EFER): whether the
//! whole state is one VMRUN accepts is [`crate::checks`]' question, asked
//! once after all writes, because several registers are only consistent
//! together (CR0.PG with EFER.LME and CR4.PAE, CS.L with EFER.LMA).
use tessera_svm::Vmcb;
use tessera_svm::segment::{SegmentAttributes, VmcbSegment};
use tlfs::register::HvRegisterName as Name;

use crate::gprs::{self, GprIndex, GuestGprs};

/// A register's value: low and high 64 bits.
pub type Value = (u64, u64);

/// Why a register access was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterError {
    /// The name is not one this kernel implements.
    Unknown,
    /// The value has bits set the register cannot hold.
    Reserved,
}

/// EFER.SVME: the guest never sees it, and it must stay set in the VMCB
/// (VMRUN refuses a guest EFER without it).
pub const EFER_SVME: u64 = 1 << 12;

/// The VP's registers: the VMCB plus the general registers the world
/// switch keeps, and the TSC offset the kernel applies.
#[derive(Debug)]
pub struct VpRegisters<'a> {
    pub vmcb: &'a mut Vmcb,
    pub gprs: &'a mut GuestGprs,
}

fn segment_of(vmcb: &mut Vmcb, name: Name) -> Option<&mut VmcbSegment> {
    let save = &mut vmcb.save;
    Some(match name {
        Name::X64_ES => &mut save.es,
        Name::X64_CS => &mut save.cs,
        Name::X64_SS => &mut save.ss,
        Name::X64_DS => &mut save.ds,
        Name::X64_FS => &mut save.fs,
        Name::X64_GS => &mut save.gs,
        Name::X64_LDTR => &mut save.ldtr,
        Name::X64_TR => &mut save.tr,
        _ => return None,
    })
}

fn table_of(vmcb: &mut Vmcb, name: Name) -> Option<&mut VmcbSegment> {
    match name {
        Name::X64_GDTR => Some(&mut vmcb.save.gdtr),
        Name::X64_IDTR => Some(&mut vmcb.save.idtr),
        _ => None,
    }
}

fn msr_of(vmcb: &mut Vmcb, name: Name) -> Option<&mut u64> {
    let save = &mut vmcb.save;
    Some(match name {
        Name::X64_KERNEL_GS_BASE => &mut save.kernel_gs_base,
        Name::X64_SYSENTER_CS => &mut save.sysenter_cs,
        Name::X64_SYSENTER_EIP => &mut save.sysenter_eip,
        Name::X64_SYSENTER_ESP => &mut save.sysenter_esp,
        Name::X64_STAR => &mut save.star,
        Name::X64_LSTAR => &mut save.lstar,
        Name::X64_CSTAR => &mut save.cstar,
        Name::X64_SFMASK => &mut save.sfmask,
        Name::X64_PAT => &mut save.g_pat,
        Name::X64_CR2 => &mut save.cr2,
        Name::X64_CR3 => &mut save.cr3,
        Name::X64_DR7 => &mut save.dr7,
        Name::X64_DR6 => &mut save.dr6,
        _ => return None,
    })
}

/// The general register a name denotes, if it is one.
fn gpr_of(name: Name) -> Option<GprIndex> {
    let value = name.0;
    if (Name::X64_RAX.0..=Name::X64_R15.0).contains(&value) {
        GprIndex::new((value - Name::X64_RAX.0) as u8)
    } else {
        None
    }
}

/// A VMCB segment as `HV_X64_SEGMENT_REGISTER`.
pub fn segment_value(segment: &VmcbSegment) -> Value {
    let vmcb_bits = segment.attrib.into_bits();
    // TLFS attributes keep descriptor bits 55:52 at 15:12; the VMCB packs
    // them at 11:8.
    let tlfs_bits = (vmcb_bits & 0xFF) | ((vmcb_bits & 0xF00) << 4);
    let high = u64::from(segment.limit)
        | (u64::from(segment.selector) << 32)
        | (u64::from(tlfs_bits) << 48);
    (segment.base, high)
}

/// `HV_X64_SEGMENT_REGISTER` as a VMCB segment; reserved attribute bits
/// (11:8) are refused.
pub fn segment_from(value: Value) -> Result<VmcbSegment, RegisterError> {
    let (base, high) = value;
    let tlfs_bits = (high >> 48) as u16;
    if tlfs_bits & 0x0F00 != 0 {
        return Err(RegisterError::Reserved);
    }
    let vmcb_bits = (tlfs_bits & 0xFF) | ((tlfs_bits >> 4) & 0xF00);
    Ok(VmcbSegment {
        selector: (high >> 32) as u16,
        attrib: SegmentAttributes::from_bits(vmcb_bits),
        limit: high as u32,
        base,
    })
}

impl VpRegisters<'_> {
    /// The value of register `name`.
    pub fn get(&mut self, name: Name) -> Result<Value, RegisterError> {
        if let Some(index) = gpr_of(name) {
            let save = &self.vmcb.save;
            return Ok((gprs::read(self.gprs, save.rax, save.rsp, index), 0));
        }
        if let Some(segment) = segment_of(self.vmcb, name) {
            return Ok(segment_value(segment));
        }
        if let Some(table) = table_of(self.vmcb, name) {
            return Ok((u64::from(table.limit as u16) << 48, table.base));
        }
        if let Some(msr) = msr_of(self.vmcb, name) {
            return Ok((*msr, 0));
        }
        let save = &self.vmcb.save;
        Ok((
            match name {
                Name::X64_RIP => save.rip,
                Name::X64_RFLAGS => save.rflags,
                Name::X64_CR0 => save.cr0,
                Name::X64_CR4 => save.cr4,
                Name::X64_CR8 => u64::from(self.vmcb.control.v_intr.v_tpr()),
                Name::X64_EFER => save.efer & !EFER_SVME,
                _ => return Err(RegisterError::Unknown),
            },
            0,
        ))
    }

    /// Writes register `name`. Values whose high half is not zero where the
    /// register has no high half are refused, as are reserved bits the
    /// register itself defines; cross-register consistency is checked by
    /// [`crate::checks::runnable`].
    pub fn set(&mut self, name: Name, value: Value) -> Result<(), RegisterError> {
        if let Some(segment) = segment_of(self.vmcb, name) {
            *segment = segment_from(value)?;
            if name == Name::X64_SS {
                // The VMCB's CPL is what VMRUN runs the guest at; SS.DPL is
                // the architecture's record of it (APM vol. 2 §4.9.1), so
                // the two must agree (as Linux's KVM keeps them).
                self.vmcb.save.cpl = self.vmcb.save.ss.attrib.dpl();
            }
            return Ok(());
        }
        if let Some(table) = table_of(self.vmcb, name) {
            let (low, base) = value;
            if low & 0x0000_FFFF_FFFF_FFFF != 0 {
                return Err(RegisterError::Reserved);
            }
            table.limit = u32::from((low >> 48) as u16);
            table.base = base;
            return Ok(());
        }
        let (low, high) = value;
        if high != 0 {
            return Err(RegisterError::Reserved);
        }
        if let Some(index) = gpr_of(name) {
            match gprs::slot(self.gprs, index) {
                Some(slot) => *slot = low,
                None if index == GprIndex::RAX => self.vmcb.save.rax = low,
                None => self.vmcb.save.rsp = low,
            }
            return Ok(());
        }
        if name == Name::X64_PAT && !crate::msr::valid_pat(low) {
            return Err(RegisterError::Reserved);
        }
        if let Some(msr) = msr_of(self.vmcb, name) {
            *msr = low;
            return Ok(());
        }
        let save = &mut self.vmcb.save;
        match name {
            Name::X64_RIP => save.rip = low,
            Name::X64_RFLAGS => save.rflags = low,
            Name::X64_CR0 => save.cr0 = low,
            Name::X64_CR4 => save.cr4 = low,
            Name::X64_CR8 => {
                let tpr = u8::try_from(low).ok().filter(|tpr| *tpr < 16);
                let tpr = tpr.ok_or(RegisterError::Reserved)?;
                self.vmcb.control.v_intr.set_v_tpr(tpr);
            }
            Name::X64_EFER => {
                if low & EFER_SVME != 0 {
                    return Err(RegisterError::Reserved);
                }
                save.efer = low | EFER_SVME;
            }
            _ => return Err(RegisterError::Unknown),
        }
        Ok(())
    }
}

/// Writes register `name` if no VMCB clean bit covers it (a general
/// register, RIP or RFLAGS), through `vmcb`'s uncached accessors, so the
/// VMCB's cached areas stay clean; `false` for any other name (the caller
/// then writes it through [`VpRegisters`] on `vmcb.all_mut()`).
pub fn set_uncached<B: core::ops::DerefMut<Target = tessera_svm::Vmcb>>(
    vmcb: &mut crate::clean_bits::TrackedVmcb<B>,
    gprs: &mut GuestGprs,
    name: Name,
    value: u64,
) -> bool {
    let place = match name {
        Name::X64_RIP => vmcb.rip_mut(),
        Name::X64_RFLAGS => vmcb.rflags_mut(),
        _ => match gpr_of(name) {
            None => return false,
            Some(index) => match gprs::slot(gprs, index) {
                Some(slot) => slot,
                None if index == GprIndex::RAX => vmcb.rax_mut(),
                None => vmcb.rsp_mut(),
            },
        },
    };
    *place = value;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_vp(test: impl FnOnce(&mut VpRegisters<'_>)) {
        let mut vmcb = Vmcb::default();
        let mut gprs = GuestGprs::default();
        test(&mut VpRegisters {
            vmcb: &mut vmcb,
            gprs: &mut gprs,
        });
    }

    #[test]
    fn uncached_writes_leave_the_clean_areas_clean() {
        use crate::clean_bits::TrackedVmcb;
        let mut vmcb = TrackedVmcb::new(alloc::boxed::Box::<tessera_svm::Vmcb>::default(), true);
        let mut gprs = GuestGprs::default();
        vmcb.entering(0);
        for (name, value) in [
            (Name::X64_RAX, 1),
            (Name::X64_RSP, 2),
            (Name::X64_RBX, 3),
            (Name::X64_R15, 4),
            (Name::X64_RIP, 5),
            (Name::X64_RFLAGS, 0x202),
        ] {
            assert!(set_uncached(&mut vmcb, &mut gprs, name, value), "{name:?}");
        }
        assert!(!set_uncached(&mut vmcb, &mut gprs, Name::X64_CR0, 1));
        assert!(!set_uncached(&mut vmcb, &mut gprs, Name::X64_CS, 1));
        assert_eq!((vmcb.save.rax, vmcb.save.rsp, vmcb.save.rip), (1, 2, 5));
        assert_eq!((vmcb.save.rflags, gprs.rbx, gprs.r15), (0x202, 3, 4));
        assert_eq!(vmcb.entering(0).into_bits(), 0xFFF);
    }

    #[test]
    fn general_registers_round_trip_including_the_vmcb_ones() {
        with_vp(|vp| {
            for offset in 0..16u32 {
                let name = Name(Name::X64_RAX.0 + offset);
                vp.set(name, (0x1000 + u64::from(offset), 0)).unwrap();
            }
            for offset in 0..16u32 {
                let name = Name(Name::X64_RAX.0 + offset);
                assert_eq!(vp.get(name), Ok((0x1000 + u64::from(offset), 0)));
            }
            assert_eq!(vp.vmcb.save.rax, 0x1000);
            assert_eq!(vp.vmcb.save.rsp, 0x1004);
            assert_eq!(vp.gprs.r15, 0x100F);
        });
    }

    #[test]
    fn segments_use_the_tlfs_attribute_layout() {
        with_vp(|vp| {
            // A 64-bit code segment: type 0xB, S, P, L (TLFS bit 13), G (15).
            let attributes: u64 = 0xB | 1 << 4 | 1 << 7 | 1 << 13 | 1 << 15;
            let value = (0, 0xFFFF_FFFF | 0x08 << 32 | attributes << 48);
            vp.set(Name::X64_CS, value).unwrap();
            let cs = vp.vmcb.save.cs;
            assert_eq!(cs.selector, 0x08);
            assert_eq!(cs.limit, 0xFFFF_FFFF);
            assert!(cs.attrib.l() && cs.attrib.g() && cs.attrib.p() && cs.attrib.s());
            assert!(!cs.attrib.db());
            assert_eq!(cs.attrib.segment_type(), 0xB);
            assert_eq!(vp.get(Name::X64_CS), Ok(value));
            // A user-mode stack segment makes the VP run at CPL 3.
            let ring3_data: u64 = 0x3 | 1 << 4 | 3 << 5 | 1 << 7;
            vp.set(Name::X64_SS, (0, 0x2B << 32 | ring3_data << 48))
                .unwrap();
            assert_eq!(vp.vmcb.save.cpl, 3);
            // TLFS attribute bits 11:8 are reserved.
            assert_eq!(
                vp.set(Name::X64_DS, (0, 1 << 56)),
                Err(RegisterError::Reserved)
            );
        });
    }

    #[test]
    fn table_registers_use_the_tlfs_layout() {
        with_vp(|vp| {
            vp.set(Name::X64_GDTR, (0x27 << 48, 0xFFFF_8000_0000_1000))
                .unwrap();
            assert_eq!(vp.vmcb.save.gdtr.limit, 0x27);
            assert_eq!(vp.vmcb.save.gdtr.base, 0xFFFF_8000_0000_1000);
            assert_eq!(
                vp.get(Name::X64_GDTR),
                Ok((0x27 << 48, 0xFFFF_8000_0000_1000))
            );
            assert_eq!(vp.set(Name::X64_IDTR, (1, 0)), Err(RegisterError::Reserved));
        });
    }

    #[test]
    fn efer_hides_and_keeps_svme() {
        with_vp(|vp| {
            vp.set(Name::X64_EFER, (0x500, 0)).unwrap();
            assert_eq!(vp.vmcb.save.efer, 0x500 | EFER_SVME);
            assert_eq!(vp.get(Name::X64_EFER), Ok((0x500, 0)));
            assert_eq!(
                vp.set(Name::X64_EFER, (EFER_SVME, 0)),
                Err(RegisterError::Reserved)
            );
        });
    }

    #[test]
    fn unknown_names_high_halves_and_bad_values_are_refused() {
        with_vp(|vp| {
            assert_eq!(vp.get(Name(0x0009_9999)), Err(RegisterError::Unknown));
            assert_eq!(
                vp.set(Name(0x0009_9999), (0, 0)),
                Err(RegisterError::Unknown)
            );
            assert_eq!(vp.set(Name::X64_RIP, (0, 1)), Err(RegisterError::Reserved));
            assert_eq!(vp.set(Name::X64_CR8, (16, 0)), Err(RegisterError::Reserved));
            assert_eq!(
                vp.set(Name::X64_PAT, (0x02, 0)),
                Err(RegisterError::Reserved)
            );
        });
    }
}
