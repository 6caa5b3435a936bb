//! What the guest's CPUID offers that the architecture's rules for its
//! control registers depend on: a CR4 or EFER bit whose feature CPUID does
//! not report is reserved (MOV to CR4, WRMSR EFER: #GP), and CR3 bits at
//! and above MAXPHYADDR are (APM vol. 2 §3.1.2, §3.1.3, §3.1.7; vol. 3,
//! CPUID Fn0000_0001, Fn0000_0007, Fn8000_0001, Fn8000_0008). The guest's
//! CPUID is the host's as `cpuid::filter` leaves it, so a state the host
//! would accept but the guest could never reach is refused too.

/// The feature bits the state rules need, from the guest's CPUID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestCpu {
    /// MAXPHYADDR (CPUID `8000_0008h` EAX bits 7:0).
    pub physical_address_bits: u8,
    /// The CR4 bits the guest may set.
    pub cr4_allowed: u64,
    /// The EFER bits the guest may set (SVME, the kernel's, aside).
    pub efer_allowed: u64,
}

/// CPUID leaves the rules read: `cpuid(leaf, subleaf)` = EAX, EBX, ECX, EDX.
const EAX: usize = 0;
const EBX: usize = 1;
const ECX: usize = 2;
const EDX: usize = 3;

/// One rule: a control-register bit and the CPUID bit that offers it.
struct Gate {
    bit: u32,
    leaf: u32,
    register: usize,
    feature: u32,
}

const fn gate(bit: u32, leaf: u32, register: usize, feature: u32) -> Gate {
    Gate {
        bit,
        leaf,
        register,
        feature,
    }
}

/// CR4 bit ← CPUID bit (APM vol. 2 §3.1.3, Figure 3-7 and the CR4 bit
/// descriptions). PCE (8) needs no feature: the legacy performance counters
/// are architectural. Bits not listed (SMXE, KL, CET, PKS, UINTR, LAM) are
/// never offered.
const CR4_GATES: [Gate; 19] = [
    gate(0, 0x1, EDX, 1),   // VME ← VME
    gate(1, 0x1, EDX, 1),   // PVI ← VME
    gate(2, 0x1, EDX, 4),   // TSD ← TSC
    gate(3, 0x1, EDX, 2),   // DE ← DE
    gate(4, 0x1, EDX, 3),   // PSE ← PSE
    gate(5, 0x1, EDX, 6),   // PAE ← PAE
    gate(6, 0x1, EDX, 7),   // MCE ← MCE
    gate(7, 0x1, EDX, 13),  // PGE ← PGE
    gate(9, 0x1, EDX, 24),  // OSFXSR ← FXSR
    gate(10, 0x1, EDX, 25), // OSXMMEXCPT ← SSE
    gate(11, 0x7, ECX, 2),  // UMIP ← UMIP
    gate(12, 0x7, ECX, 16), // LA57 ← LA57
    gate(13, 0x1, ECX, 5),  // VMXE ← VMX
    gate(16, 0x7, EBX, 0),  // FSGSBASE ← FSGSBASE
    gate(17, 0x1, ECX, 17), // PCIDE ← PCID
    gate(18, 0x1, ECX, 26), // OSXSAVE ← XSAVE
    gate(20, 0x7, EBX, 7),  // SMEP ← SMEP
    gate(21, 0x7, EBX, 20), // SMAP ← SMAP
    gate(22, 0x7, ECX, 3),  // PKE ← PKU
];

/// EFER bit ← CPUID bit (APM vol. 2 §3.1.7, Figure 3-8): SCE ← SYSCALL,
/// LME and LMA ← LM, NXE ← NX, FFXSR ← FFXSR (all in `8000_0001h` EDX).
/// LMSLE, TCE and the newer bits are never offered.
const EFER_GATES: [Gate; 5] = [
    gate(0, 0x8000_0001, EDX, 11),
    gate(8, 0x8000_0001, EDX, 29),
    gate(10, 0x8000_0001, EDX, 29),
    gate(11, 0x8000_0001, EDX, 20),
    gate(14, 0x8000_0001, EDX, 25),
];

const CR4_PCE: u64 = 1 << 8;

fn allowed(gates: &[Gate], cpuid: &impl Fn(u32, u32) -> [u32; 4]) -> u64 {
    gates
        .iter()
        .filter(|gate| cpuid(gate.leaf, 0)[gate.register] & (1 << gate.feature) != 0)
        .fold(0, |bits, gate| bits | 1 << gate.bit)
}

impl GuestCpu {
    /// The rules for a guest whose CPUID answers `cpuid(leaf, subleaf)`.
    /// Leaves past the maximum the guest reports count as all zero.
    pub fn from_cpuid(cpuid: impl Fn(u32, u32) -> [u32; 4]) -> Self {
        let max_basic = cpuid(0, 0)[EAX];
        let max_extended = cpuid(0x8000_0000, 0)[EAX];
        let present = |leaf: u32, subleaf: u32| {
            let max = if leaf >= 0x8000_0000 {
                max_extended
            } else {
                max_basic
            };
            if leaf <= max {
                cpuid(leaf, subleaf)
            } else {
                [0; 4]
            }
        };
        let physical_address_bits = match present(0x8000_0008, 0)[EAX] as u8 {
            // Without the leaf: 36 bits where PAE (PSE-36) exists.
            0 => 36,
            bits => bits.min(52),
        };
        Self {
            physical_address_bits,
            cr4_allowed: allowed(&CR4_GATES, &present) | CR4_PCE,
            efer_allowed: allowed(&EFER_GATES, &present),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CPU with everything, and one without UMIP, PCID, LA57, PKU or NX.
    fn rich(leaf: u32, _: u32) -> [u32; 4] {
        match leaf {
            0 => [0xD, 0, 0, 0],
            0x8000_0000 => [0x8000_0008, 0, 0, 0],
            0x8000_0008 => [0x3030, 0, 0, 0],
            _ => [u32::MAX; 4],
        }
    }

    fn plain(leaf: u32, subleaf: u32) -> [u32; 4] {
        let mut regs = rich(leaf, subleaf);
        match leaf {
            1 => regs[ECX] &= !(1 << 17 | 1 << 5 | 1 << 26),
            7 => regs[ECX] &= !(1 << 2 | 1 << 16 | 1 << 3),
            0x8000_0001 => regs[EDX] &= !(1 << 20),
            0x8000_0008 => regs[EAX] = 0x28,
            _ => {}
        }
        regs
    }

    #[test]
    fn cr4_bits_follow_the_guests_cpuid() {
        let everything = GuestCpu::from_cpuid(rich);
        assert_eq!(
            everything.cr4_allowed,
            0x7FFFFF & !(1 << 14 | 1 << 15 | 1 << 19)
        );
        let plain = GuestCpu::from_cpuid(plain);
        for (bit, name) in [
            (11, "UMIP"),
            (17, "PCIDE"),
            (12, "LA57"),
            (22, "PKE"),
            (18, "OSXSAVE"),
            (13, "VMXE"),
        ] {
            assert_eq!(plain.cr4_allowed & 1 << bit, 0, "{name}");
        }
        assert_ne!(plain.cr4_allowed & 1 << 5, 0, "PAE stays");
        assert_ne!(plain.cr4_allowed & CR4_PCE, 0);
    }

    #[test]
    fn efer_bits_and_maxphyaddr_follow_the_guests_cpuid() {
        let everything = GuestCpu::from_cpuid(rich);
        assert_eq!(
            everything.efer_allowed,
            1 | 1 << 8 | 1 << 10 | 1 << 11 | 1 << 14
        );
        assert_eq!(everything.physical_address_bits, 0x30);
        let plain = GuestCpu::from_cpuid(plain);
        assert_eq!(plain.efer_allowed & 1 << 11, 0, "no NX: no NXE");
        assert_eq!(plain.physical_address_bits, 40);
    }

    #[test]
    fn leaves_past_the_maximum_offer_nothing() {
        let old = |leaf: u32, _: u32| match leaf {
            0 => [1, 0, 0, 0],
            0x8000_0000 => [0x8000_0001, 0, 0, 0],
            _ => [u32::MAX; 4],
        };
        let cpu = GuestCpu::from_cpuid(old);
        assert_eq!(cpu.cr4_allowed & 1 << 11, 0, "leaf 7 is past the maximum");
        assert_eq!(cpu.physical_address_bits, 36);
    }
}
