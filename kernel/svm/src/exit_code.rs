//! `EXITCODE` (control area `070h`): why the guest exited.
//!
//! APM Appendix C ("SVM Intercept Exit Codes") and Table B-1. Values
//! `00h`–`8Eh`, `400h` and `-1` are confirmed by Xen (`enum
//! VMEXIT_EXITCODE`), Linux (`uapi/asm/svm.h`) and QEMU (`svm.h`, up to
//! `8Bh`); `8Fh`–`9Fh`, `A2h`, `A5h`, `A6h`, `401h`, `402h` by Linux only;
//! `A0h`, `A1h`, `A3h`, `A4h` and `403h` only by a third-party header and
//! the intercept-bit regularity ([`Intercept::exit_code`]) — those are
//! marked **Unconfirmed**. Names are Xen's `VMEXIT_*` spelling, which
//! follows the APM's.
//!
//! [`Intercept::exit_code`]: crate::intercept::Intercept::exit_code

use crate::exception::ExceptionVector;
use crate::intercept::RegIndex;
use tessera_open_enum::open_enum;

open_enum! {
    /// `EXITCODE`: an open newtype, so a code this crate does not know (a
    /// newer processor, a software-defined code) is still representable.
    pub struct ExitCode(u64);

    /// Read of `CR0` (`CRn` reads are `00h + n`, see [`ExitCode::cr_read`]).
    CR0_READ = 0x00 => "VMEXIT_CR0_READ",
    /// Write of `CR0` (`CRn` writes are `10h + n`).
    CR0_WRITE = 0x10 => "VMEXIT_CR0_WRITE",
    /// `#DE` (exceptions are `40h + vector`, see [`ExitCode::exception`]).
    EXCP_BASE = 0x40 => "VMEXIT_EXCP0",
    /// Physical maskable interrupt.
    INTR = 0x60 => "VMEXIT_INTR",
    /// Physical NMI.
    NMI = 0x61 => "VMEXIT_NMI",
    /// Physical SMI.
    SMI = 0x62 => "VMEXIT_SMI",
    /// Physical INIT.
    INIT = 0x63 => "VMEXIT_INIT",
    /// Virtual interrupt.
    VINTR = 0x64 => "VMEXIT_VINTR",
    /// Selective write of `CR0`.
    CR0_SEL_WRITE = 0x65 => "VMEXIT_CR0_SEL_WRITE",
    /// SIDT.
    IDTR_READ = 0x66 => "VMEXIT_IDTR_READ",
    /// SGDT.
    GDTR_READ = 0x67 => "VMEXIT_GDTR_READ",
    /// SLDT.
    LDTR_READ = 0x68 => "VMEXIT_LDTR_READ",
    /// STR.
    TR_READ = 0x69 => "VMEXIT_TR_READ",
    /// LIDT.
    IDTR_WRITE = 0x6A => "VMEXIT_IDTR_WRITE",
    /// LGDT.
    GDTR_WRITE = 0x6B => "VMEXIT_GDTR_WRITE",
    /// LLDT.
    LDTR_WRITE = 0x6C => "VMEXIT_LDTR_WRITE",
    /// LTR.
    TR_WRITE = 0x6D => "VMEXIT_TR_WRITE",
    /// RDTSC.
    RDTSC = 0x6E => "VMEXIT_RDTSC",
    /// RDPMC.
    RDPMC = 0x6F => "VMEXIT_RDPMC",
    /// PUSHF.
    PUSHF = 0x70 => "VMEXIT_PUSHF",
    /// POPF.
    POPF = 0x71 => "VMEXIT_POPF",
    /// CPUID (instruction length 2; QEMU saves no next RIP).
    CPUID = 0x72 => "VMEXIT_CPUID",
    /// RSM.
    RSM = 0x73 => "VMEXIT_RSM",
    /// IRET.
    IRET = 0x74 => "VMEXIT_IRET",
    /// INTn.
    SWINT = 0x75 => "VMEXIT_SWINT",
    /// INVD.
    INVD = 0x76 => "VMEXIT_INVD",
    /// PAUSE.
    PAUSE = 0x77 => "VMEXIT_PAUSE",
    /// HLT (instruction length 1).
    HLT = 0x78 => "VMEXIT_HLT",
    /// INVLPG.
    INVLPG = 0x79 => "VMEXIT_INVLPG",
    /// INVLPGA.
    INVLPGA = 0x7A => "VMEXIT_INVLPGA",
    /// IN/OUT: `EXITINFO1` is an [`IoioExitInfo`](crate::ioio::IoioExitInfo),
    /// `EXITINFO2` the next RIP.
    IOIO = 0x7B => "VMEXIT_IOIO",
    /// RDMSR/WRMSR: `EXITINFO1` is 0 for RDMSR, 1 for WRMSR
    /// ([`MsrAccess::from_exit_info1`](crate::msrpm::MsrAccess::from_exit_info1)).
    MSR = 0x7C => "VMEXIT_MSR",
    /// Task switch.
    TASK_SWITCH = 0x7D => "VMEXIT_TASK_SWITCH",
    /// FERR_FREEZE.
    FERR_FREEZE = 0x7E => "VMEXIT_FERR_FREEZE",
    /// Shutdown (triple fault).
    SHUTDOWN = 0x7F => "VMEXIT_SHUTDOWN",
    /// VMRUN.
    VMRUN = 0x80 => "VMEXIT_VMRUN",
    /// VMMCALL (instruction length 3).
    VMMCALL = 0x81 => "VMEXIT_VMMCALL",
    /// VMLOAD.
    VMLOAD = 0x82 => "VMEXIT_VMLOAD",
    /// VMSAVE.
    VMSAVE = 0x83 => "VMEXIT_VMSAVE",
    /// STGI.
    STGI = 0x84 => "VMEXIT_STGI",
    /// CLGI.
    CLGI = 0x85 => "VMEXIT_CLGI",
    /// SKINIT.
    SKINIT = 0x86 => "VMEXIT_SKINIT",
    /// RDTSCP.
    RDTSCP = 0x87 => "VMEXIT_RDTSCP",
    /// ICEBP.
    ICEBP = 0x88 => "VMEXIT_ICEBP",
    /// WBINVD/WBNOINVD.
    WBINVD = 0x89 => "VMEXIT_WBINVD",
    /// MONITOR/MONITORX.
    MONITOR = 0x8A => "VMEXIT_MONITOR",
    /// MWAIT/MWAITX.
    MWAIT = 0x8B => "VMEXIT_MWAIT",
    /// MWAIT/MWAITX with the monitor armed.
    MWAIT_CONDITIONAL = 0x8C => "VMEXIT_MWAIT_CONDITIONAL",
    /// XSETBV.
    XSETBV = 0x8D => "VMEXIT_XSETBV",
    /// RDPRU.
    RDPRU = 0x8E => "VMEXIT_RDPRU",
    /// `EFER` write trap (Linux only).
    EFER_WRITE_TRAP = 0x8F => "VMEXIT_EFER_WRITE_TRAP",
    /// `CR0` write trap (`CRn` write traps are `90h + n`; Linux only).
    CR0_WRITE_TRAP = 0x90 => "VMEXIT_CR0_WRITE_TRAP",
    /// INVLPGB. **Unconfirmed**.
    INVLPGB = 0xA0 => "VMEXIT_INVLPGB",
    /// INVLPGB with an illegal operand. **Unconfirmed**.
    INVLPGB_ILLEGAL = 0xA1 => "VMEXIT_INVLPGB_ILLEGAL",
    /// INVPCID (Linux only).
    INVPCID = 0xA2 => "VMEXIT_INVPCID",
    /// MCOMMIT. **Unconfirmed**.
    MCOMMIT = 0xA3 => "VMEXIT_MCOMMIT",
    /// TLBSYNC. **Unconfirmed**.
    TLBSYNC = 0xA4 => "VMEXIT_TLBSYNC",
    /// Bus lock (Linux only).
    BUSLOCK = 0xA5 => "VMEXIT_BUSLOCK",
    /// Idle HLT (Linux only).
    IDLE_HLT = 0xA6 => "VMEXIT_IDLE_HLT",
    /// Nested page fault: `EXITINFO1` is an
    /// [`NpfErrorCode`](crate::npf::NpfErrorCode), `EXITINFO2` the faulting
    /// guest physical address.
    NPF = 0x400 => "VMEXIT_NPF",
    /// AVIC: incomplete IPI (Linux only).
    AVIC_INCOMPLETE_IPI = 0x401 => "VMEXIT_AVIC_INCOMPLETE_IPI",
    /// AVIC: access to an APIC register that is not accelerated (Linux
    /// only).
    AVIC_NOACCEL = 0x402 => "VMEXIT_AVIC_NOACCEL",
    /// VMGEXIT (SEV-ES). **Unconfirmed** value.
    VMGEXIT = 0x403 => "VMEXIT_VMGEXIT",
    /// Invalid guest state: `VMRUN` failed its consistency checks. See
    /// [`ExitCode::is_invalid`].
    INVALID = u64::MAX => "VMEXIT_INVALID",
}

/// Names of the exit codes that come in runs of 16 or 32, indexed by
/// register or vector.
#[rustfmt::skip]
const CR_READ: [&str; 16] = [
    "VMEXIT_CR0_READ", "VMEXIT_CR1_READ", "VMEXIT_CR2_READ", "VMEXIT_CR3_READ",
    "VMEXIT_CR4_READ", "VMEXIT_CR5_READ", "VMEXIT_CR6_READ", "VMEXIT_CR7_READ",
    "VMEXIT_CR8_READ", "VMEXIT_CR9_READ", "VMEXIT_CR10_READ", "VMEXIT_CR11_READ",
    "VMEXIT_CR12_READ", "VMEXIT_CR13_READ", "VMEXIT_CR14_READ", "VMEXIT_CR15_READ",
];
#[rustfmt::skip]
const CR_WRITE: [&str; 16] = [
    "VMEXIT_CR0_WRITE", "VMEXIT_CR1_WRITE", "VMEXIT_CR2_WRITE", "VMEXIT_CR3_WRITE",
    "VMEXIT_CR4_WRITE", "VMEXIT_CR5_WRITE", "VMEXIT_CR6_WRITE", "VMEXIT_CR7_WRITE",
    "VMEXIT_CR8_WRITE", "VMEXIT_CR9_WRITE", "VMEXIT_CR10_WRITE", "VMEXIT_CR11_WRITE",
    "VMEXIT_CR12_WRITE", "VMEXIT_CR13_WRITE", "VMEXIT_CR14_WRITE", "VMEXIT_CR15_WRITE",
];
#[rustfmt::skip]
const DR_READ: [&str; 16] = [
    "VMEXIT_DR0_READ", "VMEXIT_DR1_READ", "VMEXIT_DR2_READ", "VMEXIT_DR3_READ",
    "VMEXIT_DR4_READ", "VMEXIT_DR5_READ", "VMEXIT_DR6_READ", "VMEXIT_DR7_READ",
    "VMEXIT_DR8_READ", "VMEXIT_DR9_READ", "VMEXIT_DR10_READ", "VMEXIT_DR11_READ",
    "VMEXIT_DR12_READ", "VMEXIT_DR13_READ", "VMEXIT_DR14_READ", "VMEXIT_DR15_READ",
];
#[rustfmt::skip]
const DR_WRITE: [&str; 16] = [
    "VMEXIT_DR0_WRITE", "VMEXIT_DR1_WRITE", "VMEXIT_DR2_WRITE", "VMEXIT_DR3_WRITE",
    "VMEXIT_DR4_WRITE", "VMEXIT_DR5_WRITE", "VMEXIT_DR6_WRITE", "VMEXIT_DR7_WRITE",
    "VMEXIT_DR8_WRITE", "VMEXIT_DR9_WRITE", "VMEXIT_DR10_WRITE", "VMEXIT_DR11_WRITE",
    "VMEXIT_DR12_WRITE", "VMEXIT_DR13_WRITE", "VMEXIT_DR14_WRITE", "VMEXIT_DR15_WRITE",
];
#[rustfmt::skip]
const EXCP: [&str; 32] = [
    "VMEXIT_EXCP0", "VMEXIT_EXCP1", "VMEXIT_EXCP2", "VMEXIT_EXCP3",
    "VMEXIT_EXCP4", "VMEXIT_EXCP5", "VMEXIT_EXCP6", "VMEXIT_EXCP7",
    "VMEXIT_EXCP8", "VMEXIT_EXCP9", "VMEXIT_EXCP10", "VMEXIT_EXCP11",
    "VMEXIT_EXCP12", "VMEXIT_EXCP13", "VMEXIT_EXCP14", "VMEXIT_EXCP15",
    "VMEXIT_EXCP16", "VMEXIT_EXCP17", "VMEXIT_EXCP18", "VMEXIT_EXCP19",
    "VMEXIT_EXCP20", "VMEXIT_EXCP21", "VMEXIT_EXCP22", "VMEXIT_EXCP23",
    "VMEXIT_EXCP24", "VMEXIT_EXCP25", "VMEXIT_EXCP26", "VMEXIT_EXCP27",
    "VMEXIT_EXCP28", "VMEXIT_EXCP29", "VMEXIT_EXCP30", "VMEXIT_EXCP31",
];
#[rustfmt::skip]
const CR_WRITE_TRAP: [&str; 16] = [
    "VMEXIT_CR0_WRITE_TRAP", "VMEXIT_CR1_WRITE_TRAP", "VMEXIT_CR2_WRITE_TRAP",
    "VMEXIT_CR3_WRITE_TRAP", "VMEXIT_CR4_WRITE_TRAP", "VMEXIT_CR5_WRITE_TRAP",
    "VMEXIT_CR6_WRITE_TRAP", "VMEXIT_CR7_WRITE_TRAP", "VMEXIT_CR8_WRITE_TRAP",
    "VMEXIT_CR9_WRITE_TRAP", "VMEXIT_CR10_WRITE_TRAP", "VMEXIT_CR11_WRITE_TRAP",
    "VMEXIT_CR12_WRITE_TRAP", "VMEXIT_CR13_WRITE_TRAP", "VMEXIT_CR14_WRITE_TRAP",
    "VMEXIT_CR15_WRITE_TRAP",
];

impl ExitCode {
    /// Read of `CRn` (`00h + n`).
    #[must_use]
    pub const fn cr_read(cr: RegIndex) -> Self {
        Self(cr.get() as u64)
    }

    /// Write of `CRn` (`10h + n`).
    #[must_use]
    pub const fn cr_write(cr: RegIndex) -> Self {
        Self(0x10 + cr.get() as u64)
    }

    /// Read of `DRn` (`20h + n`).
    #[must_use]
    pub const fn dr_read(dr: RegIndex) -> Self {
        Self(0x20 + dr.get() as u64)
    }

    /// Write of `DRn` (`30h + n`).
    #[must_use]
    pub const fn dr_write(dr: RegIndex) -> Self {
        Self(0x30 + dr.get() as u64)
    }

    /// The exception with this vector (`40h + vector`).
    #[must_use]
    pub const fn exception(vector: ExceptionVector) -> Self {
        Self(0x40 + vector.get() as u64)
    }

    /// Write of `CRn`, trapped after it completed (`90h + n`; Linux only).
    #[must_use]
    pub const fn cr_write_trap(cr: RegIndex) -> Self {
        Self(0x90 + cr.get() as u64)
    }

    /// The exception vector if this is an exception exit (`40h`–`5Fh`).
    #[must_use]
    pub const fn exception_vector(self) -> Option<ExceptionVector> {
        if self.0 >= 0x40 && self.0 < 0x60 {
            ExceptionVector::new((self.0 - 0x40) as u8)
        } else {
            None
        }
    }

    /// Whether `VMRUN` failed its consistency checks (`VMEXIT_INVALID`).
    ///
    /// The APM defines `VMEXIT_INVALID` as -1, but QEMU's TCG stores it as
    /// `0x0000_0000_FFFF_FFFF` (`svm-on-qemu.md`: it writes a 32-bit exit
    /// code), so only the low 32 bits are compared. Any other code whose
    /// low 32 bits are all ones is taken as invalid too; the APM's other
    /// negative codes (`-2`…, SEV-ES) differ in the low bits.
    #[must_use]
    pub const fn is_invalid(self) -> bool {
        self.0 as u32 == u32::MAX
    }

    /// The name of this exit code (`"VMEXIT_CPUID"`, `"VMEXIT_CR3_WRITE"`),
    /// or `None` for a code this crate does not know.
    #[must_use]
    pub const fn name(self) -> Option<&'static str> {
        if self.is_invalid() {
            return Some("VMEXIT_INVALID");
        }
        let index = (self.0 & 0xF) as usize;
        match self.0 {
            0x00..=0x0F => Some(CR_READ[index]),
            0x10..=0x1F => Some(CR_WRITE[index]),
            0x20..=0x2F => Some(DR_READ[index]),
            0x30..=0x3F => Some(DR_WRITE[index]),
            0x40..=0x5F => Some(EXCP[(self.0 - 0x40) as usize]),
            0x90..=0x9F => Some(CR_WRITE_TRAP[index]),
            _ => self.named(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;

    #[test]
    fn values_from_the_sources() {
        assert_eq!(ExitCode::CR0_READ.0, 0x0);
        assert_eq!(ExitCode::cr_write(RegIndex::R3).0, 0x13);
        assert_eq!(ExitCode::dr_read(RegIndex::R7).0, 0x27);
        assert_eq!(ExitCode::dr_write(RegIndex::R7).0, 0x37);
        assert_eq!(ExitCode::exception(ExceptionVector::DE).0, 0x40);
        assert_eq!(ExitCode::exception(ExceptionVector::PF).0, 0x4E);
        assert_eq!(ExitCode::INTR.0, 0x60);
        assert_eq!(ExitCode::NMI.0, 0x61);
        assert_eq!(ExitCode::VINTR.0, 0x64);
        assert_eq!(ExitCode::CPUID.0, 0x72);
        assert_eq!(ExitCode::HLT.0, 0x78);
        assert_eq!(ExitCode::IOIO.0, 0x7B);
        assert_eq!(ExitCode::MSR.0, 0x7C);
        assert_eq!(ExitCode::SHUTDOWN.0, 0x7F);
        assert_eq!(ExitCode::VMRUN.0, 0x80);
        assert_eq!(ExitCode::VMMCALL.0, 0x81);
        assert_eq!(ExitCode::RDPRU.0, 0x8E);
        assert_eq!(ExitCode::cr_write_trap(RegIndex::R4).0, 0x94);
        assert_eq!(ExitCode::NPF.0, 0x400);
        assert_eq!(ExitCode::INVALID.0, 0xFFFF_FFFF_FFFF_FFFF);
    }

    #[test]
    fn invalid_as_hardware_and_as_qemu_store_it() {
        assert!(ExitCode(u64::MAX).is_invalid());
        assert!(ExitCode(0x0000_0000_FFFF_FFFF).is_invalid());
        assert_eq!(ExitCode(0xFFFF_FFFF).name(), Some("VMEXIT_INVALID"));
        assert!(!ExitCode(0xFFFF_FFFE).is_invalid());
        assert!(!ExitCode::NPF.is_invalid());
        assert!(!ExitCode(0xFFFF_FFFF_0000_0000).is_invalid());
    }

    #[test]
    fn names() {
        assert_eq!(ExitCode::CPUID.name(), Some("VMEXIT_CPUID"));
        assert_eq!(ExitCode(0x03).name(), Some("VMEXIT_CR3_READ"));
        assert_eq!(ExitCode(0x1F).name(), Some("VMEXIT_CR15_WRITE"));
        assert_eq!(ExitCode(0x27).name(), Some("VMEXIT_DR7_READ"));
        assert_eq!(ExitCode(0x5F).name(), Some("VMEXIT_EXCP31"));
        assert_eq!(ExitCode(0x4E).name(), Some("VMEXIT_EXCP14"));
        assert_eq!(ExitCode(0x98).name(), Some("VMEXIT_CR8_WRITE_TRAP"));
        assert_eq!(ExitCode::NPF.name(), Some("VMEXIT_NPF"));
        assert_eq!(ExitCode(0xA0).name(), Some("VMEXIT_INVLPGB"));
        // Unknown codes are representable and unnamed.
        assert_eq!(ExitCode(0xA7).name(), None);
        assert_eq!(ExitCode(0x1234).name(), None);
        assert_eq!(format!("{:?}", ExitCode::HLT), "ExitCode(0x78 VMEXIT_HLT)");
    }

    #[test]
    fn exception_vectors_round_trip() {
        for vector in 0..32 {
            let v = ExceptionVector::new(vector).unwrap();
            assert_eq!(ExitCode::exception(v).exception_vector(), Some(v));
        }
        assert_eq!(ExitCode::INTR.exception_vector(), None);
        assert_eq!(ExitCode(0x3F).exception_vector(), None);
    }
}
