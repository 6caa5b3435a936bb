//! `HV_X64_MSR_GUEST_OS_ID` value encodings.

use bitfield_struct::bitfield;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use tessera_open_enum::open_enum;

/// `HV_X64_MSR_GUEST_OS_ID` in the encoding recommended for proprietary
/// operating systems (bit 63 clear).
///
/// TLFS md `hypercall-interface.md` § Guest OS Identity for proprietary
/// Operating Systems; TLFS 6.0b §2.6 (Proprietary Operating Systems).
#[bitfield(u64)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvGuestOsIdProprietary {
    /// Build Number (bits 15:0).
    pub build_number: u16,
    /// Service Version (bits 23:16), e.g. the service pack.
    pub service_version: u8,
    /// Minor Version (bits 31:24).
    pub minor_version: u8,
    /// Major Version (bits 39:32).
    pub major_version: u8,
    /// OS ID (bits 47:40): vendor-specific; for Microsoft see
    /// [`HvGuestOsMicrosoftId`].
    pub os_id: u8,
    /// Vendor ID (bits 62:48). 0 is reserved.
    #[bits(15)]
    pub vendor_id: HvGuestOsVendor,
    /// OS Type (bit 63): 0 = proprietary, 1 = open source.
    pub os_type: bool,
}

/// `HV_X64_MSR_GUEST_OS_ID` in the encoding suggested for open source
/// operating systems (bit 63 set).
///
/// TLFS md `hypercall-interface.md` § Guest OS Identity MSR for Open Source
/// Operating Systems; TLFS 6.0b §2.6 (Open Source Operating Systems).
#[bitfield(u64)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvGuestOsIdOpenSource {
    /// Build Number (bits 15:0): distribution-specific.
    pub build_number: u16,
    /// Version (bits 47:16): upstream kernel version.
    pub version: u32,
    /// OS ID (bits 55:48): additional vendor information.
    pub os_id: u8,
    /// OS Type (bits 62:56).
    #[bits(7)]
    pub os_type: HvGuestOsOpenSourceType,
    /// Open Source (bit 63): set.
    pub open_source: bool,
}

open_enum! {
    name;
    /// Known guest OS vendor IDs (proprietary encoding, bits 62:48).
    ///
    /// TLFS md `hypercall-interface.md` § Guest OS Identity for proprietary
    /// Operating Systems (vendor table; TLFS 6.0b §2.6.1.1 lacks
    /// BlackBerry). Open: vendors are allocated by Microsoft over time.
    pub struct HvGuestOsVendor(u16);

    /// Microsoft.
    MICROSOFT = 0x0001 => "Microsoft",
    /// HPE.
    HPE = 0x0002 => "HPE",
    /// BlackBerry.
    BLACKBERRY = 0x0003 => "BlackBerry",
    /// LANCOM.
    LANCOM = 0x0200 => "LANCOM",
}

open_enum! {
    name;
    /// Microsoft OS IDs (proprietary encoding, bits 47:40, when the vendor
    /// is Microsoft).
    ///
    /// TLFS md `hypercall-interface.md` (OS ID row); TLFS 6.0b §2.6 (Proprietary Operating Systems).
    pub struct HvGuestOsMicrosoftId(u8);

    /// Undefined.
    UNDEFINED = 0 => "Undefined",
    /// MS-DOS.
    MSDOS = 1 => "MS-DOS",
    /// Windows 3.x.
    WINDOWS_3X = 2 => "Windows 3.x",
    /// Windows 9x.
    WINDOWS_9X = 3 => "Windows 9x",
    /// Windows NT and derivatives.
    WINDOWS_NT = 4 => "Windows NT",
    /// Windows CE.
    WINDOWS_CE = 5 => "Windows CE",
}

open_enum! {
    name;
    /// Known open source OS types (open source encoding, bits 62:56).
    ///
    /// TLFS md `hypercall-interface.md` (OS Type table); TLFS 6.0b
    /// §2.6.2.1.
    pub struct HvGuestOsOpenSourceType(u8);

    /// Linux.
    LINUX = 0x1 => "Linux",
    /// FreeBSD.
    FREEBSD = 0x2 => "FreeBSD",
    /// Xen.
    XEN = 0x3 => "Xen",
    /// Illumos.
    ILLUMOS = 0x4 => "Illumos",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_os_id_proprietary() {
        // Windows NT 10.0 build 19041, vendor Microsoft:
        //   0x0001 << 48 | 4 << 40 | 10 << 32 | 0 << 24 | 0 << 16 | 19041
        let id = HvGuestOsIdProprietary::new()
            .with_vendor_id(HvGuestOsVendor::MICROSOFT)
            .with_os_id(HvGuestOsMicrosoftId::WINDOWS_NT.0)
            .with_major_version(10)
            .with_build_number(19041);
        assert_eq!(id.into_bits(), 0x0001_040A_0000_4A61);
        let id = HvGuestOsIdProprietary::from_bits(0x8123_4567_89AB_CDEF);
        assert!(id.os_type());
        assert_eq!(id.vendor_id(), HvGuestOsVendor(0x0123));
        assert_eq!(id.vendor_id().name(), None);
        assert_eq!(id.os_id(), 0x45);
        assert_eq!(id.major_version(), 0x67);
        assert_eq!(id.minor_version(), 0x89);
        assert_eq!(id.service_version(), 0xAB);
        assert_eq!(id.build_number(), 0xCDEF);
    }

    #[test]
    fn guest_os_id_open_source() {
        // Linux (type 1), version 0x00060800, open source bit.
        let id = HvGuestOsIdOpenSource::new()
            .with_open_source(true)
            .with_os_type(HvGuestOsOpenSourceType::LINUX)
            .with_version(0x0006_0800);
        assert_eq!(id.into_bits(), 0x8100_0006_0800_0000);
        let id = HvGuestOsIdOpenSource::from_bits(0xFE12_3456_789A_BCDE);
        assert_eq!(id.os_type(), HvGuestOsOpenSourceType(0x7E));
        assert_eq!(id.os_id(), 0x12);
        assert_eq!(id.version(), 0x3456_789A);
        assert_eq!(id.build_number(), 0xBCDE);
    }

    #[test]
    fn known_values() {
        // Vendor table and OS type table of hypercall-interface.md.
        assert_eq!(HvGuestOsVendor::MICROSOFT.0, 0x0001);
        assert_eq!(HvGuestOsVendor::HPE.0, 0x0002);
        assert_eq!(HvGuestOsVendor::BLACKBERRY.0, 0x0003);
        assert_eq!(HvGuestOsVendor::LANCOM.0, 0x0200);
        assert_eq!(HvGuestOsOpenSourceType::LINUX.0, 1);
        assert_eq!(HvGuestOsOpenSourceType::FREEBSD.0, 2);
        assert_eq!(HvGuestOsOpenSourceType::XEN.0, 3);
        assert_eq!(HvGuestOsOpenSourceType::ILLUMOS.0, 4);
        assert_eq!(HvGuestOsMicrosoftId::WINDOWS_NT.0, 4);
        assert_eq!(HvGuestOsMicrosoftId::WINDOWS_CE.0, 5);
    }
}
