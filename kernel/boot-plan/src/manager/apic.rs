//! The local APIC a partition's VPs get: the manifest's `apic` key, the
//! partition record's `apic` byte, and word 5 of `PartitionCreate`
//! (`tessera_abi::vm::apic`).

/// Which local APIC a partition's VPs have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum ApicKind {
    /// None: no interrupt controller (the guest sees no APIC in CPUID and
    /// `IA32_APIC_BASE` globally disabled).
    #[default]
    None = 0,
    /// A local APIC per VP in xAPIC mode; x2APIC not offered.
    Xapic = 1,
    /// A local APIC per VP, x2APIC offered (CPUID 1 ECX\[21\]).
    X2apic = 2,
}

impl ApicKind {
    /// The kind stored as `byte`, if any.
    #[must_use]
    pub const fn from_u8(byte: u8) -> Option<Self> {
        match byte {
            0 => Some(Self::None),
            1 => Some(Self::Xapic),
            2 => Some(Self::X2apic),
            _ => None,
        }
    }

    /// The kind the manifest names `name` (`"xapic"`, `"x2apic"`).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "xapic" => Some(Self::Xapic),
            "x2apic" => Some(Self::X2apic),
            _ => None,
        }
    }

    /// Word 5 of `PartitionCreate` (`tessera_abi::vm::apic`).
    #[must_use]
    pub const fn create_word(self) -> u64 {
        self as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_name_and_word_agree() {
        for kind in [ApicKind::None, ApicKind::Xapic, ApicKind::X2apic] {
            assert_eq!(ApicKind::from_u8(kind as u8), Some(kind));
        }
        assert_eq!(ApicKind::from_u8(3), None);
        assert_eq!(ApicKind::from_u8(0xFF), None);
        assert_eq!(ApicKind::from_name("xapic"), Some(ApicKind::Xapic));
        assert_eq!(ApicKind::from_name("x2apic"), Some(ApicKind::X2apic));
        assert_eq!(ApicKind::from_name("none"), None);
        assert_eq!(ApicKind::from_name("X2APIC"), None);
        assert_eq!(ApicKind::None.create_word(), tessera_abi::vm::apic::NONE);
        assert_eq!(ApicKind::Xapic.create_word(), tessera_abi::vm::apic::XAPIC);
        assert_eq!(
            ApicKind::X2apic.create_word(),
            tessera_abi::vm::apic::X2APIC
        );
    }
}
