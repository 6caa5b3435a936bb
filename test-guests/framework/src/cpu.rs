//! CPU instructions the checks use. Those that a hypervisor may answer with
//! an exception (`rdmsr`, `wrmsr`) and those that raise one by design
//! (`ud2`, `int3`) are guarded: they return the exception as an `Err`
//! (see [`exception`](crate::exception)), which needs the IDT that
//! [`run`](crate::run) installs.
#![allow(unsafe_code)]

use core::arch::asm;
use core::arch::x86_64::__cpuid_count;

use crate::exception::{Caught, guarded, guarded_asm};

/// Architectural MSRs.
pub mod msr {
    pub const TSC: u32 = 0x10;
    pub const APIC_BASE: u32 = 0x1B;
    pub const SYSENTER_CS: u32 = 0x174;
    pub const SYSENTER_ESP: u32 = 0x175;
    pub const SYSENTER_EIP: u32 = 0x176;
    pub const PAT: u32 = 0x277;
    pub const EFER: u32 = 0xC000_0080;
    pub const STAR: u32 = 0xC000_0081;
    pub const LSTAR: u32 = 0xC000_0082;
    pub const CSTAR: u32 = 0xC000_0083;
    pub const SFMASK: u32 = 0xC000_0084;
    pub const FS_BASE: u32 = 0xC000_0100;
    pub const GS_BASE: u32 = 0xC000_0101;
    pub const KERNEL_GS_BASE: u32 = 0xC000_0102;
}

/// `EFER` bits.
pub mod efer {
    pub const SCE: u64 = 1 << 0;
    pub const LME: u64 = 1 << 8;
    pub const LMA: u64 = 1 << 10;
    pub const NXE: u64 = 1 << 11;
    pub const SVME: u64 = 1 << 12;
}

/// The four registers CPUID returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cpuid {
    pub eax: u32,
    pub ebx: u32,
    pub ecx: u32,
    pub edx: u32,
}

impl Cpuid {
    /// The 12-byte vendor string of leaf 0 or 0x4000_0000 (EBX, EDX, ECX).
    #[must_use]
    pub fn vendor(&self) -> [u8; 12] {
        let mut vendor = [0; 12];
        vendor[0..4].copy_from_slice(&self.ebx.to_le_bytes());
        vendor[4..8].copy_from_slice(&self.edx.to_le_bytes());
        vendor[8..12].copy_from_slice(&self.ecx.to_le_bytes());
        vendor
    }

    /// The 16 bytes of EAX, EBX, ECX, EDX (a piece of the brand string).
    #[must_use]
    pub fn bytes(&self) -> [u8; 16] {
        let mut bytes = [0; 16];
        for (chunk, register) in bytes
            .chunks_exact_mut(4)
            .zip([self.eax, self.ebx, self.ecx, self.edx])
        {
            chunk.copy_from_slice(&register.to_le_bytes());
        }
        bytes
    }
}

impl core::fmt::Display for Cpuid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "EAX {:#x} EBX {:#x} ECX {:#x} EDX {:#x}",
            self.eax, self.ebx, self.ecx, self.edx
        )
    }
}

#[must_use]
pub fn cpuid(leaf: u32, subleaf: u32) -> Cpuid {
    let result = __cpuid_count(leaf, subleaf);
    Cpuid {
        eax: result.eax,
        ebx: result.ebx,
        ecx: result.ecx,
        edx: result.edx,
    }
}

/// The time stamp counter, read after every earlier instruction has
/// completed (`lfence` first), so it does not count work still in flight.
#[must_use]
pub fn rdtsc() -> u64 {
    let (low, high): (u32, u32);
    // SAFETY: reads the counter; no memory access.
    unsafe {
        asm!("lfence", "rdtsc", out("eax") low, out("edx") high, options(nomem, nostack, preserves_flags))
    };
    u64::from(high) << 32 | u64::from(low)
}

/// Halts until the next event. Interrupts stay as they are (off in the
/// guests), so only a hypervisor that handles the exit (the probe in the
/// test deployments advances RIP) makes this return.
pub fn hlt() {
    // SAFETY: `hlt` changes no state the compiler knows about.
    unsafe { asm!("hlt", options(nomem, nostack, preserves_flags)) };
}

pub fn rdmsr(msr: u32) -> Result<u64, Caught> {
    guarded(|| {
        let (low, high): (u32, u32);
        // Reading an MSR changes nothing; an MSR that does not
        // exist raises #GP, which the guard turns into an `Err`.
        // SAFETY: by the argument just above.
        unsafe {
            guarded_asm!("rdmsr"; in("ecx") msr, inout("eax") 0u32 => low, inout("edx") 0u32 => high, options(nostack));
        }
        u64::from(high) << 32 | u64::from(low)
    })
}

/// Writes an MSR. The guests only write MSRs that do not change how their
/// own code runs (syscall targets, segment bases they do not use, scratch
/// registers, PAT entries, EFER.NXE with no NX bit in their page tables),
/// so from the compiler's view nothing changes.
pub fn wrmsr(msr: u32, value: u64) -> Result<(), Caught> {
    guarded(|| {
        // See above; a refused write raises #GP, which the guard
        // turns into an `Err`.
        // SAFETY: by the argument just above.
        unsafe {
            guarded_asm!("wrmsr"; in("ecx") msr, in("eax") value as u32, in("edx") (value >> 32) as u32, options(nostack));
        }
    })
}

/// Executes `ud2`: `Err` with #UD unless something intercepts it.
pub fn ud2() -> Result<(), Caught> {
    // SAFETY: the guard resumes after the instruction.
    guarded(|| unsafe { guarded_asm!("ud2"; options(nostack)) })
}

/// Executes `vmmcall` with RCX = `control` and zero parameter GPAs; the
/// hypercall result (RAX), or `Err` with #UD where there is no hypercall
/// interface.
pub fn vmmcall(control: u64) -> Result<u64, Caught> {
    guarded(|| {
        let result: u64;
        // A hypercall changes RAX (the result) and, for a rep call, RCX;
        // with zero GPAs it touches no memory. #UD is caught by the guard.
        // SAFETY: only the declared registers change; no memory is touched.
        unsafe {
            guarded_asm!("vmmcall"; inout("rcx") control => _, in("rdx") 0u64, in("r8") 0u64, out("rax") result, options(nostack));
        }
        result
    })
}

/// Executes `vmmcall` with RCX = `control`, RDX = `input` and R8 =
/// `output` (GPAs of a memory hypercall's blocks, or a fast call's
/// values); the result (RAX), or `Err` with #UD.
pub fn hypercall(control: u64, input: u64, output: u64) -> Result<u64, Caught> {
    guarded(|| {
        let result: u64;
        // As `vmmcall`; the blocks at `input` and `output` are guest memory
        // the caller owns and backs no Rust object (the hypervisor reads
        // the input and may write the output), and a memory clobber is
        // implied, so the caller's writes to the input happen before.
        // Only the declared registers change; the memory the call
        // touches is the caller's, as just argued.
        // SAFETY: by the argument just above.
        unsafe {
            guarded_asm!("vmmcall"; inout("rcx") control => _, inout("rdx") input => _, inout("r8") output => _, out("rax") result);
        }
        result
    })
}

/// Executes `int3`: `Err` with #BP unless something intercepts it.
pub fn int3() -> Result<(), Caught> {
    // SAFETY: the guard resumes after the instruction.
    guarded(|| unsafe { guarded_asm!("int3"; options(nostack)) })
}

/// CR2: the address of the last page fault.
#[must_use]
pub fn cr2() -> u64 {
    let value: u64;
    // SAFETY: reading a control register has no effect.
    unsafe { asm!("mov {}, cr2", out(reg) value, options(nomem, nostack, preserves_flags)) };
    value
}

/// CR3: the physical address of the PML4 (and flags in bits 11:0).
#[must_use]
pub fn cr3() -> u64 {
    let value: u64;
    // SAFETY: reading a control register has no effect.
    unsafe { asm!("mov {}, cr3", out(reg) value, options(nomem, nostack, preserves_flags)) };
    value
}

/// Rewrites CR3 with its own value, which empties the TLB (but global
/// pages, which the guests do not use): after a page table changed.
pub fn flush_tlb() {
    // The same page tables stay in use. The asm block is a memory
    // clobber, so stores to the tables happen before it.
    // SAFETY: by the argument just above.
    unsafe { asm!("mov {0}, cr3", "mov cr3, {0}", out(reg) _, options(nostack, preserves_flags)) };
}

/// A descriptor-table register (`sgdt`/`sidt`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DescriptorTable {
    pub base: u64,
    pub limit: u16,
}

#[must_use]
pub fn gdtr() -> DescriptorTable {
    let mut raw = [0u8; 10];
    // SAFETY: `sgdt` stores 10 bytes into `raw`, which has room for them.
    unsafe { asm!("sgdt [{}]", in(reg) raw.as_mut_ptr(), options(nostack, preserves_flags)) };
    DescriptorTable {
        limit: u16::from_le_bytes([raw[0], raw[1]]),
        base: u64::from_le_bytes([
            raw[2], raw[3], raw[4], raw[5], raw[6], raw[7], raw[8], raw[9],
        ]),
    }
}

/// The current code segment selector (the IDT's gates need it).
#[must_use]
pub fn code_selector() -> u16 {
    let selector: u16;
    // SAFETY: reading CS has no effect.
    unsafe { asm!("mov {0:x}, cs", out(reg) selector, options(nomem, nostack, preserves_flags)) };
    selector
}

/// CR0.EM: x87/SSE instructions raise #UD.
const CR0_EM: u64 = 1 << 2;
/// CR4.OSFXSR: SSE instructions are enabled.
const CR4_OSFXSR: u64 = 1 << 9;

/// Makes SSE instructions (`movq xmm0, rax`) usable for an XMM fast call:
/// sets CR4.OSFXSR and clears CR0.TS. Returns CR4 as it was, for
/// [`restore_cr4`]; `Err` if CR0.EM is set (then SSE stays off).
pub fn enable_sse() -> Result<u64, &'static str> {
    let (cr0, cr4): (u64, u64);
    // SAFETY: reading control registers has no effect.
    unsafe {
        core::arch::asm!("mov {}, cr0", out(reg) cr0, options(nomem, nostack, preserves_flags));
        core::arch::asm!("mov {}, cr4", out(reg) cr4, options(nomem, nostack, preserves_flags));
    }
    if cr0 & CR0_EM != 0 {
        return Err("CR0.EM is set");
    }
    // OSFXSR only lets SSE instructions run (and FXSAVE save XMM state),
    // and CLTS only stops #NM on them; the compiled code uses neither.
    // SAFETY: neither bit changes how the compiled code runs.
    unsafe {
        core::arch::asm!("mov cr4, {}", in(reg) cr4 | CR4_OSFXSR, options(nomem, nostack, preserves_flags));
        core::arch::asm!("clts", options(nomem, nostack, preserves_flags));
    }
    Ok(cr4)
}

/// Puts CR4 back as [`enable_sse`] found it.
pub fn restore_cr4(cr4: u64) {
    // SAFETY: the value was read from CR4 before; only OSFXSR differs.
    unsafe {
        core::arch::asm!("mov cr4, {}", in(reg) cr4, options(nomem, nostack, preserves_flags))
    };
}
