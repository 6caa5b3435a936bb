//! Guest state that VMRUN leaves in the processor: the x87/SSE registers
//! and the debug address registers DR0-DR3. A CPU keeps the state of the
//! last VP it ran; only when another VP takes the CPU is it saved into the
//! old VP and loaded from the new one. VPs are pinned to their CPU, so the
//! owner's copy is always the one in this CPU's registers.
//!
//! TSC_AUX too, which RDTSCP and RDPID read: it holds the running VP's
//! value while a VP runs and 0 while a component does, so neither sees
//! another's (the RDTSCP intercept answers from the VP's record where the
//! CPU takes it; QEMU's TCG raises the RDTSC intercept for RDTSCP instead,
//! and RDPID has none).
//!
//! The host never uses these registers (kernel and components are built
//! soft-float), and CR0.EM is kept set in the host so that a component's
//! x87 or SSE instruction faults instead of reading a guest's registers.
//! The guest's own CR0 (in its VMCB) governs it while it runs.
use crate::tlb::MAX_CPUS;
use core::arch::asm;
use core::sync::atomic::{AtomicU64, Ordering};
use tessera_capability::VpId;
use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};

/// The FXSAVE image (512 bytes, 16-byte aligned).
#[derive(Clone, Debug)]
#[repr(C, align(16))]
pub struct FxArea([u8; 512]);

/// A VP's FPU and debug registers while another VP has the CPU.
#[derive(Clone, Debug)]
pub struct SavedState {
    fx: FxArea,
    debug: [u64; 4],
}

impl Default for SavedState {
    /// The reset state: FCW 0x037F, MXCSR 0x1F80, everything else zero.
    fn default() -> Self {
        let mut fx = [0u8; 512];
        fx[0..2].copy_from_slice(&0x037Fu16.to_le_bytes());
        fx[24..28].copy_from_slice(&0x1F80u32.to_le_bytes());
        Self {
            fx: FxArea(fx),
            debug: [0; 4],
        }
    }
}

/// Per CPU: the VP whose state is in the registers (`tag`), or 0.
static OWNER: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

/// A VP as one non-zero word.
fn tag(vp: VpId) -> u64 {
    vp.raw().to_word() + 1
}

/// Per CPU: the value in its TSC_AUX.
static LOADED_TSC_AUX: [core::sync::atomic::AtomicU32; MAX_CPUS] =
    [const { core::sync::atomic::AtomicU32::new(0) }; MAX_CPUS];

const TSC_AUX: u32 = 0xC000_0103;

/// Whether the CPU has TSC_AUX (RDTSCP or RDPID).
fn has_tsc_aux() -> bool {
    static HAS: spin::Once<bool> = spin::Once::new();
    *HAS.call_once(|| {
        let extended = raw_cpuid::native_cpuid::cpuid_count(0x8000_0001, 0);
        let leaf7 = raw_cpuid::native_cpuid::cpuid_count(7, 0);
        extended.edx & (1 << 27) != 0 || leaf7.ecx & (1 << 22) != 0
    })
}

/// Puts `value` in this CPU's TSC_AUX, if it is not there already.
pub fn load_tsc_aux(cpu: usize, value: u32) {
    if LOADED_TSC_AUX[cpu].load(Ordering::Relaxed) == value || !has_tsc_aux() {
        return;
    }
    // SAFETY: TSC_AUX exists (checked) and nothing in the host reads it.
    unsafe { crate::arch::msr::write(TSC_AUX, u64::from(value)) };
    LOADED_TSC_AUX[cpu].store(value, Ordering::Relaxed);
}

/// Before a component runs on `cpu`: no guest's TSC_AUX stays behind.
pub fn leave_guests(cpu: usize) {
    load_tsc_aux(cpu, 0);
}

/// Sets up this CPU: FXSAVE covers the SSE registers (CR4.OSFXSR), and the
/// host cannot execute x87/SSE instructions (CR0.EM).
pub fn init_cpu() {
    // OSFXSR/OSXMMEXCPT only enable FXSAVE's SSE part and SIMD
    // exceptions; EM makes x87/SSE instructions fault, which no host code
    // executes (soft-float), except `with_fpu` below, which clears it.
    // SAFETY: neither bit changes how any host code runs.
    unsafe {
        Cr4::update(|cr4| cr4.insert(Cr4Flags::OSFXSR | Cr4Flags::OSXMMEXCPT_ENABLE));
        Cr0::update(|cr0| {
            cr0.insert(Cr0Flags::EMULATE_COPROCESSOR);
            cr0.remove(Cr0Flags::TASK_SWITCHED);
        });
    }
}

fn with_fpu(work: impl FnOnce()) {
    // Clearing EM for the span of an FXSAVE/FXRSTOR is what makes them
    // legal; it is set again before any other code runs (interrupts are
    // off in the kernel).
    // SAFETY: only `work` runs with EM clear.
    unsafe { Cr0::update(|cr0| cr0.remove(Cr0Flags::EMULATE_COPROCESSOR)) };
    work();
    // SAFETY: as above.
    unsafe { Cr0::update(|cr0| cr0.insert(Cr0Flags::EMULATE_COPROCESSOR)) };
}

fn save(state: &mut SavedState) {
    with_fpu(|| {
        // SAFETY: `fx` is 512 bytes, 16-byte aligned, writable.
        unsafe { asm!("fxsave64 [{}]", in(reg) state.fx.0.as_mut_ptr(), options(nostack)) };
    });
    // SAFETY: reading debug registers has no side effects.
    unsafe {
        asm!("mov {}, dr0", out(reg) state.debug[0], options(nomem, nostack));
        asm!("mov {}, dr1", out(reg) state.debug[1], options(nomem, nostack));
        asm!("mov {}, dr2", out(reg) state.debug[2], options(nomem, nostack));
        asm!("mov {}, dr3", out(reg) state.debug[3], options(nomem, nostack));
    }
}

fn load(state: &SavedState) {
    with_fpu(|| {
        // SAFETY: `fx` holds either the reset image or one FXSAVE wrote, so
        // its reserved MXCSR bits are clear and FXRSTOR cannot fault.
        unsafe { asm!("fxrstor64 [{}]", in(reg) state.fx.0.as_ptr(), options(nostack)) };
    });
    // SAFETY: DR0-DR3 are addresses only; with the host's DR7 clear they
    // arm nothing in the host, and the guest's DR7 comes from its VMCB.
    unsafe {
        asm!("mov dr0, {}", in(reg) state.debug[0], options(nomem, nostack));
        asm!("mov dr1, {}", in(reg) state.debug[1], options(nomem, nostack));
        asm!("mov dr2, {}", in(reg) state.debug[2], options(nomem, nostack));
        asm!("mov dr3, {}", in(reg) state.debug[3], options(nomem, nostack));
    }
}

/// Before VP `vp` runs on `cpu`: its state goes into the registers, the
/// previous owner's out of them.
pub fn switch_to(kernel: &mut crate::state::Kernel, cpu: usize, vp: VpId) {
    if let Some(next) = kernel.vps.get(vp) {
        load_tsc_aux(cpu, next.tsc_aux);
    }
    let owner = OWNER[cpu].load(Ordering::Relaxed);
    if owner == tag(vp) {
        return;
    }
    let previous = owner
        .checked_sub(1)
        .map(|word| VpId(tessera_capability::RawId::from_word(word)));
    if let Some(previous) = previous.and_then(|id| kernel.vps.get_mut(id)) {
        save(&mut previous.guest_state);
    }
    if let Some(next) = kernel.vps.get(vp) {
        load(&next.guest_state);
    }
    OWNER[cpu].store(tag(vp), Ordering::Relaxed);
}

/// A VP is going away: its state must not be saved into its record.
pub fn forget(cpu: usize, vp: VpId) {
    let _ = OWNER[cpu].compare_exchange(tag(vp), 0, Ordering::Relaxed, Ordering::Relaxed);
}

/// XMM`index` (0-15) of the guest whose state this CPU holds (the VP that
/// just exited: `switch_to` ran before it entered).
pub fn read_xmm(index: usize) -> u128 {
    let mut area = FxArea([0; 512]);
    with_fpu(|| {
        // SAFETY: `area` is 512 bytes, 16-byte aligned, writable.
        unsafe { asm!("fxsave64 [{}]", in(reg) area.0.as_mut_ptr(), options(nostack)) };
    });
    let offset = 160 + 16 * index.min(15);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&area.0[offset..offset + 16]);
    u128::from_le_bytes(bytes)
}

/// Writes XMM0-5 of the guest whose state this CPU holds (fast hypercall
/// output): the registers are saved, the given ones replaced, and all
/// loaded back.
pub fn write_xmm(values: &[Option<u128>]) {
    let mut area = FxArea([0; 512]);
    with_fpu(|| {
        // SAFETY: `area` is 512 bytes, 16-byte aligned, writable.
        unsafe { asm!("fxsave64 [{}]", in(reg) area.0.as_mut_ptr(), options(nostack)) };
    });
    for (index, value) in values.iter().enumerate().take(16) {
        if let Some(value) = value {
            let offset = 160 + 16 * index;
            area.0[offset..offset + 16].copy_from_slice(&value.to_le_bytes());
        }
    }
    with_fpu(|| {
        // SAFETY: the image came from FXSAVE a moment ago; only XMM bytes
        // changed, which have no reserved bits.
        unsafe { asm!("fxrstor64 [{}]", in(reg) area.0.as_ptr(), options(nostack)) };
    });
}
