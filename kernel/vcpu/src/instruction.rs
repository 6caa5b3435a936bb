//! Where RIP goes after an exit that completes the guest's instruction and
//! moves past it: one rule for every such exit (issue 9, finding 7).
//!
//! - With NRIP save (CPUID `8000_000Ah` EDX bit 3), the CPU stores the
//!   next sequential RIP in the VMCB on instruction intercepts (APM vol. 2
//!   §15.7.1 "State Saved on Exit": "nRIP"); that is the answer.
//! - Without it (QEMU's TCG, `svm-on-qemu.md`), the instruction is fetched
//!   at CS:RIP through the guest's page tables and measured: legacy
//!   prefixes (and REX in 64-bit code) may precede the opcode, so a
//!   prefixed `CPUID` or `WRMSR` is longer than its opcode. Bytes that are
//!   not the instruction the exit names (the guest changed its code or its
//!   mappings meanwhile) give no answer rather than a wrong one.
//!
//! Port I/O needs neither: its EXITINFO2 always holds the next RIP.
use tessera_svm::ExitCode;

use crate::guest_walk::{self, GuestPhysical, Paging};

/// The longest x86 instruction (APM vol. 3 §1.1: 15 bytes).
pub const MAX_LENGTH: usize = 15;

/// An instruction whose exit the kernel completes by moving past it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skipped {
    Cpuid,
    Rdmsr,
    Wrmsr,
    Hlt,
    Vmmcall,
    Invd,
    /// Also `WBNOINVD` (`F3 0F 09`), which the same intercept catches.
    Wbinvd,
    Rdpmc,
    Rdtsc,
    Rdtscp,
    Pause,
}

impl Skipped {
    /// The instruction behind `exit` (`exit_info1` tells RDMSR from
    /// WRMSR), if it is one the kernel skips.
    pub fn of(exit: ExitCode, exit_info1: u64) -> Option<Self> {
        Some(match exit {
            ExitCode::CPUID => Self::Cpuid,
            ExitCode::MSR if exit_info1 == 1 => Self::Wrmsr,
            ExitCode::MSR => Self::Rdmsr,
            ExitCode::HLT => Self::Hlt,
            ExitCode::VMMCALL => Self::Vmmcall,
            ExitCode::INVD => Self::Invd,
            ExitCode::WBINVD => Self::Wbinvd,
            ExitCode::RDPMC => Self::Rdpmc,
            ExitCode::RDTSC => Self::Rdtsc,
            ExitCode::RDTSCP => Self::Rdtscp,
            ExitCode::PAUSE => Self::Pause,
            _ => return None,
        })
    }

    /// The opcode bytes after any prefixes (APM vol. 3, appendix A). PAUSE
    /// is `F3 90`: its F3 is part of the opcode, which the matcher sees as
    /// a prefix followed by `90`.
    fn opcode(self) -> &'static [u8] {
        match self {
            Self::Cpuid => &[0x0F, 0xA2],
            Self::Rdmsr => &[0x0F, 0x32],
            Self::Wrmsr => &[0x0F, 0x30],
            Self::Hlt => &[0xF4],
            Self::Vmmcall => &[0x0F, 0x01, 0xD9],
            Self::Invd => &[0x0F, 0x08],
            Self::Wbinvd => &[0x0F, 0x09],
            Self::Rdpmc => &[0x0F, 0x33],
            Self::Rdtsc => &[0x0F, 0x31],
            Self::Rdtscp => &[0x0F, 0x01, 0xF9],
            Self::Pause => &[0x90],
        }
    }

    /// Another instruction a CPU may report with this exit: QEMU's TCG
    /// raises the WBINVD intercept for INVD (measured: an INVD exit never
    /// comes). The kernel completes both the same way, so either is taken
    /// for the other.
    fn alias(self) -> Option<Self> {
        match self {
            Self::Invd => Some(Self::Wbinvd),
            Self::Wbinvd => Some(Self::Invd),
            _ => None,
        }
    }
}

/// Legacy prefixes (APM vol. 3 §1.2): operand and address size, segment
/// overrides, LOCK, REP/REPNE.
fn is_legacy_prefix(byte: u8) -> bool {
    matches!(
        byte,
        0x66 | 0x67 | 0x2E | 0x36 | 0x3E | 0x26 | 0x64 | 0x65 | 0xF0 | 0xF2 | 0xF3
    )
}

/// The length of the instruction at the start of `bytes` if it is
/// `expected`, with whatever prefixes precede it; `None` if it is not.
/// `long_mode` says the code is 64-bit, where 40h-4Fh are REX prefixes (a
/// REX not right before the opcode is ignored, but still takes a byte).
pub fn length(expected: Skipped, bytes: &[u8], long_mode: bool) -> Option<u8> {
    exact_length(expected, bytes, long_mode)
        .or_else(|| exact_length(expected.alias()?, bytes, long_mode))
}

fn exact_length(expected: Skipped, bytes: &[u8], long_mode: bool) -> Option<u8> {
    let bytes = &bytes[..bytes.len().min(MAX_LENGTH)];
    let prefixes = bytes
        .iter()
        .take_while(|&&byte| is_legacy_prefix(byte) || long_mode && byte & 0xF0 == 0x40)
        .count();
    let opcode = expected.opcode();
    let rest = &bytes[prefixes..];
    if expected == Skipped::Pause && !pause_prefix(&bytes[..prefixes]) {
        return None;
    }
    (rest.len() >= opcode.len() && &rest[..opcode.len()] == opcode)
        .then(|| (prefixes + opcode.len()) as u8)
}

/// Whether prefixes before `90` make it PAUSE: of F2 and F3 the last one
/// counts, and it must be F3.
fn pause_prefix(prefixes: &[u8]) -> bool {
    let repeat = prefixes
        .iter()
        .rev()
        .find(|&&byte| byte == 0xF2 || byte == 0xF3);
    repeat == Some(&0xF3)
}

/// The bytes at the guest's CS:RIP, as many as its mappings allow (up to
/// [`MAX_LENGTH`]), with one table walk per page they lie in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fetched {
    pub bytes: [u8; MAX_LENGTH],
    pub count: usize,
}

impl Fetched {
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.count]
    }

    /// The bytes of the instruction behind a nested page fault: where the
    /// CPU offers decode assists it fetched them already (APM vol. 2
    /// §15.33.2 "Nested and Intercepted #PF": the count at VMCB `0D0h`, the
    /// bytes from `0D1h`; a count of 0 where its own fetch faulted), else
    /// `fetch` reads them.
    pub fn for_nested_fault(
        decode_assists: bool,
        control: &tessera_svm::control_area::VmcbControlArea,
        fetch: impl FnOnce() -> Self,
    ) -> Self {
        let count = usize::from(control.guest_instruction_len).min(MAX_LENGTH);
        if decode_assists && count != 0 {
            return Self {
                bytes: control.guest_instruction_bytes,
                count,
            };
        }
        fetch()
    }
}

/// The code segment's state: what the fetch and the length need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeState {
    pub rip: u64,
    pub cs_base: u64,
    /// 16, 32 or 64.
    pub bits: u32,
    pub paging: Paging,
    pub cr3: u64,
    pub cr4: u64,
}

impl CodeState {
    pub fn of(save: &tessera_svm::save_area::VmcbSaveArea) -> Self {
        let long = save.efer & (1 << 10) != 0 && save.cs.attrib.l();
        Self {
            rip: save.rip,
            cs_base: if long { 0 } else { save.cs.base },
            bits: if long {
                64
            } else if save.cs.attrib.db() {
                32
            } else {
                16
            },
            paging: Paging::of(save.cr0, save.cr4, save.efer),
            cr3: save.cr3,
            cr4: save.cr4,
        }
    }

    /// RIP after `length` more bytes, wrapped as the code size wraps IP.
    pub fn advanced(&self, length: u64) -> u64 {
        let next = self.rip.wrapping_add(length);
        match self.bits {
            16 => next & 0xFFFF,
            32 => next & 0xFFFF_FFFF,
            _ => next,
        }
    }
}

/// Fetches up to [`MAX_LENGTH`] bytes at CS:RIP, with one walk of the
/// guest's tables per page they lie in; fewer where the code runs into a
/// page its tables or the nested ones do not map.
pub fn fetch(memory: &impl GuestPhysical, code: &CodeState) -> Fetched {
    let mut fetched = Fetched::default();
    let start = code.cs_base.wrapping_add(code.rip);
    while fetched.count < MAX_LENGTH {
        let gva = start.wrapping_add(fetched.count as u64);
        let in_page = (0x1000 - (gva & 0xFFF)) as usize;
        let wanted = in_page.min(MAX_LENGTH - fetched.count);
        let Some(page) =
            guest_walk::translate(memory, code.paging, code.cr3, code.cr4, gva & !0xFFF)
        else {
            break;
        };
        let out = &mut fetched.bytes[fetched.count..fetched.count + wanted];
        if !memory.read_bytes(page | (gva & 0xFFF), out) {
            break;
        }
        fetched.count += wanted;
    }
    fetched
}

/// Where RIP goes after the exit of `skipped` at `code.rip`: the CPU's
/// next RIP when it saves one (`nrip`: `Some` on CPUs with NRIP save),
/// else RIP plus the length of the instruction `fetch` returns. `None`
/// when the fetched bytes are not that instruction.
pub fn next_rip(
    skipped: Skipped,
    code: &CodeState,
    nrip: Option<u64>,
    fetch: impl FnOnce() -> Fetched,
) -> Option<u64> {
    if let Some(next) = nrip {
        return Some(next);
    }
    let fetched = fetch();
    let length = length(skipped, fetched.as_slice(), code.bits == 64)?;
    Some(code.advanced(u64::from(length)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_x86::{Code, Decoder, DecoderOptions};
    use proptest::prelude::*;
    use std::vec;

    const ALL: [Skipped; 11] = [
        Skipped::Cpuid,
        Skipped::Rdmsr,
        Skipped::Wrmsr,
        Skipped::Hlt,
        Skipped::Vmmcall,
        Skipped::Invd,
        Skipped::Wbinvd,
        Skipped::Rdpmc,
        Skipped::Rdtsc,
        Skipped::Rdtscp,
        Skipped::Pause,
    ];

    /// iced-x86's name for each, the oracle the matcher is checked against.
    fn codes(skipped: Skipped) -> &'static [Code] {
        match skipped {
            Skipped::Cpuid => &[Code::Cpuid],
            Skipped::Rdmsr => &[Code::Rdmsr],
            Skipped::Wrmsr => &[Code::Wrmsr],
            Skipped::Hlt => &[Code::Hlt],
            // F2 or F3 before it makes VMGEXIT, which outside an SEV-ES
            // guest acts as VMMCALL (APM vol. 3, VMGEXIT).
            Skipped::Vmmcall => &[Code::Vmmcall, Code::Vmgexit, Code::Vmgexit_F2],
            Skipped::Invd | Skipped::Wbinvd => &[Code::Invd, Code::Wbinvd, Code::Wbnoinvd],
            Skipped::Rdpmc => &[Code::Rdpmc],
            Skipped::Rdtsc => &[Code::Rdtsc],
            Skipped::Rdtscp => &[Code::Rdtscp],
            Skipped::Pause => &[Code::Pause],
        }
    }

    #[test]
    fn plain_forms_have_their_opcode_length() {
        let cases: [(Skipped, &[u8], u8); 6] = [
            (Skipped::Cpuid, &[0x0F, 0xA2], 2),
            (Skipped::Wrmsr, &[0x0F, 0x30], 2),
            (Skipped::Hlt, &[0xF4], 1),
            (Skipped::Vmmcall, &[0x0F, 0x01, 0xD9], 3),
            (Skipped::Invd, &[0x0F, 0x08], 2),
            (Skipped::Pause, &[0xF3, 0x90], 2),
        ];
        for (skipped, bytes, expected) in cases {
            assert_eq!(length(skipped, bytes, true), Some(expected), "{skipped:?}");
        }
    }

    /// Issue 9, finding 7: a prefixed CPUID, MSR access, HLT or VMMCALL
    /// left RIP in the middle of the instruction.
    #[test]
    fn prefixes_count() {
        assert_eq!(length(Skipped::Cpuid, &[0x66, 0x0F, 0xA2], false), Some(3));
        assert_eq!(
            length(Skipped::Wrmsr, &[0x2E, 0x48, 0x0F, 0x30], true),
            Some(4)
        );
        assert_eq!(length(Skipped::Hlt, &[0x3E, 0x66, 0xF4], false), Some(3));
        assert_eq!(
            length(Skipped::Vmmcall, &[0x66, 0x67, 0x0F, 0x01, 0xD9], true),
            Some(5)
        );
        // A REX byte is a prefix only in 64-bit code: elsewhere 48 is DEC.
        assert_eq!(length(Skipped::Wrmsr, &[0x48, 0x0F, 0x30], false), None);
        // WBNOINVD takes the WBINVD intercept; QEMU's TCG reports INVD
        // as WBINVD.
        assert_eq!(length(Skipped::Wbinvd, &[0xF3, 0x0F, 0x09], true), Some(3));
        assert_eq!(length(Skipped::Wbinvd, &[0x3E, 0x0F, 0x08], false), Some(3));
    }

    #[test]
    fn other_bytes_give_no_answer() {
        assert_eq!(length(Skipped::Cpuid, &[0x0F, 0x30], true), None);
        assert_eq!(length(Skipped::Cpuid, &[0x0F], true), None, "cut short");
        assert_eq!(length(Skipped::Cpuid, &[], true), None);
        assert_eq!(length(Skipped::Pause, &[0x90], true), None, "a NOP");
        // Sixteen bytes: 14 prefixes and the 2-byte opcode do not fit.
        let mut long = [0x66u8; 16];
        long[14] = 0x0F;
        long[15] = 0xA2;
        assert_eq!(length(Skipped::Cpuid, &long, true), None);
        assert_eq!(length(Skipped::Cpuid, &long[1..], true), Some(15));
    }

    #[test]
    fn the_cpus_next_rip_wins_and_ip_wraps_at_the_code_size() {
        let mut code = CodeState {
            rip: 0x1000,
            cs_base: 0,
            bits: 64,
            paging: Paging::Off,
            cr3: 0,
            cr4: 0,
        };
        let never = || -> Fetched { panic!("no fetch with NRIP save") };
        assert_eq!(
            next_rip(Skipped::Cpuid, &code, Some(0x1003), never),
            Some(0x1003)
        );
        let cpuid = || {
            let mut fetched = Fetched::default();
            fetched.bytes[..3].copy_from_slice(&[0x66, 0x0F, 0xA2]);
            fetched.count = 3;
            fetched
        };
        assert_eq!(next_rip(Skipped::Cpuid, &code, None, cpuid), Some(0x1003));
        assert_eq!(next_rip(Skipped::Hlt, &code, None, cpuid), None);
        code.bits = 16;
        code.rip = 0xFFFE;
        assert_eq!(next_rip(Skipped::Cpuid, &code, None, cpuid), Some(0x0001));
        code.bits = 32;
        code.rip = 0xFFFF_FFFF;
        assert_eq!(next_rip(Skipped::Cpuid, &code, None, cpuid), Some(2));
    }

    #[test]
    fn exits_name_their_instruction() {
        assert_eq!(Skipped::of(ExitCode::MSR, 0), Some(Skipped::Rdmsr));
        assert_eq!(Skipped::of(ExitCode::MSR, 1), Some(Skipped::Wrmsr));
        assert_eq!(Skipped::of(ExitCode::WBINVD, 0), Some(Skipped::Wbinvd));
        assert_eq!(Skipped::of(ExitCode::IOIO, 0), None);
        assert_eq!(Skipped::of(ExitCode::NPF, 0), None);
    }

    /// Guest memory for fetches: page → bytes, identity page tables off.
    struct Pages(std::collections::BTreeMap<u64, [u8; 4096]>);

    impl GuestPhysical for Pages {
        fn read_u64(&self, gpa: u64) -> Option<u64> {
            let page = self.0.get(&(gpa & !0xFFF))?;
            let at = (gpa & 0xFFF) as usize;
            Some(u64::from_le_bytes(page[at..at + 8].try_into().unwrap()))
        }
    }

    /// Issue 12 item 4: with decode assists the CPU's bytes are used; with
    /// none fetched (its fetch faulted), or without the feature, the
    /// kernel's fetch.
    #[test]
    fn nested_faults_use_the_cpus_bytes_where_it_gives_them() {
        let mut control = tessera_svm::control_area::VmcbControlArea {
            guest_instruction_len: 3,
            ..Default::default()
        };
        control.guest_instruction_bytes[..3].copy_from_slice(&[0x8B, 0x45, 0x08]);
        let fetched = || Fetched {
            bytes: [0x90; MAX_LENGTH],
            count: MAX_LENGTH,
        };
        let assisted = Fetched::for_nested_fault(true, &control, || panic!("no fetch"));
        assert_eq!(assisted.as_slice(), [0x8B, 0x45, 0x08]);
        assert_eq!(
            Fetched::for_nested_fault(false, &control, fetched).count,
            MAX_LENGTH
        );
        control.guest_instruction_len = 0;
        assert_eq!(
            Fetched::for_nested_fault(true, &control, fetched).count,
            MAX_LENGTH
        );
        control.guest_instruction_len = 200;
        let clamped = Fetched::for_nested_fault(true, &control, || panic!("no fetch"));
        assert_eq!(clamped.count, MAX_LENGTH);
    }

    /// Issue 12 item 4: every exit the kernel completes by skipping its
    /// instruction, as a CPU with NRIP save reports it (next RIP in the
    /// VMCB, prefixes counted by the CPU) and as one without does (the
    /// bytes fetched at CS:RIP).
    #[test]
    fn every_skipping_exit_takes_nrip_or_the_fetched_length() {
        let cases: [(ExitCode, u64, &[u8]); 8] = [
            (ExitCode::CPUID, 0, &[0x66, 0x0F, 0xA2]),
            (ExitCode::MSR, 0, &[0x0F, 0x32]),
            (ExitCode::MSR, 1, &[0x2E, 0x0F, 0x30]),
            (ExitCode::HLT, 0, &[0xF4]),
            (ExitCode::VMMCALL, 0, &[0x0F, 0x01, 0xD9]),
            (ExitCode::INVD, 0, &[0x0F, 0x08]),
            (ExitCode::WBINVD, 0, &[0xF3, 0x0F, 0x09]),
            (ExitCode::RDTSCP, 0, &[0x0F, 0x01, 0xF9]),
        ];
        let code = CodeState {
            rip: 0x7000,
            cs_base: 0,
            bits: 64,
            paging: Paging::Off,
            cr3: 0,
            cr4: 0,
        };
        for (exit, info1, bytes) in cases {
            let skipped = Skipped::of(exit, info1).unwrap_or_else(|| panic!("{exit:?}"));
            let length = bytes.len() as u64;
            let nrip = Some(0x7000 + length);
            let no_fetch = || -> Fetched { panic!("{exit:?}: NRIP save needs no fetch") };
            assert_eq!(next_rip(skipped, &code, nrip, no_fetch), nrip, "{exit:?}");
            let fetched = || {
                let mut fetched = Fetched::default();
                fetched.bytes[..bytes.len()].copy_from_slice(bytes);
                fetched.count = MAX_LENGTH;
                fetched
            };
            assert_eq!(
                next_rip(skipped, &code, None, fetched),
                nrip,
                "{exit:?} fetched"
            );
        }
    }

    #[test]
    fn fetches_stop_where_the_mapping_ends() {
        let mut pages = Pages(Default::default());
        let mut page = [0u8; 4096];
        page[4090..].copy_from_slice(&[0x66, 0x66, 0x66, 0x66, 0x66, 0x66]);
        pages.0.insert(0x5000, page);
        let code = CodeState {
            rip: 0x5FFA,
            cs_base: 0,
            bits: 32,
            paging: Paging::Off,
            cr3: 0,
            cr4: 0,
        };
        let fetched = fetch(&pages, &code);
        assert_eq!(fetched.count, 6, "the next page is not mapped");
        let mut next = [0u8; 4096];
        next[..2].copy_from_slice(&[0x0F, 0xA2]);
        pages.0.insert(0x6000, next);
        let fetched = fetch(&pages, &code);
        assert_eq!(fetched.count, 15);
        assert_eq!(length(Skipped::Cpuid, fetched.as_slice(), false), Some(8));
    }

    fn prefix() -> impl Strategy<Value = u8> {
        prop_oneof![
            proptest::sample::select(vec![
                0x66u8, 0x67, 0x2E, 0x36, 0x3E, 0x26, 0x64, 0x65, 0xF2, 0xF3
            ]),
            0x40u8..=0x4F,
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// Wherever iced-x86 decodes prefixes and an opcode as one of these
        /// instructions, the matcher finds the same length; wherever it
        /// decodes something else, the matcher gives no answer.
        #[test]
        fn lengths_agree_with_iced(
            prefixes in proptest::collection::vec(prefix(), 0..15),
            which in 0..ALL.len(),
            bits in proptest::sample::select(vec![16u32, 32, 64]),
            tail in proptest::collection::vec(any::<u8>(), 0..4),
        ) {
            let skipped = ALL[which];
            let mut bytes = prefixes.clone();
            bytes.extend_from_slice(skipped.opcode());
            bytes.extend_from_slice(&tail);
            let mut decoder = Decoder::new(bits, &bytes, DecoderOptions::NONE);
            let instruction = decoder.decode();
            let ours = length(skipped, &bytes, bits == 64);
            if !instruction.is_invalid() && codes(skipped).contains(&instruction.code()) {
                prop_assert_eq!(ours, Some(instruction.len() as u8));
            } else if !instruction.is_invalid() {
                prop_assert_eq!(ours, None, "iced: {:?}", instruction.code());
            }
        }
    }
}
