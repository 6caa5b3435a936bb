//! A partition without an `hv` key is a plain x86 machine (kernel/abi
//! `vm::hv1`): the hypervisor CPUID leaves read zero, synthetic MSRs
//! raise #GP and VMMCALL raises #UD.
use tessera_guest_framework::exception::vector;
use tessera_guest_framework::{Suite, cpu, ensure, expect_exception};

/// `HV_X64_MSR_GUEST_OS_ID` and `HV_X64_MSR_HYPERCALL`.
const GUEST_OS_ID: u32 = 0x4000_0000;
const HYPERCALL: u32 = 0x4000_0001;

pub fn run(suite: &mut Suite) {
    suite.check(
        "without Hv#1 the hypervisor leaves 0x40000000-1 read zero",
        || {
            for leaf in [0x4000_0000, 0x4000_0001] {
                let answer = cpu::cpuid(leaf, 0);
                ensure!(
                    [answer.eax, answer.ebx, answer.ecx, answer.edx] == [0; 4],
                    "leaf {leaf:#x} gave {answer}"
                );
            }
            Ok(())
        },
    );
    suite.check("without Hv#1 the synthetic MSRs raise #GP", || {
        expect_exception(
            vector::GENERAL_PROTECTION,
            cpu::rdmsr(GUEST_OS_ID).map(drop),
        )?;
        expect_exception(vector::GENERAL_PROTECTION, cpu::wrmsr(HYPERCALL, 0x1001))
    });
    suite.check("without Hv#1 VMMCALL raises #UD", || {
        // HvCallNotifyLongSpinWait, fast: harmless wherever it works.
        expect_exception(vector::INVALID_OPCODE, cpu::vmmcall(0x0001_0008).map(drop))
    });
}
