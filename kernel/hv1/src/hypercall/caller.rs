//! Who is calling: the caller's privilege level and processor mode, and the
//! one fault the hypercall interface raises.

/// The guest's processor mode at the hypercall instruction.
///
/// TLFS md `hypercall-interface.md` § Hypercall Register Conventions
/// (x86/x64): "The hypervisor determines the caller's mode based on the
/// value of EFER.LMA and CS.L. If both of these flags are set, the caller is
/// assumed to be a 64-bit caller." Compatibility mode (EFER.LMA = 1, CS.L =
/// 0) is therefore a 32-bit caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CpuMode {
    /// Real mode (CR0.PE = 0). Hypercalls are not allowed (TLFS md § Legal
    /// Hypercall Environments).
    Real,
    /// Virtual-8086 mode (RFLAGS.VM = 1 outside long mode). Its CPL is
    /// always 3, so hypercalls are not allowed.
    Virtual8086,
    /// 32-bit caller: legacy protected mode, or compatibility mode.
    Protected32,
    /// 64-bit caller: EFER.LMA = 1 and CS.L = 1.
    Long64,
}

impl CpuMode {
    /// Classifies the mode from the architectural bits the kernel has in
    /// the guest state (VMCB save area).
    #[must_use]
    pub const fn from_state(cr0_pe: bool, rflags_vm: bool, efer_lma: bool, cs_l: bool) -> Self {
        if !cr0_pe {
            Self::Real
        } else if efer_lma && cs_l {
            Self::Long64
        } else if rflags_vm && !efer_lma {
            // RFLAGS.VM is ignored in long mode (AMD APM vol. 2 §1.3).
            Self::Virtual8086
        } else {
            Self::Protected32
        }
    }
}

/// Which register mapping the call uses.
///
/// TLFS md `hypercall-interface.md` § Hypercall Register Conventions
/// (x86/x64), § Hypercall Outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallingConvention {
    /// 64-bit caller: RCX input value, RDX input, R8 output, RAX result.
    X64,
    /// 32-bit caller: EDX:EAX input value, EBX:ECX input, EDI:ESI output,
    /// EDX:EAX result.
    X86,
}

/// The calling virtual processor's state that decides whether a hypercall
/// is legal at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Caller {
    /// Current privilege level (VMCB `CPL`).
    pub cpl: u8,
    /// Processor mode.
    pub mode: CpuMode,
}

impl Caller {
    /// A 64-bit caller at CPL 0.
    pub const KERNEL64: Self = Self {
        cpl: 0,
        mode: CpuMode::Long64,
    };
    /// A 32-bit (protected or compatibility mode) caller at CPL 0.
    pub const KERNEL32: Self = Self {
        cpl: 0,
        mode: CpuMode::Protected32,
    };

    /// The calling convention, or the fault for an illegal environment.
    ///
    /// TLFS md `hypercall-interface.md` § Legal Hypercall Environments;
    /// TLFS 6.0b §3.5: "Hypercalls can be invoked only from the most
    /// privileged guest processor mode. On x64 platforms, this means
    /// protected mode with a current privilege level (CPL) of zero. Although
    /// real-mode code runs with an effective CPL of zero, hypercalls are not
    /// allowed in real mode. An attempt to invoke a hypercall within an
    /// illegal processor mode will generate a #UD".
    ///
    /// # Errors
    ///
    /// [`Fault::InvalidOpcode`] for CPL > 0, real mode and virtual-8086
    /// mode.
    pub const fn convention(self) -> Result<CallingConvention, Fault> {
        match self.mode {
            _ if self.cpl != 0 => Err(Fault::InvalidOpcode),
            CpuMode::Real | CpuMode::Virtual8086 => Err(Fault::InvalidOpcode),
            CpuMode::Protected32 => Ok(CallingConvention::X86),
            CpuMode::Long64 => Ok(CallingConvention::X64),
        }
    }
}

/// An exception the hypercall raises instead of returning a status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// #UD: illegal environment (TLFS md § Legal Hypercall Environments),
    /// or an XMM fast input/output that is not advertised (TLFS md § XMM
    /// Fast Hypercall Input, § XMM Fast Hypercall Output). RIP is not
    /// advanced; the exception has no error code.
    InvalidOpcode,
}

impl Fault {
    /// The exception vector to inject (#UD = 6).
    #[must_use]
    pub const fn vector(self) -> u8 {
        match self {
            Self::InvalidOpcode => 6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_from_state() {
        assert_eq!(
            CpuMode::from_state(false, false, false, false),
            CpuMode::Real
        );
        // Real mode wins over anything else.
        assert_eq!(CpuMode::from_state(false, true, true, true), CpuMode::Real);
        assert_eq!(
            CpuMode::from_state(true, false, true, true),
            CpuMode::Long64
        );
        // Compatibility mode is a 32-bit caller.
        assert_eq!(
            CpuMode::from_state(true, false, true, false),
            CpuMode::Protected32
        );
        assert_eq!(
            CpuMode::from_state(true, false, false, false),
            CpuMode::Protected32
        );
        // CS.L without EFER.LMA is not 64-bit.
        assert_eq!(
            CpuMode::from_state(true, false, false, true),
            CpuMode::Protected32
        );
        assert_eq!(
            CpuMode::from_state(true, true, false, false),
            CpuMode::Virtual8086
        );
        // VM is ignored in long mode.
        assert_eq!(
            CpuMode::from_state(true, true, true, false),
            CpuMode::Protected32
        );
    }

    #[test]
    fn legal_environments() {
        assert_eq!(Caller::KERNEL64.convention(), Ok(CallingConvention::X64));
        assert_eq!(Caller::KERNEL32.convention(), Ok(CallingConvention::X86));
        for cpl in 1..=3 {
            for mode in [CpuMode::Long64, CpuMode::Protected32] {
                assert_eq!(Caller { cpl, mode }.convention(), Err(Fault::InvalidOpcode));
            }
        }
        for mode in [CpuMode::Real, CpuMode::Virtual8086] {
            assert_eq!(
                Caller { cpl: 0, mode }.convention(),
                Err(Fault::InvalidOpcode)
            );
        }
        assert_eq!(Fault::InvalidOpcode.vector(), 6);
    }
}
