//! INIT and start-up IPIs: the per-VP wait-for-SIPI state machine, and the
//! register state INIT and SIPI leave, as data the kernel writes into the
//! VMCB.
//!
//! AMD APM Vol. 2 §14.1.3 "Processor Initialization State" (Table 14-1
//! "Initial Processor State"); Intel SDM Vol. 3A §9.1.1 "Processor State
//! After Reset" (Table 9-1), §8.4 "Multiple-Processor (MP)
//! Initialization", §10.4.7.3 "Local APIC State After an INIT Reset
//! ('Wait-for-SIPI' State)", §10.6.1 (start-up IPI).

/// What a VP is doing, as far as INIT and SIPI are concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activity {
    /// Executing (or halted: HLT is the kernel's business, and INIT or SIPI
    /// treat a halted VP as running).
    Running,
    /// After INIT on an application processor: nothing runs, interrupts
    /// and NMIs stay pending, and only a start-up IPI (or another INIT)
    /// does anything.
    WaitForSipi,
}

/// One VP's INIT/SIPI state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StartupState {
    activity: Activity,
    bsp: bool,
}

/// What the kernel does on INIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InitAction {
    /// Load this register state ([`init_registers`]) and reset the APIC
    /// ([`LocalApic::init_reset`](crate::LocalApic::init_reset)).
    pub registers: ResetRegisters,
    /// What the VP does next.
    pub next: Activity,
}

impl StartupState {
    /// A VP at partition start: the bootstrap processor runs (the guest's
    /// entry point), every application processor waits for a SIPI (issue
    /// 13: "a VP other than VP 0 waits for INIT/SIPI").
    #[must_use]
    pub const fn new(bsp: bool) -> Self {
        Self {
            activity: if bsp {
                Activity::Running
            } else {
                Activity::WaitForSipi
            },
            bsp,
        }
    }

    /// The current activity.
    #[must_use]
    pub const fn activity(&self) -> Activity {
        self.activity
    }

    /// INIT arrives (an INIT IPI, or an LVT LINT entry in INIT mode). The
    /// processor state is reset as [`init_registers`] says; an
    /// application processor then waits for a SIPI, while the bootstrap
    /// processor starts at the reset vector (`F000:FFF0`, linear
    /// `0xFFFFFFF0`), as on hardware where the firmware sits there (SDM
    /// §8.4.1: the BSP "begins executing the BIOS boot-strap code"; Linux's
    /// KVM does the same). A Tessera partition has no firmware at the
    /// reset vector unless its guest image put one there; the kernel may
    /// as well treat a BSP INIT as a partition reset.
    ///
    /// `cr0` is the VP's CR0 before INIT (INIT keeps CD and NW);
    /// `signature` is CPUID 1 EAX as the guest sees it (the processor
    /// signature in EDX after INIT).
    pub fn init(&mut self, cr0: u64, signature: u32) -> InitAction {
        self.activity = if self.bsp {
            Activity::Running
        } else {
            Activity::WaitForSipi
        };
        InitAction {
            registers: init_registers(cr0, signature),
            next: self.activity,
        }
    }

    /// A start-up IPI with `vector` arrives: a VP waiting for one starts in
    /// real mode at `vector · 0x1000` ([`sipi_start`]); anywhere else the
    /// SIPI is ignored (SDM §8.4.2: a second SIPI to a running processor
    /// does nothing).
    pub fn sipi(&mut self, vector: u8) -> Option<SipiStart> {
        if self.activity != Activity::WaitForSipi {
            return None;
        }
        self.activity = Activity::Running;
        Some(sipi_start(vector))
    }
}

pub use tessera_svm::segment::{SegmentAttributes, VmcbSegment};

/// Present, accessed read/write data segment.
const DATA: u16 = 0x93;
/// Present, accessed execute/read code segment.
const CODE: u16 = 0x9B;
/// Present LDT (type 2).
const LDT: u16 = 0x82;
/// Present busy 32-bit TSS (type 11).
const BUSY_TSS: u16 = 0x8B;

/// A real-mode segment (64 KiB limit) in the VMCB's form.
const fn real_mode(selector: u16, base: u64, attributes: u16) -> VmcbSegment {
    VmcbSegment {
        selector,
        attrib: SegmentAttributes::from_bits(attributes),
        limit: 0xFFFF,
        base,
    }
}

/// The processor state after INIT (and after SIPI, except CS and RIP), in
/// the form of the VMCB state save area (`tessera_svm`), which the kernel
/// copies as it is.
/// Every general register not named is 0; x87, SSE and AVX state, the
/// MSRs other than EFER, CR8 and XCR0 keep their values (SDM §9.1: "during
/// an INIT, the internal caches, MSRs, MTRRs, and x87 FPU state are left
/// unchanged").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResetRegisters {
    pub cs: VmcbSegment,
    pub ds: VmcbSegment,
    pub es: VmcbSegment,
    pub fs: VmcbSegment,
    pub gs: VmcbSegment,
    pub ss: VmcbSegment,
    pub ldtr: VmcbSegment,
    pub tr: VmcbSegment,
    /// GDTR: only base and limit count (APM Table B-2).
    pub gdtr: VmcbSegment,
    /// IDTR: only base and limit count.
    pub idtr: VmcbSegment,
    pub rip: u64,
    pub rflags: u64,
    /// The processor signature (family, model, stepping).
    pub rdx: u64,
    pub cr0: u64,
    pub cr2: u64,
    pub cr3: u64,
    pub cr4: u64,
    /// The guest's EFER (0: real mode). The kernel keeps EFER.SVME set in
    /// the VMCB, as VMRUN requires.
    pub efer: u64,
    pub dr6: u64,
    pub dr7: u64,
}

/// CR0 after RESET: CD, NW and ET set (APM Table 14-1; SDM Table 9-1:
/// `60000010H`).
pub const CR0_AT_RESET: u64 = 0x6000_0010;
/// CR0.CD and CR0.NW, which INIT leaves as they were.
const CR0_CD_NW: u64 = 0x6000_0000;

/// The register state INIT leaves, given CR0 before it and the processor
/// signature: real mode at the reset vector `F000:FFF0` (CS base
/// `FFFF0000`), data segments at 0 with a 64 KiB limit, GDTR and IDTR base
/// 0 limit `FFFF`, RFLAGS 2, CR0 `x0000010` (CD/NW unchanged), CR2–CR4 0,
/// EFER 0, DR6 `FFFF0FF0`, DR7 `400` (APM Table 14-1; SDM Table 9-1).
#[must_use]
pub const fn init_registers(cr0: u64, signature: u32) -> ResetRegisters {
    let data = real_mode(0, 0, DATA);
    ResetRegisters {
        cs: real_mode(0xF000, 0xFFFF_0000, CODE),
        ds: data,
        es: data,
        fs: data,
        gs: data,
        ss: data,
        ldtr: real_mode(0, 0, LDT),
        tr: real_mode(0, 0, BUSY_TSS),
        gdtr: real_mode(0, 0, 0),
        idtr: real_mode(0, 0, 0),
        rip: 0xFFF0,
        rflags: 2,
        rdx: signature as u64,
        cr0: (cr0 & CR0_CD_NW) | 0x10,
        cr2: 0,
        cr3: 0,
        cr4: 0,
        efer: 0,
        dr6: 0xFFFF_0FF0,
        dr7: 0x400,
    }
}

/// Where a start-up IPI starts a VP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SipiStart {
    /// CS: selector `VV00h`, base `VV000h` (SDM §10.6.1: "The vector
    /// typically points to a start-up routine"; §8.4.3: the AP starts "at
    /// 000VV000H").
    pub cs: VmcbSegment,
    /// 0.
    pub rip: u64,
}

/// The CS:IP a start-up IPI with `vector` gives.
#[must_use]
pub const fn sipi_start(vector: u8) -> SipiStart {
    SipiStart {
        cs: real_mode((vector as u16) << 8, (vector as u64) << 12, CODE),
        rip: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_processor_waits_then_starts() {
        let mut vp = StartupState::new(false);
        assert_eq!(vp.activity(), Activity::WaitForSipi);
        let start = vp.sipi(0x9A).unwrap();
        assert_eq!(start.cs.selector, 0x9A00);
        assert_eq!(start.cs.base, 0x9A000);
        assert_eq!(start.rip, 0);
        assert_eq!(vp.activity(), Activity::Running);
        // A second SIPI is ignored.
        assert_eq!(vp.sipi(0x10), None);
        // INIT puts it back.
        let action = vp.init(CR0_AT_RESET | 1, 0x00A0_0F11);
        assert_eq!(action.next, Activity::WaitForSipi);
        assert_eq!(action.registers.cr0, CR0_AT_RESET);
        assert_eq!(action.registers.rdx, 0x00A0_0F11);
        assert!(vp.sipi(0x10).is_some());
    }

    #[test]
    fn bootstrap_processor_runs_at_reset_vector() {
        let mut vp = StartupState::new(true);
        assert_eq!(vp.activity(), Activity::Running);
        assert_eq!(vp.sipi(0x10), None);
        let action = vp.init(0x8000_0011, 0);
        assert_eq!(action.next, Activity::Running);
        let r = action.registers;
        assert_eq!(r.cs.base + r.rip, 0xFFFF_FFF0);
        // CD and NW were clear: they stay clear; PG and PE go.
        assert_eq!(r.cr0, 0x10);
    }
}
