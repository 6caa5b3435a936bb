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
