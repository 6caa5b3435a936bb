//! The part of the save area a #VMEXIT writes (APM vol. 2 §15.6 "#VMEXIT":
//! ES, CS, SS, DS, GDTR, IDTR, EFER, CR4, CR3, CR2, CR0, DR7, DR6, RFLAGS,
//! RIP, RSP, RAX and CPL), kept before a VMRUN so that one which refuses
//! its state (VMEXIT_INVALID, which may leave the host's values there) can
//! be undone without copying the whole save area on every entry.
use tessera_svm::save_area::VmcbSaveArea;
use tessera_svm::segment::VmcbSegment;

/// The fields a #VMEXIT writes, as they were.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SavedOnExit {
    segments: [VmcbSegment; 4],
    tables: [VmcbSegment; 2],
    registers: [u64; 11],
    cpl: u8,
}

impl SavedOnExit {
    /// The fields of `save`.
    pub fn of(save: &VmcbSaveArea) -> Self {
        let mut saved = Self::default();
        saved.record(save);
        saved
    }

    /// Keeps the fields of `save` in place of the ones kept before: the
    /// kernel does this before every VMRUN from its locked path, and a
    /// record built apart and then moved here cost twice the copying.
    #[inline]
    pub fn record(&mut self, save: &VmcbSaveArea) {
        self.segments = [save.es, save.cs, save.ss, save.ds];
        self.tables = [save.gdtr, save.idtr];
        self.registers = [
            save.efer,
            save.cr4,
            save.cr3,
            save.cr2,
            save.cr0,
            save.dr7,
            save.dr6,
            save.rflags,
            save.rip,
            save.rsp,
            save.rax,
        ];
        self.cpl = save.cpl;
    }

    /// Puts them back into `save`.
    pub fn restore(&self, save: &mut VmcbSaveArea) {
        [save.es, save.cs, save.ss, save.ds] = self.segments;
        [save.gdtr, save.idtr] = self.tables;
        [
            save.efer,
            save.cr4,
            save.cr3,
            save.cr2,
            save.cr0,
            save.dr7,
            save.dr6,
            save.rflags,
            save.rip,
            save.rsp,
            save.rax,
        ] = self.registers;
        save.cpl = self.cpl;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_svm::Vmcb;

    /// Issue 9, finding 5: whatever a refused VMRUN leaves in those
    /// fields, the guest's come back; the fields it does not write stay.
    #[test]
    fn the_guests_fields_come_back() {
        let mut guest = Vmcb::default();
        let save = &mut guest.save;
        save.cs.base = 0xF_0000;
        save.gdtr.base = 0x5000;
        save.cr3 = 0x12_3000;
        save.rip = 0xFFF0;
        save.rsp = 0x7000;
        save.rax = 0x77;
        save.cpl = 3;
        save.lstar = 0xAAAA;
        let kept = SavedOnExit::of(&guest.save);
        let mut after = guest;
        // What QEMU leaves after VMEXIT_INVALID: the host's.
        after.save.cs.base = 0;
        after.save.gdtr.base = 0xFFFF_8000_0024_1198;
        after.save.cr3 = 0x1F_C000;
        after.save.rip = 0xFFFF_FFFF_8013_51A4;
        after.save.rsp = 0xFFFF_FE00_0009_FE80;
        after.save.rax = 0x24_C000;
        after.save.cpl = 0;
        kept.restore(&mut after.save);
        assert_eq!(after.save, guest.save);
    }
}
