//! Which VMCB state the processor may take from its cache on VMRUN: a VMCB
//! whose writes are tracked by clean-bit area, and the clean field each
//! VMRUN gets.
//!
//! AMD APM vol. 2 §15.15 ("VMCB State Caching"): a processor with the
//! VMCB-clean feature (CPUID `8000_000Ah` EDX bit 5) may keep guest state
//! from a VMRUN and reuse it on the next VMRUN of the same VMCB (its cache
//! is keyed by the VMCB's physical address), for every area whose clean
//! bit software sets. Software clears an area's bit when it wrote a field
//! of it, and writes 0 (nothing clean) when the VMCB is new or may be
//! inconsistent with the cache: its first VMRUN, and its first VMRUN on a
//! CPU other than its last — the other CPU's cache may hold a copy from
//! an earlier visit, keyed by the same address. Another VMCB running on
//! the CPU in between needs nothing (the key differs; Linux's KVM relies
//! on this too, and as nested hypervisor it reloads on any VMCB address
//! change). The bit numbers are in [`VmcbCleanBits`].
//!
//! [`TrackedVmcb`] owns the VMCB and hands out mutable access only through
//! accessors that mark the field's area dirty as they give the reference
//! (one table, the `tracked_fields!` invocation below, says which field
//! is in which area); fields no clean bit covers (RIP, RSP, RAX, RFLAGS,
//! `EVENTINJ`, `TLB_CONTROL`) are read by every VMRUN and mark nothing.
//! Anything else goes through [`TrackedVmcb::all_mut`], which marks
//! every area: a missed mark takes a new accessor, not a forgotten line.
//! Reading is free ([`Deref`]).
//!
//! [`TrackedVmcb::entering`] computes the clean field right before VMRUN:
//! 0 where the CPU has no clean bits, 0 on a first run or a move, else
//! every known area that nothing wrote since the last VMRUN. After a
//! #VMEXIT the VMCB holds what the processor wrote back, so the cache and
//! the VMCB agree and only the kernel's later writes make areas dirty.
use alloc::boxed::Box;
use core::ops::{Deref, DerefMut};

use tessera_svm::Vmcb;
use tessera_svm::clean::VmcbCleanBits;
use tessera_svm::controls::TlbControl;

/// The areas this kernel ever reports clean: bits 0–11, which Linux and
/// Xen agree on. CET (bit 12, **Unconfirmed**) stays 0: reloading it
/// always is correct, and Tessera's guests have no CET state.
pub const KNOWN_AREAS: VmcbCleanBits = VmcbCleanBits::from_bits(KNOWN);

/// [`KNOWN_AREAS`] as bits.
const KNOWN: u32 = 0xFFF;

/// One area (a single clean bit) by name, for the field table: a
/// constant, so the accessors compile to a single OR.
macro_rules! area {
    (I) => {
        const { VmcbCleanBits::new().with_intercepts(true).into_bits() }
    };
    (IOPM) => {
        const { VmcbCleanBits::new().with_iopm(true).into_bits() }
    };
    (ASID) => {
        const { VmcbCleanBits::new().with_asid(true).into_bits() }
    };
    (TPR) => {
        const { VmcbCleanBits::new().with_tpr(true).into_bits() }
    };
    (NP) => {
        const { VmcbCleanBits::new().with_np(true).into_bits() }
    };
    (CRX) => {
        const { VmcbCleanBits::new().with_crx(true).into_bits() }
    };
    (DRX) => {
        const { VmcbCleanBits::new().with_drx(true).into_bits() }
    };
    (DT) => {
        const { VmcbCleanBits::new().with_dt(true).into_bits() }
    };
    (SEG) => {
        const { VmcbCleanBits::new().with_seg(true).into_bits() }
    };
    (CR2) => {
        const { VmcbCleanBits::new().with_cr2(true).into_bits() }
    };
    (LBR) => {
        const { VmcbCleanBits::new().with_lbr(true).into_bits() }
    };
    (AVIC) => {
        const { VmcbCleanBits::new().with_avic(true).into_bits() }
    };
    (UNCACHED) => {
        0_u32
    };
}

/// The accessor table: `name: part.field: Type => AREA`. Each accessor
/// marks `AREA` dirty and returns the field.
macro_rules! tracked_fields {
    ($($(#[$doc:meta])* $name:ident: $part:ident.$field:ident: $ty:ty => $area:ident,)*) => {
        impl<B: DerefMut<Target = Vmcb>> TrackedVmcb<B> {
            $(
                $(#[$doc])*
                #[inline(always)]
                pub fn $name(&mut self) -> &mut $ty {
                    self.mark(area!($area));
                    &mut self.vmcb.$part.$field
                }
            )*
        }

        /// Every accessor with the area it marks (for the tests).
        #[cfg(test)]
        pub(crate) const FIELD_AREAS: &[(&str, u32)] =
            &[$((stringify!($name), area!($area)),)*];

        /// Calls accessor `name` (for the tests).
        #[cfg(test)]
        pub(crate) fn touch(vmcb: &mut TrackedVmcb, name: &str) {
            match name {
                $(stringify!($name) => { let _ = vmcb.$name(); })*
                _ => panic!("no accessor {name}"),
            }
        }
    };
}

/// A VMCB that knows which of its clean-bit areas the kernel wrote since
/// its last VMRUN, and on which CPU that was. `B` holds the VMCB: the
/// kernel's is a frame of its own, charged to the VP's payer; host tests
/// use a `Box`.
#[derive(Debug)]
pub struct TrackedVmcb<B = Box<Vmcb>> {
    vmcb: B,
    /// Areas written since the last VMRUN (clean-bit positions).
    dirty: u32,
    /// The CPU of the last VMRUN; [`NEVER_RUN`] before the first.
    last_cpu: u32,
    /// The areas a VMRUN on the same CPU may find clean: [`KNOWN_AREAS`]
    /// where the processor offers clean bits, else none.
    cacheable: u32,
}

/// `last_cpu` of a VMCB that never ran (no CPU has this index).
const NEVER_RUN: u32 = u32::MAX;

impl<B: DerefMut<Target = Vmcb>> TrackedVmcb<B> {
    /// Takes `vmcb` (never run yet). `clean_bits_offered`: CPUID
    /// `8000_000Ah` EDX bit 5; without it every VMRUN gets 0.
    pub fn new(vmcb: B, clean_bits_offered: bool) -> Self {
        Self {
            vmcb,
            dirty: KNOWN,
            last_cpu: NEVER_RUN,
            cacheable: if clean_bits_offered { KNOWN } else { 0 },
        }
    }

    #[inline(always)]
    fn mark(&mut self, areas: u32) {
        self.dirty |= areas;
    }

    /// The whole VMCB, for writes the table does not name (a component
    /// setting registers, a reset, undoing a refused VMRUN): every area
    /// counts as written.
    #[inline]
    pub fn all_mut(&mut self) -> &mut Vmcb {
        self.mark(KNOWN);
        &mut self.vmcb
    }

    /// Sets `TLB_CONTROL` for the next VMRUN. The field itself is read on
    /// every VMRUN; a flush also marks the ASID area, so a processor never
    /// pairs a flush with cached ASID state (the cost is nil: flushes are
    /// rare and the ASID is one word).
    #[inline(always)]
    pub fn set_tlb_control(&mut self, control: TlbControl) {
        if control != TlbControl::DO_NOTHING {
            self.mark(area!(ASID));
        }
        self.vmcb.control.tlb_control = control;
    }

    /// The clean field for a VMRUN on `cpu`, written into the VMCB; from
    /// here on the processor's cache is taken to match the VMCB. Call it
    /// right before VMRUN and write nothing between. (Branch-free: it
    /// runs on every lock-free re-entry.)
    #[inline(always)]
    pub fn entering(&mut self, cpu: u32) -> VmcbCleanBits {
        debug_assert_ne!(cpu, NEVER_RUN);
        let same_cpu = u32::from(self.last_cpu == cpu);
        // All ones on the same CPU, else zero.
        let keep = same_cpu.wrapping_neg();
        // A transmute, not `from_bits`: bitfield-struct's methods are not
        // inlined across crates, and this runs on every re-entry.
        let clean: VmcbCleanBits = zerocopy::transmute!(self.cacheable & !self.dirty & keep);
        self.last_cpu = cpu;
        self.dirty = 0;
        self.vmcb.control.clean_bits = clean;
        clean
    }

    /// [`TrackedVmcb::entering`] for a VMCB whose last VMRUN was on this
    /// CPU and that has not been run elsewhere since (the lock-free loop
    /// re-entering after an exit it answered): the same clean field,
    /// without the CPU comparison.
    #[inline(always)]
    pub fn reentering(&mut self) -> VmcbCleanBits {
        debug_assert_ne!(self.last_cpu, NEVER_RUN);
        let clean: VmcbCleanBits = zerocopy::transmute!(self.cacheable & !self.dirty);
        self.dirty = 0;
        self.vmcb.control.clean_bits = clean;
        clean
    }

    /// The VMCB's address in the kernel's mapping (its physical address
    /// follows from it).
    #[inline]
    pub fn as_ptr(&self) -> *const Vmcb {
        &*self.vmcb
    }

    /// What holds the VMCB (to read where it lives).
    pub fn storage(&self) -> &B {
        &self.vmcb
    }

    /// Gives up the tracking and returns what holds the VMCB (to free it).
    pub fn into_storage(self) -> B {
        self.vmcb
    }
}

impl<B: DerefMut<Target = Vmcb>> Deref for TrackedVmcb<B> {
    type Target = Vmcb;

    #[inline(always)]
    fn deref(&self) -> &Vmcb {
        &self.vmcb
    }
}

// The fields VMRUN reads, by clean-bit area (APM §15.15.3; the control and
// save area docs in `tessera-svm` name the same bits). FS, GS, TR, LDTR,
// KERNEL_GS_BASE, STAR, LSTAR, CSTAR, SFMASK and SYSENTER_* are VMLOAD's
// (the world switch loads them every time): `all_mut` reaches them.
tracked_fields! {
    /// Intercept vectors.
    intercepts_mut: control.intercepts: tessera_svm::InterceptVector => I,
    /// `TSC_OFFSET`.
    tsc_offset_mut: control.tsc_offset: u64 => I,
    /// `PAUSE_FILTER_COUNT`.
    pause_filter_count_mut: control.pause_filter_count: u16 => I,
    /// `PAUSE_FILTER_THRESHOLD`.
    pause_filter_threshold_mut: control.pause_filter_threshold: u16 => I,
    /// `IOPM_BASE_PA`.
    iopm_base_pa_mut: control.iopm_base_pa: u64 => IOPM,
    /// `MSRPM_BASE_PA`.
    msrpm_base_pa_mut: control.msrpm_base_pa: u64 => IOPM,
    /// The guest ASID.
    guest_asid_mut: control.guest_asid: u32 => ASID,
    /// `V_TPR`, `V_IRQ`, `V_INTR_*`.
    v_intr_mut: control.v_intr: tessera_svm::interrupt::VIntrControl => TPR,
    /// `NP_ENABLE`.
    nested_control_mut: control.nested_control: tessera_svm::controls::NestedControl => NP,
    /// `N_CR3`.
    n_cr3_mut: control.n_cr3: u64 => NP,
    /// The guest PAT.
    g_pat_mut: save.g_pat: u64 => NP,
    /// `CR0`.
    cr0_mut: save.cr0: u64 => CRX,
    /// `CR3`.
    cr3_mut: save.cr3: u64 => CRX,
    /// `CR4`.
    cr4_mut: save.cr4: u64 => CRX,
    /// `EFER`.
    efer_mut: save.efer: u64 => CRX,
    /// `DR6`.
    dr6_mut: save.dr6: u64 => DRX,
    /// `DR7`.
    dr7_mut: save.dr7: u64 => DRX,
    /// `GDTR`.
    gdtr_mut: save.gdtr: tessera_svm::segment::VmcbSegment => DT,
    /// `IDTR`.
    idtr_mut: save.idtr: tessera_svm::segment::VmcbSegment => DT,
    /// `ES`.
    es_mut: save.es: tessera_svm::segment::VmcbSegment => SEG,
    /// `CS`.
    cs_mut: save.cs: tessera_svm::segment::VmcbSegment => SEG,
    /// `SS`.
    ss_mut: save.ss: tessera_svm::segment::VmcbSegment => SEG,
    /// `DS`.
    ds_mut: save.ds: tessera_svm::segment::VmcbSegment => SEG,
    /// `CPL`.
    cpl_mut: save.cpl: u8 => SEG,
    /// `CR2`.
    cr2_mut: save.cr2: u64 => CR2,
    /// `DBGCTL`.
    dbgctl_mut: save.dbgctl: u64 => LBR,
    /// `BR_FROM`.
    br_from_mut: save.br_from: u64 => LBR,
    /// `BR_TO`.
    br_to_mut: save.br_to: u64 => LBR,
    /// `LASTEXCPFROM`.
    last_excp_from_mut: save.last_excp_from: u64 => LBR,
    /// `LASTEXCPTO`.
    last_excp_to_mut: save.last_excp_to: u64 => LBR,
    /// The AVIC APIC BAR.
    avic_apic_bar_mut: control.avic_apic_bar: u64 => AVIC,
    /// The AVIC backing page.
    avic_backing_page_mut: control.avic_backing_page: u64 => AVIC,
    /// The AVIC logical table.
    avic_logical_table_mut: control.avic_logical_table: u64 => AVIC,
    /// The AVIC physical table.
    avic_physical_table_mut: control.avic_physical_table: u64 => AVIC,
    /// `RIP`.
    rip_mut: save.rip: u64 => UNCACHED,
    /// `RSP`.
    rsp_mut: save.rsp: u64 => UNCACHED,
    /// `RAX`.
    rax_mut: save.rax: u64 => UNCACHED,
    /// `RFLAGS`.
    rflags_mut: save.rflags: u64 => UNCACHED,
    /// `EVENTINJ`.
    event_inj_mut: control.event_inj: tessera_svm::EventInjection => UNCACHED,
    /// The interrupt state (`068h`: the interrupt shadow).
    interrupt_state_mut: control.interrupt_state: tessera_svm::interrupt::InterruptState => UNCACHED,
}

#[cfg(test)]
#[path = "clean_bits_tests.rs"]
mod tests;
