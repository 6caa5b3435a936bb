//! What every table shares: the checksum, the system description table
//! header (ACPI 6.5 §5.2.6), the generic address structure (§5.2.3.2),
//! and the root pointer (§5.2.5.3).

use zerocopy::little_endian::{U32, U64};
use zerocopy::{Immutable, IntoBytes, KnownLayout, Unaligned};

/// The OEM ID of every table and of the RSDP.
pub const OEM_ID: [u8; 6] = *b"TESSRA";
/// The OEM table ID of every table.
pub const OEM_TABLE_ID: [u8; 8] = *b"TESSERA ";
/// The OEM revision of every table.
pub const OEM_REVISION: u32 = 1;
/// The creator ID (the tool that made the tables): this crate.
pub const CREATOR_ID: [u8; 4] = *b"TSRA";
/// The creator revision.
pub const CREATOR_REVISION: u32 = 1;

/// The byte that makes `bytes` sum to zero (mod 256) when added: every
/// ACPI checksum (§5.2.5.3, §5.2.6).
#[must_use]
pub fn checksum(bytes: &[u8]) -> u8 {
    0u8.wrapping_sub(bytes.iter().fold(0u8, |sum, b| sum.wrapping_add(*b)))
}

/// The system description table header (§5.2.6, Table 5.4), 36 bytes.
#[derive(Clone, Copy, Debug, IntoBytes, Immutable, KnownLayout, Unaligned)]
#[repr(C)]
pub struct SdtHeader {
    pub signature: [u8; 4],
    /// Length of the whole table, this header included.
    pub length: U32,
    pub revision: u8,
    /// Makes the whole table sum to zero.
    pub checksum: u8,
    pub oem_id: [u8; 6],
    pub oem_table_id: [u8; 8],
    pub oem_revision: U32,
    pub creator_id: [u8; 4],
    pub creator_revision: U32,
}

const _: () = assert!(size_of::<SdtHeader>() == 36);

impl SdtHeader {
    /// A header with this crate's OEM and creator fields; the length and
    /// checksum are [`seal`]ed once the table is whole.
    #[must_use]
    pub fn new(signature: [u8; 4], revision: u8) -> Self {
        Self {
            signature,
            length: U32::new(0),
            revision,
            checksum: 0,
            oem_id: OEM_ID,
            oem_table_id: OEM_TABLE_ID,
            oem_revision: U32::new(OEM_REVISION),
            creator_id: CREATOR_ID,
            creator_revision: U32::new(CREATOR_REVISION),
        }
    }
}

/// Offsets of the header's length and checksum fields.
const LENGTH_OFFSET: usize = 4;
const CHECKSUM_OFFSET: usize = 9;

/// Sets a whole table's length field to its size and its checksum so that
/// it sums to zero. `table` starts with an [`SdtHeader`].
pub fn seal(table: &mut [u8]) {
    let length = u32::try_from(table.len()).unwrap_or(u32::MAX);
    table[LENGTH_OFFSET..LENGTH_OFFSET + 4].copy_from_slice(&length.to_le_bytes());
    table[CHECKSUM_OFFSET] = 0;
    table[CHECKSUM_OFFSET] = checksum(table);
}

/// Address space IDs of a generic address structure (§5.2.3.2, Table 5.2).
pub mod address_space {
    pub const SYSTEM_MEMORY: u8 = 0;
    pub const SYSTEM_IO: u8 = 1;
}

/// A generic address structure (§5.2.3.2, Table 5.1), 12 bytes.
#[derive(Clone, Copy, Debug, Default, IntoBytes, Immutable, KnownLayout, Unaligned)]
#[repr(C)]
pub struct GenericAddress {
    pub address_space: u8,
    pub bit_width: u8,
    pub bit_offset: u8,
    /// 1 byte, 2 word, 3 dword, 4 qword; 0 undefined.
    pub access_size: u8,
    pub address: U64,
}

const _: () = assert!(size_of::<GenericAddress>() == 12);

impl GenericAddress {
    /// A byte-wide register at I/O port `port`.
    #[must_use]
    pub fn io_byte(port: u16) -> Self {
        Self {
            address_space: address_space::SYSTEM_IO,
            bit_width: 8,
            bit_offset: 0,
            access_size: 1,
            address: U64::new(u64::from(port)),
        }
    }
}

/// The root system description pointer, revision 2 (§5.2.5.3, Table
/// 5.3), 36 bytes.
#[derive(Clone, Copy, Debug, IntoBytes, Immutable, KnownLayout, Unaligned)]
#[repr(C)]
pub struct Rsdp {
    /// `"RSD PTR "`.
    pub signature: [u8; 8],
    /// Makes the first 20 bytes (the ACPI 1.0 structure) sum to zero.
    pub checksum: u8,
    pub oem_id: [u8; 6],
    /// 2: ACPI 2.0 and later, with the XSDT.
    pub revision: u8,
    /// The RSDT's address: 0, there is none (the XSDT replaces it).
    pub rsdt_address: U32,
    /// 36.
    pub length: U32,
    pub xsdt_address: U64,
    /// Makes the whole structure sum to zero.
    pub extended_checksum: u8,
    pub reserved: [u8; 3],
}

const _: () = assert!(size_of::<Rsdp>() == 36);

/// The RSDP's signature.
pub const RSDP_SIGNATURE: [u8; 8] = *b"RSD PTR ";

impl Rsdp {
    /// The root pointer to the XSDT at `xsdt`, both checksums set.
    #[must_use]
    pub fn new(xsdt: u64) -> Self {
        let mut rsdp = Self {
            signature: RSDP_SIGNATURE,
            checksum: 0,
            oem_id: OEM_ID,
            revision: 2,
            rsdt_address: U32::new(0),
            length: U32::new(size_of::<Self>() as u32),
            xsdt_address: U64::new(xsdt),
            extended_checksum: 0,
            reserved: [0; 3],
        };
        rsdp.checksum = checksum(&rsdp.as_bytes()[..20]);
        rsdp.extended_checksum = checksum(rsdp.as_bytes());
        rsdp
    }
}
