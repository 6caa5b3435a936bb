//! A small AML encoder: the part of "ACPI Machine Language" (ACPI 6.5
//! §20) a static DSDT needs — scopes, devices, named data objects
//! (integers, strings, buffers, packages) and name strings.
//!
//! Names are [`NameSeg`]s, checked when they are made (in a `const`, at
//! compile time). Encoding returns [`AmlError::TooLong`] for a package
//! past the 2^28-byte limit of a PkgLength (§20.2.4) and never panics.

use alloc::vec::Vec;
use core::fmt;

/// `ZeroOp`, `OneOp` (§20.2.3).
const ZERO_OP: u8 = 0x00;
const ONE_OP: u8 = 0x01;
/// `NameOp` (§20.2.5.1).
const NAME_OP: u8 = 0x08;
/// Integer prefixes: `BytePrefix`, `WordPrefix`, `DWordPrefix`,
/// `StringPrefix`, `QWordPrefix` (§20.2.3).
const BYTE_PREFIX: u8 = 0x0A;
const WORD_PREFIX: u8 = 0x0B;
const DWORD_PREFIX: u8 = 0x0C;
const STRING_PREFIX: u8 = 0x0D;
const QWORD_PREFIX: u8 = 0x0E;
/// `ScopeOp` (§20.2.5.1).
const SCOPE_OP: u8 = 0x10;
/// `BufferOp`, `PackageOp` (§20.2.5.4).
const BUFFER_OP: u8 = 0x11;
const PACKAGE_OP: u8 = 0x12;
/// `DualNamePrefix`, `MultiNamePrefix`, `RootChar` (§20.2.2).
const DUAL_NAME_PREFIX: u8 = 0x2E;
const MULTI_NAME_PREFIX: u8 = 0x2F;
const ROOT_CHAR: u8 = b'\\';
/// `ExtOpPrefix` and `DeviceOp` (§20.2.5.2: `DefDevice := DeviceOp
/// PkgLength NameString TermList`, `DeviceOp := ExtOpPrefix 0x82`).
const EXT_OP_PREFIX: u8 = 0x5B;
const DEVICE_OP: u8 = 0x82;

/// The largest length a PkgLength encodes (28 bits, §20.2.4).
pub const MAX_PKG_LENGTH: usize = (1 << 28) - 1;

/// Why AML could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AmlError {
    /// A scope, device, buffer or package longer than a PkgLength holds.
    TooLong { len: usize },
    /// A package with more than 255 elements (`NumElements` is a byte).
    TooManyElements { count: usize },
    /// A string with a byte outside 0x01-0x7F (`AsciiCharList`, §20.2.3).
    BadString,
    /// A name path with more than 255 segments.
    TooManySegments { count: usize },
}

impl fmt::Display for AmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong { len } => write!(
                f,
                "an AML package of {len} bytes exceeds the PkgLength limit {MAX_PKG_LENGTH}"
            ),
            Self::TooManyElements { count } => {
                write!(f, "an AML package of {count} elements exceeds 255")
            }
            Self::BadString => f.write_str("an AML string holds a byte outside 0x01-0x7F"),
            Self::TooManySegments { count } => {
                write!(f, "an AML name path of {count} segments exceeds 255")
            }
        }
    }
}

/// A four-character name segment (§20.2.2: `NameSeg := LeadNameChar
/// NameChar NameChar NameChar`, lead `A-Z` or `_`, then `A-Z`, `0-9`, `_`).
/// Shorter names are padded with `_`, as ASL compilers do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameSeg([u8; 4]);

impl NameSeg {
    /// The segment `name` (1 to 4 characters). An invalid name panics — in
    /// a `const`, at compile time.
    #[must_use]
    pub const fn new(name: &str) -> Self {
        match Self::from_bytes(name.as_bytes()) {
            Some(seg) => seg,
            None => panic!("not an AML name segment"),
        }
    }

    /// The segment `name` (1 to 4 bytes), or `None` if it is not one.
    #[must_use]
    pub const fn from_bytes(name: &[u8]) -> Option<Self> {
        if name.is_empty() || name.len() > 4 {
            return None;
        }
        let mut seg = [b'_'; 4];
        let mut i = 0;
        while i < name.len() {
            let c = name[i];
            let lead = c.is_ascii_uppercase() || c == b'_';
            if !(lead || (i > 0 && c.is_ascii_digit())) {
                return None;
            }
            seg[i] = c;
            i += 1;
        }
        Some(Self(seg))
    }

    /// The four bytes.
    #[must_use]
    pub const fn bytes(self) -> [u8; 4] {
        self.0
    }
}

/// A named data object's value (§20.2.3 `DataObject`, §20.2.5.4
/// `DefBuffer`, `DefPackage`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Data<'a> {
    /// An integer, in the shortest encoding.
    Integer(u64),
    /// An ASCII string (bytes 0x01-0x7F).
    String(&'a str),
    /// A buffer (such as a resource template, [`crate::resources`]).
    Buffer(Vec<u8>),
    /// A package of data objects.
    Package(Vec<Data<'a>>),
}

/// `len` bytes of body as `PkgLength` (§20.2.4), which counts its own
/// bytes too.
pub fn pkg_length(body: usize, out: &mut Vec<u8>) -> Result<(), AmlError> {
    let too_long = AmlError::TooLong { len: body };
    // One byte holds 0..=63; with k following bytes, 4 + 8k bits.
    if body < 63 {
        out.push((body + 1) as u8);
        return Ok(());
    }
    for extra in 1..=3usize {
        let total = body.checked_add(1 + extra).ok_or(too_long)?;
        if total < 1 << (4 + 8 * extra) {
            out.push(((extra as u8) << 6) | (total & 0xF) as u8);
            for byte in 0..extra {
                out.push((total >> (4 + 8 * byte)) as u8);
            }
            return Ok(());
        }
    }
    Err(too_long)
}

/// A name string (§20.2.2): `\` first if `absolute`, then the segments
/// (none: `NullName`; two: `DualNamePrefix`; more: `MultiNamePrefix`).
pub fn name_string(
    absolute: bool,
    segments: &[NameSeg],
    out: &mut Vec<u8>,
) -> Result<(), AmlError> {
    if absolute {
        out.push(ROOT_CHAR);
    }
    match segments.len() {
        0 => out.push(0),
        1 => {}
        2 => out.push(DUAL_NAME_PREFIX),
        count => {
            let count = u8::try_from(count).map_err(|_| AmlError::TooManySegments { count })?;
            out.extend_from_slice(&[MULTI_NAME_PREFIX, count]);
        }
    }
    for seg in segments {
        out.extend_from_slice(&seg.0);
    }
    Ok(())
}

/// An integer in its shortest form (§20.2.3 `ComputationalData`).
pub fn integer(value: u64, out: &mut Vec<u8>) {
    match value {
        0 => out.push(ZERO_OP),
        1 => out.push(ONE_OP),
        v if v <= 0xFF => out.extend_from_slice(&[BYTE_PREFIX, v as u8]),
        v if v <= 0xFFFF => {
            out.push(WORD_PREFIX);
            out.extend_from_slice(&(v as u16).to_le_bytes());
        }
        v if v <= 0xFFFF_FFFF => {
            out.push(DWORD_PREFIX);
            out.extend_from_slice(&(v as u32).to_le_bytes());
        }
        v => {
            out.push(QWORD_PREFIX);
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
}

/// A data object.
pub fn data(value: &Data<'_>, out: &mut Vec<u8>) -> Result<(), AmlError> {
    match value {
        Data::Integer(v) => integer(*v, out),
        Data::String(s) => {
            if s.bytes().any(|b| !(0x01..=0x7F).contains(&b)) {
                return Err(AmlError::BadString);
            }
            out.push(STRING_PREFIX);
            out.extend_from_slice(s.as_bytes());
            out.push(0);
        }
        Data::Buffer(bytes) => {
            // DefBuffer := BufferOp PkgLength BufferSize ByteList.
            let mut body = Vec::new();
            integer(bytes.len() as u64, &mut body);
            body.extend_from_slice(bytes);
            out.push(BUFFER_OP);
            pkg_length(body.len(), out)?;
            out.extend_from_slice(&body);
        }
        Data::Package(elements) => {
            // DefPackage := PackageOp PkgLength NumElements PackageElementList.
            let count = u8::try_from(elements.len()).map_err(|_| AmlError::TooManyElements {
                count: elements.len(),
            })?;
            let mut body = alloc::vec![count];
            for element in elements {
                data(element, &mut body)?;
            }
            out.push(PACKAGE_OP);
            pkg_length(body.len(), out)?;
            out.extend_from_slice(&body);
        }
    }
    Ok(())
}

/// A term list under construction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Terms(Vec<u8>);

impl Terms {
    /// An empty term list.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// `Name (NAME, DATA)`.
    pub fn name(&mut self, name: NameSeg, value: &Data<'_>) -> Result<&mut Self, AmlError> {
        self.0.push(NAME_OP);
        name_string(false, &[name], &mut self.0)?;
        data(value, &mut self.0)?;
        Ok(self)
    }

    /// `Scope (PATH) { BODY }` (`absolute`: the path starts at `\`).
    pub fn scope(
        &mut self,
        absolute: bool,
        path: &[NameSeg],
        body: &Terms,
    ) -> Result<&mut Self, AmlError> {
        self.0.push(SCOPE_OP);
        self.package(absolute, path, body)?;
        Ok(self)
    }

    /// `Device (NAME) { BODY }`.
    pub fn device(&mut self, name: NameSeg, body: &Terms) -> Result<&mut Self, AmlError> {
        self.0.extend_from_slice(&[EXT_OP_PREFIX, DEVICE_OP]);
        self.package(false, &[name], body)?;
        Ok(self)
    }

    /// `PkgLength NameString TermList`.
    fn package(&mut self, absolute: bool, path: &[NameSeg], body: &Terms) -> Result<(), AmlError> {
        let mut inner = Vec::new();
        name_string(absolute, path, &mut inner)?;
        inner.extend_from_slice(&body.0);
        pkg_length(inner.len(), &mut self.0)?;
        self.0.extend_from_slice(&inner);
        Ok(())
    }

    /// The encoded terms.
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The encoded terms, owned.
    #[must_use]
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

/// The 32-bit compressed EISA ID of a 7-character PNP ID such as `PNP0501`
/// (three letters of 5 bits each, then four hex digits; stored so that its
/// little-endian bytes read the letters first, as ASL's `EisaId()`
/// encodes it). `None` if `id` is not three upper-case letters and four
/// upper-case hex digits.
#[must_use]
pub const fn eisa_id(id: &str) -> Option<u32> {
    let b = id.as_bytes();
    if b.len() != 7 {
        return None;
    }
    let mut letters = 0u32;
    let mut i = 0;
    while i < 3 {
        if !b[i].is_ascii_uppercase() {
            return None;
        }
        letters = (letters << 5) | (b[i] - 0x40) as u32;
        i += 1;
    }
    let mut product = 0u32;
    while i < 7 {
        let digit = match b[i] {
            c @ b'0'..=b'9' => c - b'0',
            c @ b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        product = (product << 4) | digit as u32;
        i += 1;
    }
    // Big-endian: the letters' 16 bits, then the product's.
    Some(((letters << 16) | product).swap_bytes())
}
