//! Exception vectors (0–31): the index into the exception intercept word,
//! the offset of an exception exit code from `VMEXIT_EXCP0`, and the vector
//! of an injected exception.
//!
//! Vector numbers and mnemonics: APM Vol. 2 Table 8-1 ("Interrupt Vector
//! Source and Cause"); confirmed by Xen's `VMEXIT_EXCEPTION_*` list (which
//! also names `#CP` at 21) and Linux's `*_VECTOR` names. `#HV` (28), `#VC`
//! (29) and `#SX` (30) are from memory of the APM and Linux's
//! `HV_VECTOR`/`VC_VECTOR`/`SX_VECTOR`; **Unconfirmed** against Table 8-1.

/// An exception vector, always below 32.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExceptionVector(u8);

impl ExceptionVector {
    /// `#DE`, divide error.
    pub const DE: Self = Self(0);
    /// `#DB`, debug.
    pub const DB: Self = Self(1);
    /// NMI. Not an exception: it cannot be injected as one (see
    /// [`is_injectable`](Self::is_injectable)).
    pub const NMI: Self = Self(2);
    /// `#BP`, breakpoint (INT3).
    pub const BP: Self = Self(3);
    /// `#OF`, overflow (INTO).
    pub const OF: Self = Self(4);
    /// `#BR`, bound range.
    pub const BR: Self = Self(5);
    /// `#UD`, invalid opcode.
    pub const UD: Self = Self(6);
    /// `#NM`, device not available.
    pub const NM: Self = Self(7);
    /// `#DF`, double fault (error code, always zero).
    pub const DF: Self = Self(8);
    /// `#TS`, invalid TSS (error code).
    pub const TS: Self = Self(10);
    /// `#NP`, segment not present (error code).
    pub const NP: Self = Self(11);
    /// `#SS`, stack (error code).
    pub const SS: Self = Self(12);
    /// `#GP`, general protection (error code).
    pub const GP: Self = Self(13);
    /// `#PF`, page fault (error code).
    pub const PF: Self = Self(14);
    /// `#MF`, x87 floating point.
    pub const MF: Self = Self(16);
    /// `#AC`, alignment check (error code).
    pub const AC: Self = Self(17);
    /// `#MC`, machine check.
    pub const MC: Self = Self(18);
    /// `#XF`, SIMD floating point.
    pub const XF: Self = Self(19);
    /// `#CP`, control protection (error code).
    pub const CP: Self = Self(21);
    /// `#HV`, hypervisor injection (SEV-SNP). **Unconfirmed** number.
    pub const HV: Self = Self(28);
    /// `#VC`, VMM communication (SEV-ES; error code). **Unconfirmed**
    /// number and error code.
    pub const VC: Self = Self(29);
    /// `#SX`, security exception (error code). **Unconfirmed** error code.
    pub const SX: Self = Self(30);

    /// The vector `vector`, or `None` if it is 32 or above (not an
    /// exception vector).
    #[must_use]
    pub const fn new(vector: u8) -> Option<Self> {
        if vector < 32 {
            Some(Self(vector))
        } else {
            None
        }
    }

    /// The vector number.
    #[must_use]
    pub const fn get(self) -> u8 {
        self.0
    }

    /// The mnemonic (`"#PF"`), or `None` for a reserved vector.
    #[must_use]
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "#DE",
            1 => "#DB",
            2 => "NMI",
            3 => "#BP",
            4 => "#OF",
            5 => "#BR",
            6 => "#UD",
            7 => "#NM",
            8 => "#DF",
            10 => "#TS",
            11 => "#NP",
            12 => "#SS",
            13 => "#GP",
            14 => "#PF",
            16 => "#MF",
            17 => "#AC",
            18 => "#MC",
            19 => "#XF",
            21 => "#CP",
            28 => "#HV",
            29 => "#VC",
            30 => "#SX",
            _ => return None,
        })
    }

    /// Whether delivering this exception pushes an error code.
    ///
    /// `#DF`, `#TS`, `#NP`, `#SS`, `#GP`, `#PF`, `#AC`, `#CP`: Linux's
    /// `x86_exception_has_error_code` (with `#CP` as added for CET). `#VC`
    /// and `#SX`: **Unconfirmed** (from memory of APM Table 8-1).
    #[must_use]
    pub const fn pushes_error_code(self) -> bool {
        matches!(self.0, 8 | 10..=14 | 17 | 21 | 29 | 30)
    }

    /// Whether `EVENTINJ` may carry this vector with type *exception*.
    ///
    /// Injecting an exception whose vector is not an exception — NMI (2),
    /// or a reserved vector — makes `VMRUN` fail with `VMEXIT_INVALID`:
    /// QEMU's `helper_vmrun` rejects vector 2 and vectors from 31 up, and
    /// kvm-unit-tests' `test_event_injection` expects the failure for every
    /// vector outside `#DE #DB #BP #OF #BR #UD #NM #DF #TS #NP #SS #GP #PF
    /// #MF #AC #MC #XF #CP #SX` (it also excludes `#OF`/`#BR`, because they
    /// are illegal in 64-bit mode, and `#HV`/`#VC`, which only SEV guests
    /// use). This function accepts exactly that list, `#OF` and `#BR`
    /// included: whether they are legal depends on the guest's mode, which
    /// the caller must check. The APM's own statement of this rule was not
    /// available (**Unconfirmed** beyond those two sources).
    #[must_use]
    pub const fn is_injectable(self) -> bool {
        matches!(self.0, 0 | 1 | 3..=8 | 10..=14 | 16..=19 | 21 | 30)
    }
}

impl core::fmt::Debug for ExceptionVector {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.name() {
            Some(name) => write!(f, "ExceptionVector({} {name})", self.0),
            None => write!(f, "ExceptionVector({} reserved)", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range() {
        assert_eq!(ExceptionVector::new(31).map(ExceptionVector::get), Some(31));
        assert_eq!(ExceptionVector::new(32), None);
        assert_eq!(ExceptionVector::new(0xFF), None);
        assert_eq!(ExceptionVector::PF.get(), 14);
        assert_eq!(ExceptionVector::GP.get(), 13);
        assert_eq!(ExceptionVector::CP.get(), 21);
    }

    #[test]
    fn error_codes() {
        let with: [u8; 8] = [8, 10, 11, 12, 13, 14, 17, 21];
        for vector in with {
            assert!(ExceptionVector(vector).pushes_error_code(), "{vector}");
        }
        for vector in [0, 1, 2, 3, 4, 5, 6, 7, 9, 15, 16, 18, 19, 20, 28] {
            assert!(!ExceptionVector(vector).pushes_error_code(), "{vector}");
        }
    }

    #[test]
    fn injectable() {
        assert!(ExceptionVector::PF.is_injectable());
        assert!(ExceptionVector::DE.is_injectable());
        assert!(!ExceptionVector::NMI.is_injectable());
        for reserved in [9, 15, 20, 22, 23, 24, 25, 26, 27, 31] {
            assert!(!ExceptionVector(reserved).is_injectable(), "{reserved}");
        }
        assert!(!ExceptionVector::VC.is_injectable());
        assert!(!ExceptionVector::HV.is_injectable());
    }

    #[test]
    fn names() {
        assert_eq!(ExceptionVector::PF.name(), Some("#PF"));
        assert_eq!(ExceptionVector(15).name(), None);
    }
}
