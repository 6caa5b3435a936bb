//! The intercept vectors: the six 32-bit words at the start of the VMCB
//! control area, one bit per interceptable event.
//!
//! APM Table B-1 (`000h`–`017h`) and §15.9–15.14. Word and bit numbers
//! confirmed by Linux (`enum intercept_words` and the `INTERCEPT_*` bit
//! numbers, which count from bit 0 of word 0) and, for words 0–4, by Xen
//! (`CRInterceptBits`, `DRInterceptBits`, `GenericIntercept1bits`,
//! `GenericIntercept2bits`). Word 5 is in Linux only: **Unconfirmed** by a
//! second source.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::exception::ExceptionVector;
use crate::exit_code::ExitCode;

/// A control- or debug-register number, always below 16.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegIndex(u8);

impl RegIndex {
    /// Register 0 (`CR0`/`DR0`).
    pub const R0: Self = Self(0);
    /// Register 2 (`CR2`).
    pub const R2: Self = Self(2);
    /// Register 3 (`CR3`/`DR3`).
    pub const R3: Self = Self(3);
    /// Register 4 (`CR4`).
    pub const R4: Self = Self(4);
    /// Register 6 (`DR6`).
    pub const R6: Self = Self(6);
    /// Register 7 (`DR7`).
    pub const R7: Self = Self(7);
    /// Register 8 (`CR8`, the task priority register).
    pub const R8: Self = Self(8);

    /// Register `n`, or `None` if `n` is 16 or above.
    #[must_use]
    pub const fn new(n: u8) -> Option<Self> {
        if n < 16 { Some(Self(n)) } else { None }
    }

    /// The register number.
    #[must_use]
    pub const fn get(self) -> u8 {
        self.0
    }
}

/// One interceptable event: a name for one bit of the intercept vectors.
///
/// Word 3 (offset `00Ch`) and word 4 (offset `010h`) are the "misc"
/// intercept words of Table B-1. The variants carry the APM's meaning;
/// [`position`](Self::position) gives the (word, bit) pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Intercept {
    /// Reads of `CRn` (word 0, bits 15:0).
    CrRead(RegIndex),
    /// Writes of `CRn` (word 0, bits 31:16).
    CrWrite(RegIndex),
    /// Reads of `DRn` (word 1, bits 15:0).
    DrRead(RegIndex),
    /// Writes of `DRn` (word 1, bits 31:16).
    DrWrite(RegIndex),
    /// The exception with this vector (word 2, bit = vector).
    Exception(ExceptionVector),
    /// Physical maskable interrupt (word 3, bit 0).
    Intr,
    /// Physical NMI (word 3, bit 1).
    Nmi,
    /// Physical SMI (word 3, bit 2).
    Smi,
    /// Physical INIT (word 3, bit 3).
    Init,
    /// Virtual interrupt (word 3, bit 4).
    Vintr,
    /// Writes of `CR0` that change bits other than `TS` or `MP` (the
    /// "selective" CR0 write intercept; word 3, bit 5).
    Cr0SelectiveWrite,
    /// Reads of `IDTR` (SIDT; word 3, bit 6).
    IdtrRead,
    /// Reads of `GDTR` (SGDT; word 3, bit 7).
    GdtrRead,
    /// Reads of `LDTR` (SLDT; word 3, bit 8).
    LdtrRead,
    /// Reads of `TR` (STR; word 3, bit 9).
    TrRead,
    /// Writes of `IDTR` (LIDT; word 3, bit 10).
    IdtrWrite,
    /// Writes of `GDTR` (LGDT; word 3, bit 11).
    GdtrWrite,
    /// Writes of `LDTR` (LLDT; word 3, bit 12).
    LdtrWrite,
    /// Writes of `TR` (LTR; word 3, bit 13).
    TrWrite,
    /// RDTSC (word 3, bit 14).
    Rdtsc,
    /// RDPMC (word 3, bit 15).
    Rdpmc,
    /// PUSHF (word 3, bit 16).
    Pushf,
    /// POPF (word 3, bit 17).
    Popf,
    /// CPUID (word 3, bit 18).
    Cpuid,
    /// RSM (word 3, bit 19).
    Rsm,
    /// IRET (word 3, bit 20).
    Iret,
    /// Software interrupt INTn (word 3, bit 21).
    Intn,
    /// INVD (word 3, bit 22).
    Invd,
    /// PAUSE (word 3, bit 23).
    Pause,
    /// HLT (word 3, bit 24).
    Hlt,
    /// INVLPG (word 3, bit 25).
    Invlpg,
    /// INVLPGA (word 3, bit 26).
    Invlpga,
    /// IN/OUT, filtered by the I/O permission map (`IOIO_PROT`; word 3,
    /// bit 27).
    IoioProt,
    /// RDMSR/WRMSR, filtered by the MSR permission map (`MSR_PROT`; word
    /// 3, bit 28).
    MsrProt,
    /// Task switches (word 3, bit 29).
    TaskSwitch,
    /// FERR_FREEZE: processor "frozen" by an x87 error (word 3, bit 30).
    FerrFreeze,
    /// Shutdown (triple fault; word 3, bit 31). Without it a guest triple
    /// fault hangs the VP (`svm-on-qemu.md`).
    Shutdown,
    /// VMRUN (word 4, bit 0). Must be set, or `VMRUN` fails its
    /// consistency checks.
    Vmrun,
    /// VMMCALL (word 4, bit 1).
    Vmmcall,
    /// VMLOAD (word 4, bit 2).
    Vmload,
    /// VMSAVE (word 4, bit 3).
    Vmsave,
    /// STGI (word 4, bit 4).
    Stgi,
    /// CLGI (word 4, bit 5).
    Clgi,
    /// SKINIT (word 4, bit 6).
    Skinit,
    /// RDTSCP (word 4, bit 7).
    Rdtscp,
    /// ICEBP (INT1; word 4, bit 8).
    Icebp,
    /// WBINVD and WBNOINVD (word 4, bit 9).
    Wbinvd,
    /// MONITOR/MONITORX (word 4, bit 10).
    Monitor,
    /// MWAIT/MWAITX, unconditionally (word 4, bit 11).
    Mwait,
    /// MWAIT/MWAITX if the monitor hardware is armed (word 4, bit 12).
    MwaitConditional,
    /// XSETBV (word 4, bit 13).
    Xsetbv,
    /// RDPRU (word 4, bit 14).
    Rdpru,
    /// Writes of `EFER`, trapped after the guest instruction has finished
    /// (word 4, bit 15). Linux only (`TRAP_EFER_WRITE`): **Unconfirmed**
    /// by a second source.
    EferWriteTrap,
    /// Writes of `CRn`, trapped after the guest instruction has finished
    /// (word 4, bits 31:16). Linux defines `TRAP_CR0_WRITE`–`TRAP_CR8_WRITE`
    /// at bits 16–24; bits 25–31 for `CR9`–`CR15` follow the pattern and
    /// are **Unconfirmed**.
    CrWriteTrap(RegIndex),
    /// INVLPGB (word 5, bit 0). **Unconfirmed** (Linux only).
    Invlpgb,
    /// INVLPGB with an illegal operand (word 5, bit 1). **Unconfirmed**
    /// (Linux only).
    InvlpgbIllegal,
    /// INVPCID (word 5, bit 2). **Unconfirmed** (Linux only).
    Invpcid,
    /// MCOMMIT (word 5, bit 3). **Unconfirmed** (Linux only).
    Mcommit,
    /// TLBSYNC (word 5, bit 4). **Unconfirmed** (Linux only).
    Tlbsync,
    /// Bus lock (word 5, bit 5). **Unconfirmed** (Linux only).
    BusLock,
    /// HLT with no pending virtual interrupt (word 5, bit 6).
    /// **Unconfirmed** (Linux only).
    IdleHlt,
}

/// Where an [`Intercept`] lives: bit `bit` of intercept word `word`
/// (word *n* is at control-area offset `4 * n`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InterceptBit {
    /// The word, 0–5.
    pub word: usize,
    /// The bit within the word, 0–31.
    pub bit: u32,
}

impl Intercept {
    /// The (word, bit) this intercept occupies.
    #[must_use]
    #[inline]
    pub const fn position(self) -> InterceptBit {
        use Intercept as I;
        let (word, bit) = match self {
            I::CrRead(r) => (0, r.0 as u32),
            I::CrWrite(r) => (0, 16 + r.0 as u32),
            I::DrRead(r) => (1, r.0 as u32),
            I::DrWrite(r) => (1, 16 + r.0 as u32),
            I::Exception(v) => (2, v.get() as u32),
            I::Intr => (3, 0),
            I::Nmi => (3, 1),
            I::Smi => (3, 2),
            I::Init => (3, 3),
            I::Vintr => (3, 4),
            I::Cr0SelectiveWrite => (3, 5),
            I::IdtrRead => (3, 6),
            I::GdtrRead => (3, 7),
            I::LdtrRead => (3, 8),
            I::TrRead => (3, 9),
            I::IdtrWrite => (3, 10),
            I::GdtrWrite => (3, 11),
            I::LdtrWrite => (3, 12),
            I::TrWrite => (3, 13),
            I::Rdtsc => (3, 14),
            I::Rdpmc => (3, 15),
            I::Pushf => (3, 16),
            I::Popf => (3, 17),
            I::Cpuid => (3, 18),
            I::Rsm => (3, 19),
            I::Iret => (3, 20),
            I::Intn => (3, 21),
            I::Invd => (3, 22),
            I::Pause => (3, 23),
            I::Hlt => (3, 24),
            I::Invlpg => (3, 25),
            I::Invlpga => (3, 26),
            I::IoioProt => (3, 27),
            I::MsrProt => (3, 28),
            I::TaskSwitch => (3, 29),
            I::FerrFreeze => (3, 30),
            I::Shutdown => (3, 31),
            I::Vmrun => (4, 0),
            I::Vmmcall => (4, 1),
            I::Vmload => (4, 2),
            I::Vmsave => (4, 3),
            I::Stgi => (4, 4),
            I::Clgi => (4, 5),
            I::Skinit => (4, 6),
            I::Rdtscp => (4, 7),
            I::Icebp => (4, 8),
            I::Wbinvd => (4, 9),
            I::Monitor => (4, 10),
            I::Mwait => (4, 11),
            I::MwaitConditional => (4, 12),
            I::Xsetbv => (4, 13),
            I::Rdpru => (4, 14),
            I::EferWriteTrap => (4, 15),
            I::CrWriteTrap(r) => (4, 16 + r.0 as u32),
            I::Invlpgb => (5, 0),
            I::InvlpgbIllegal => (5, 1),
            I::Invpcid => (5, 2),
            I::Mcommit => (5, 3),
            I::Tlbsync => (5, 4),
            I::BusLock => (5, 5),
            I::IdleHlt => (5, 6),
        };
        InterceptBit { word, bit }
    }

    /// The exit code this intercept produces.
    ///
    /// Words 0–2 map to `CRn`/`DRn` reads and writes (`00h`–`3Fh`) and
    /// `VMEXIT_EXCPn` (`40h` + vector). For words 3–5 the exit code is
    /// `60h + 32 * (word - 3) + bit` — a regularity of Appendix C that the
    /// named [`ExitCode`] constants confirm (see the tests).
    #[must_use]
    pub const fn exit_code(self) -> ExitCode {
        let InterceptBit { word, bit } = self.position();
        let code = match word {
            0 | 1 => 0x20 * word as u64 + bit as u64,
            2 => 0x40 + bit as u64,
            _ => 0x60 + 32 * (word as u64 - 3) + bit as u64,
        };
        ExitCode(code)
    }
}

/// The intercept vectors: control-area words 0–5 (offsets `000h`–`017h`).
///
/// APM Table B-1. Word 0 is CR reads (15:0) and writes (31:16), word 1 DR
/// reads and writes, word 2 exceptions, words 3 and 4 the miscellaneous
/// intercepts, word 5 the newer instruction intercepts. All bits clear
/// means nothing is intercepted — which `VMRUN` rejects, because the
/// `VMRUN` intercept must be set.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct InterceptVector {
    /// The six words, in offset order.
    pub words: [u32; 6],
}

const _: () = assert!(size_of::<InterceptVector>() == 0x18);

impl InterceptVector {
    /// Sets (`true`) or clears (`false`) one intercept.
    #[inline]
    pub const fn set(&mut self, intercept: Intercept, on: bool) {
        let InterceptBit { word, bit } = intercept.position();
        if on {
            self.words[word] |= 1 << bit;
        } else {
            self.words[word] &= !(1 << bit);
        }
    }

    /// Builder form of [`set`](Self::set).
    #[must_use]
    pub const fn with(mut self, intercept: Intercept, on: bool) -> Self {
        self.set(intercept, on);
        self
    }

    /// Whether one intercept is set.
    #[must_use]
    #[inline]
    pub const fn is_set(&self, intercept: Intercept) -> bool {
        let InterceptBit { word, bit } = intercept.position();
        self.words[word] & (1 << bit) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(n: u8) -> RegIndex {
        RegIndex::new(n).unwrap()
    }

    #[test]
    fn linux_bit_numbers() {
        // Linux numbers intercepts as 32 * word + bit.
        let flat = |i: Intercept| {
            let p = i.position();
            p.word * 32 + p.bit as usize
        };
        assert_eq!(flat(Intercept::CrRead(RegIndex::R0)), 0);
        assert_eq!(flat(Intercept::CrRead(RegIndex::R8)), 8);
        assert_eq!(flat(Intercept::CrWrite(RegIndex::R3)), 16 + 3);
        assert_eq!(flat(Intercept::DrRead(RegIndex::R0)), 32);
        assert_eq!(flat(Intercept::DrWrite(RegIndex::R7)), 48 + 7);
        assert_eq!(flat(Intercept::Exception(ExceptionVector::DE)), 64);
        assert_eq!(flat(Intercept::Intr), 96);
        assert_eq!(flat(Intercept::Cpuid), 96 + 18);
        assert_eq!(flat(Intercept::IoioProt), 96 + 27);
        assert_eq!(flat(Intercept::MsrProt), 96 + 28);
        assert_eq!(flat(Intercept::Shutdown), 127);
        assert_eq!(flat(Intercept::Vmrun), 128);
        assert_eq!(flat(Intercept::Rdpru), 128 + 14);
        assert_eq!(flat(Intercept::EferWriteTrap), 128 + 15);
        assert_eq!(flat(Intercept::CrWriteTrap(RegIndex::R8)), 128 + 24);
        assert_eq!(flat(Intercept::Invlpgb), 160);
        assert_eq!(flat(Intercept::IdleHlt), 166);
    }

    #[test]
    fn xen_masks() {
        // Xen's GENERAL1/GENERAL2 masks.
        let v = InterceptVector::default()
            .with(Intercept::Cpuid, true)
            .with(Intercept::Hlt, true)
            .with(Intercept::Shutdown, true);
        assert_eq!(v.words[3], (1 << 18) | (1 << 24) | (1 << 31));
        let v = InterceptVector::default()
            .with(Intercept::Vmrun, true)
            .with(Intercept::Vmmcall, true)
            .with(Intercept::Xsetbv, true);
        assert_eq!(v.words[4], 1 | 2 | (1 << 13));
    }

    #[test]
    fn set_clear_and_bytes() {
        let mut v = InterceptVector::default();
        v.set(Intercept::MsrProt, true);
        v.set(Intercept::Exception(ExceptionVector::PF), true);
        v.set(Intercept::CrWrite(reg(15)), true);
        assert!(v.is_set(Intercept::MsrProt));
        assert!(!v.is_set(Intercept::IoioProt));
        let bytes = v.as_bytes();
        // Word 3 at offset 0x0C: MSR_PROT is bit 28 → byte 0x0F, bit 4.
        assert_eq!(bytes[0x0F], 1 << 4);
        // Word 2 at offset 0x08: #PF is bit 14 → byte 0x09, bit 6.
        assert_eq!(bytes[0x09], 1 << 6);
        // CR15 write: word 0 bit 31 → byte 3, bit 7.
        assert_eq!(bytes[0x03], 1 << 7);
        assert_eq!(bytes.len(), 24);
        v.set(Intercept::MsrProt, false);
        assert!(!v.is_set(Intercept::MsrProt));
    }

    #[test]
    fn reg_index_range() {
        assert_eq!(RegIndex::new(15).map(RegIndex::get), Some(15));
        assert_eq!(RegIndex::new(16), None);
    }

    #[test]
    fn exit_codes_follow_the_named_constants() {
        let pairs = [
            (Intercept::CrRead(RegIndex::R0), ExitCode::CR0_READ),
            (
                Intercept::CrWrite(RegIndex::R8),
                ExitCode::cr_write(RegIndex::R8),
            ),
            (
                Intercept::DrRead(RegIndex::R7),
                ExitCode::dr_read(RegIndex::R7),
            ),
            (Intercept::DrWrite(RegIndex::R0), ExitCode(0x30)),
            (Intercept::Exception(ExceptionVector::PF), ExitCode(0x4E)),
            (Intercept::Intr, ExitCode::INTR),
            (Intercept::Nmi, ExitCode::NMI),
            (Intercept::Vintr, ExitCode::VINTR),
            (Intercept::Cr0SelectiveWrite, ExitCode::CR0_SEL_WRITE),
            (Intercept::Cpuid, ExitCode::CPUID),
            (Intercept::Hlt, ExitCode::HLT),
            (Intercept::IoioProt, ExitCode::IOIO),
            (Intercept::MsrProt, ExitCode::MSR),
            (Intercept::Shutdown, ExitCode::SHUTDOWN),
            (Intercept::Vmrun, ExitCode::VMRUN),
            (Intercept::Vmmcall, ExitCode::VMMCALL),
            (Intercept::MwaitConditional, ExitCode::MWAIT_CONDITIONAL),
            (Intercept::Rdpru, ExitCode::RDPRU),
            (Intercept::EferWriteTrap, ExitCode::EFER_WRITE_TRAP),
            (Intercept::CrWriteTrap(RegIndex::R4), ExitCode(0x94)),
            (Intercept::Invpcid, ExitCode::INVPCID),
            (Intercept::IdleHlt, ExitCode::IDLE_HLT),
        ];
        for (intercept, code) in pairs {
            assert_eq!(intercept.exit_code(), code, "{intercept:?}");
        }
    }
}
