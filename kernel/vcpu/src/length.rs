//! Instruction lengths for exits whose instruction is fixed.
//!
//! Without next-RIP saving (QEMU's TCG offers none, `svm-on-qemu.md`) the
//! kernel must know how far to advance RIP. These exits come only from
//! their one opcode, so the length is the opcode's; a prefix that changes
//! nothing (which a guest could add) would make the real instruction
//! longer, which is why the CPU's next RIP is used whenever it has one.
//! Port I/O needs none of this: its EXITINFO2 is the next RIP.
use tessera_svm::ExitCode;

/// The length of the instruction that caused `exit`, if it is one of the
/// fixed-opcode exits: CPUID `0F A2`, RDMSR `0F 32` / WRMSR `0F 30`, HLT
/// `F4`, VMMCALL `0F 01 D9`.
pub fn fixed(exit: ExitCode) -> Option<u64> {
    match exit {
        ExitCode::CPUID | ExitCode::MSR => Some(2),
        ExitCode::HLT => Some(1),
        ExitCode::VMMCALL => Some(3),
        _ => None,
    }
}

/// The next RIP: the CPU's, when it saved one (`next_rip` non-zero), else
/// RIP plus the fixed length.
pub fn next_rip(exit: ExitCode, rip: u64, cpu_next_rip: u64) -> Option<u64> {
    if cpu_next_rip != 0 {
        return Some(cpu_next_rip);
    }
    fixed(exit).map(|length| rip.wrapping_add(length))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_lengths_match_the_opcodes() {
        assert_eq!(fixed(ExitCode::CPUID), Some(2));
        assert_eq!(fixed(ExitCode::MSR), Some(2));
        assert_eq!(fixed(ExitCode::HLT), Some(1));
        assert_eq!(fixed(ExitCode::VMMCALL), Some(3));
        assert_eq!(fixed(ExitCode::IOIO), None);
        assert_eq!(fixed(ExitCode::NPF), None);
    }

    #[test]
    fn the_cpus_next_rip_wins() {
        assert_eq!(next_rip(ExitCode::CPUID, 0x1000, 0), Some(0x1002));
        assert_eq!(next_rip(ExitCode::CPUID, 0x1000, 0x1003), Some(0x1003));
        assert_eq!(next_rip(ExitCode::NPF, 0x1000, 0), None);
    }
}
