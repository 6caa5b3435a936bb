//! A decoder for the AML subset the encoder writes (ACPI 6.5 §20), written
//! from the grammar independently of the encoder, so that the tests check
//! what the bytes mean rather than which bytes the encoder chose.
#![allow(dead_code)]

/// A decoded term.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Term {
    Scope { path: String, body: Vec<Term> },
    Device { name: String, body: Vec<Term> },
    Name { name: String, value: Value },
}

/// A decoded data object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Integer(u64),
    String(String),
    Buffer(Vec<u8>),
    Package(Vec<Value>),
}

/// Reads bytes in order; every read fails cleanly past the end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, String> {
        let b = *self.bytes.get(self.at).ok_or("unexpected end")?;
        self.at += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).ok_or("overflow")?;
        let s = self.bytes.get(self.at..end).ok_or("unexpected end")?;
        self.at = end;
        Ok(s)
    }

    fn le(&mut self, n: usize) -> Result<u64, String> {
        Ok(self
            .take(n)?
            .iter()
            .rev()
            .fold(0u64, |v, b| (v << 8) | u64::from(*b)))
    }

    /// PkgLength (§20.2.4): returns the end offset of the package.
    fn pkg_end(&mut self) -> Result<usize, String> {
        let start = self.at;
        let lead = self.byte()?;
        let follow = usize::from(lead >> 6);
        let len = if follow == 0 {
            usize::from(lead & 0x3F)
        } else {
            if lead & 0x30 != 0 {
                return Err(format!("PkgLength lead {lead:#x}: bits 5:4 must be 0"));
            }
            let mut len = usize::from(lead & 0xF);
            for i in 0..follow {
                len |= usize::from(self.byte()?) << (4 + 8 * i);
            }
            len
        };
        let end = start + len;
        if end > self.bytes.len() || end < self.at {
            return Err(format!("PkgLength {len} at {start} runs out of the table"));
        }
        Ok(end)
    }

    fn name_seg(&mut self) -> Result<String, String> {
        let seg = self.take(4)?;
        let ok = (seg[0].is_ascii_uppercase() || seg[0] == b'_')
            && seg[1..]
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_');
        if !ok {
            return Err(format!("bad NameSeg {seg:?}"));
        }
        Ok(String::from_utf8(seg.to_vec()).unwrap())
    }

    /// NameString (§20.2.2), as ASL writes it (`\_SB_.COM1`).
    fn name_string(&mut self) -> Result<String, String> {
        let mut out = String::new();
        while self.bytes.get(self.at) == Some(&b'\\') || self.bytes.get(self.at) == Some(&b'^') {
            out.push(self.byte()? as char);
        }
        let count = match self.bytes.get(self.at) {
            Some(0x00) => {
                self.at += 1;
                0
            }
            Some(0x2E) => {
                self.at += 1;
                2
            }
            Some(0x2F) => {
                self.at += 1;
                usize::from(self.byte()?)
            }
            _ => 1,
        };
        let segs: Result<Vec<String>, String> = (0..count).map(|_| self.name_seg()).collect();
        out.push_str(&segs?.join("."));
        Ok(out)
    }

    fn value(&mut self) -> Result<Value, String> {
        match self.byte()? {
            0x00 => Ok(Value::Integer(0)),
            0x01 => Ok(Value::Integer(1)),
            0xFF => Ok(Value::Integer(u64::MAX)),
            0x0A => Ok(Value::Integer(self.le(1)?)),
            0x0B => Ok(Value::Integer(self.le(2)?)),
            0x0C => Ok(Value::Integer(self.le(4)?)),
            0x0E => Ok(Value::Integer(self.le(8)?)),
            0x0D => {
                let mut s = String::new();
                loop {
                    match self.byte()? {
                        0 => return Ok(Value::String(s)),
                        c @ 0x01..=0x7F => s.push(c as char),
                        c => return Err(format!("string byte {c:#x}")),
                    }
                }
            }
            0x11 => {
                let end = self.pkg_end()?;
                let Value::Integer(size) = self.value()? else {
                    return Err("buffer size is not an integer".into());
                };
                let data = self.take(end - self.at)?.to_vec();
                if data.len() as u64 != size {
                    return Err(format!("buffer size {size} but {} bytes", data.len()));
                }
                Ok(Value::Buffer(data))
            }
            0x12 => {
                let end = self.pkg_end()?;
                let count = self.byte()?;
                let mut elements = Vec::new();
                while self.at < end {
                    elements.push(self.value()?);
                }
                if self.at != end || elements.len() != usize::from(count) {
                    return Err("package elements do not match NumElements".into());
                }
                Ok(Value::Package(elements))
            }
            op => Err(format!("unknown data opcode {op:#x}")),
        }
    }

    fn terms(&mut self, end: usize) -> Result<Vec<Term>, String> {
        let mut terms = Vec::new();
        while self.at < end {
            terms.push(match self.byte()? {
                0x08 => Term::Name {
                    name: self.name_string()?,
                    value: self.value()?,
                },
                0x10 => {
                    let end = self.pkg_end()?;
                    let path = self.name_string()?;
                    Term::Scope {
                        path,
                        body: self.terms(end)?,
                    }
                }
                0x5B if self.byte()? == 0x82 => {
                    let end = self.pkg_end()?;
                    let name = self.name_string()?;
                    Term::Device {
                        name,
                        body: self.terms(end)?,
                    }
                }
                op => return Err(format!("unknown term opcode {op:#x} at {}", self.at - 1)),
            });
        }
        if self.at != end {
            return Err("a term runs past its package".into());
        }
        Ok(terms)
    }
}

/// Decodes a term list.
pub fn decode(bytes: &[u8]) -> Result<Vec<Term>, String> {
    let mut reader = Reader { bytes, at: 0 };
    reader.terms(bytes.len())
}

/// Decodes one data object, which must fill `bytes`.
pub fn decode_value(bytes: &[u8]) -> Result<Value, String> {
    let mut reader = Reader { bytes, at: 0 };
    let value = reader.value()?;
    if reader.at != bytes.len() {
        return Err("bytes after the value".into());
    }
    Ok(value)
}

/// The sum of `bytes`, mod 256.
pub fn sum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |s, b| s.wrapping_add(*b))
}

pub fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(bytes[at..at + 2].try_into().unwrap())
}

pub fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

pub fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
}
