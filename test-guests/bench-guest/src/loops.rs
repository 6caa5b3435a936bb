//! The measured loops, in assembly so that the loop with CPUID and the
//! baseline differ by exactly the CPUID: the compiler cannot schedule or
//! unroll them differently.
#![allow(unsafe_code)]

use core::arch::asm;

use tessera_guest_framework::cpu::rdtsc;

/// TSC ticks for `iterations` CPUIDs of `leaf` (subleaf 0).
pub fn cpuid(leaf: u32, iterations: u64) -> u64 {
    let start = rdtsc();
    // SAFETY: CPUID changes only the registers named here; RBX, which the
    // compiler reserves, is saved and restored around the loop.
    unsafe {
        asm!(
            "mov {saved_rbx}, rbx",
            "2:",
            "mov eax, {leaf:e}",
            "xor ecx, ecx",
            "cpuid",
            "dec {count}",
            "jnz 2b",
            "mov rbx, {saved_rbx}",
            leaf = in(reg) leaf,
            count = inout(reg) iterations.max(1) => _,
            saved_rbx = out(reg) _,
            out("eax") _,
            out("ecx") _,
            out("edx") _,
            options(nomem, nostack),
        );
    }
    rdtsc() - start
}

/// TSC ticks for `iterations` rounds of the same loop without the CPUID.
pub fn baseline(iterations: u64) -> u64 {
    let start = rdtsc();
    // SAFETY: the loop changes only the registers named here.
    unsafe {
        asm!(
            "mov {saved_rbx}, rbx",
            "2:",
            "mov eax, {leaf:e}",
            "xor ecx, ecx",
            "dec {count}",
            "jnz 2b",
            "mov rbx, {saved_rbx}",
            leaf = in(reg) 0u32,
            count = inout(reg) iterations.max(1) => _,
            saved_rbx = out(reg) _,
            out("eax") _,
            out("ecx") _,
            out("edx") _,
            options(nomem, nostack),
        );
    }
    rdtsc() - start
}

/// TSC ticks for `iterations` VMMCALLs with the hypercall input value
/// `control` and input/output GPAs `input`, `output` (x64 convention).
pub fn vmmcall(control: u64, input: u64, output: u64, iterations: u64) -> u64 {
    let start = rdtsc();
    // A hypercall changes RAX (the result) and, for a rep call, RCX; the
    // loop reloads both every round.
    // SAFETY: memory is touched only at the given GPAs, which the caller owns.
    unsafe {
        asm!(
            "2:",
            "mov rcx, {control}",
            "mov rdx, {input}",
            "mov r8, {output}",
            "vmmcall",
            "dec {count}",
            "jnz 2b",
            control = in(reg) control,
            input = in(reg) input,
            output = in(reg) output,
            count = inout(reg) iterations.max(1) => _,
            out("rax") _,
            out("rcx") _,
            out("rdx") _,
            out("r8") _,
            options(nostack),
        );
    }
    rdtsc() - start
}

/// TSC ticks for the hypercall loop without the VMMCALL.
pub fn vmmcall_baseline(iterations: u64) -> u64 {
    let start = rdtsc();
    // SAFETY: the loop changes only the registers named here.
    unsafe {
        asm!(
            "2:",
            "mov rcx, {control}",
            "mov rdx, {input}",
            "mov r8, {output}",
            "dec {count}",
            "jnz 2b",
            control = in(reg) 0u64,
            input = in(reg) 0u64,
            output = in(reg) 0u64,
            count = inout(reg) iterations.max(1) => _,
            out("rcx") _,
            out("rdx") _,
            out("r8") _,
            options(nomem, nostack),
        );
    }
    rdtsc() - start
}

/// TSC ticks for `iterations` INs from port `port`, which nothing
/// handles: the kernel answers with all ones (an empty bus), so the figure
/// is the VMRUN round trip plus the least an exit can cost.
pub fn absent_port(port: u16, iterations: u64) -> u64 {
    let start = rdtsc();
    // SAFETY: IN changes only AL.
    unsafe {
        asm!(
            "2:",
            "in al, dx",
            "dec {count}",
            "jnz 2b",
            in("dx") port,
            count = inout(reg) iterations.max(1) => _,
            out("al") _,
            options(nomem, nostack),
        );
    }
    rdtsc() - start
}

/// TSC ticks for `iterations` 32-bit OUTs of `value` to port `port`,
/// which a component handles: each is an exit forwarded with its TLFS
/// intercept body and answered by the handler's reply. The baseline is
/// [`absent_port_baseline`] (the loop alone).
pub fn port_write(port: u16, value: u32, iterations: u64) -> u64 {
    let start = rdtsc();
    // SAFETY: OUT changes no register and no memory of this guest.
    unsafe {
        asm!(
            "2:",
            "out dx, eax",
            "dec {count}",
            "jnz 2b",
            in("dx") port,
            in("eax") value,
            count = inout(reg) iterations.max(1) => _,
            options(nomem, nostack),
        );
    }
    rdtsc() - start
}

/// TSC ticks for the port loop without the IN.
pub fn absent_port_baseline(iterations: u64) -> u64 {
    let start = rdtsc();
    // SAFETY: the loop changes only its counter.
    unsafe {
        asm!(
            "2:",
            "dec {count}",
            "jnz 2b",
            count = inout(reg) iterations.max(1) => _,
            options(nomem, nostack),
        );
    }
    rdtsc() - start
}

/// One hypercall; its result value (RAX).
pub fn hypercall(control: u64, input: u64, output: u64) -> u64 {
    let result: u64;
    // SAFETY: as for `vmmcall`.
    unsafe {
        asm!(
            "vmmcall",
            inout("rcx") control => _,
            inout("rdx") input => _,
            inout("r8") output => _,
            out("rax") result,
            options(nostack),
        );
    }
    result
}

/// TSC ticks for `iterations` WRMSRs of `value` to `msr`.
pub fn wrmsr(msr: u32, value: u64, iterations: u64) -> u64 {
    let start = rdtsc();
    // SAFETY: the caller picks an MSR whose write only changes the guest's
    // own APIC state; the loop changes only the registers named here.
    unsafe {
        asm!(
            "2:",
            "mov ecx, {msr:e}",
            "wrmsr",
            "dec {count}",
            "jnz 2b",
            msr = in(reg) msr,
            count = inout(reg) iterations.max(1) => _,
            in("eax") value as u32,
            in("edx") (value >> 32) as u32,
            out("ecx") _,
            options(nostack),
        );
    }
    rdtsc() - start
}

/// TSC ticks for `iterations` rounds of the same loop without the WRMSR.
pub fn wrmsr_baseline(iterations: u64) -> u64 {
    let start = rdtsc();
    // SAFETY: the loop changes only the registers named here.
    unsafe {
        asm!(
            "2:",
            "mov ecx, {msr:e}",
            "dec {count}",
            "jnz 2b",
            msr = in(reg) 0u32,
            count = inout(reg) iterations.max(1) => _,
            out("ecx") _,
            options(nomem, nostack),
        );
    }
    rdtsc() - start
}

/// TSC ticks for `iterations` rounds of an empty loop, after a WRMSR of
/// `value` to `msr` (the timer's arming, or its disarming for the
/// baseline): a window an interrupt may fall into, whose extra ticks are
/// what the interrupt cost the guest.
pub fn wrmsr_then_spin(msr: u32, value: u64, iterations: u64) -> u64 {
    let start = rdtsc();
    // The caller picks an MSR whose write only changes the guest's own
    // APIC state; the loop changes only the registers named here (an
    // interrupt handler in between restores what it uses).
    // SAFETY: by the argument just above.
    unsafe {
        asm!(
            "wrmsr",
            "2:",
            "dec {count}",
            "jnz 2b",
            count = inout(reg) iterations.max(1) => _,
            in("ecx") msr,
            in("eax") value as u32,
            in("edx") (value >> 32) as u32,
            options(nostack),
        );
    }
    rdtsc() - start
}
