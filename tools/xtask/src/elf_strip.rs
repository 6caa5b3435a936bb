//! Boot modules without their debug information. Release builds keep
//! debug information (`profile.release.debug`), which makes a component or
//! guest ELF five to ten times larger than what its loader reads. Every
//! module is copied into init's memory, charged to its quota (the
//! deployment's component memory), and a guest image is copied once more
//! into its manager's data: so xtask passes each image cut to its loadable
//! part. The files under `target/` keep everything, for debuggers.
//!
//! The cut keeps the ELF header, the program headers and every segment's
//! file data (the end of the last one is where the file ends), and drops
//! the section headers (which only the debug sections and the symbol table
//! need; no loader here reads them: the kernel's, init's and the guest
//! loaders all use program headers).

use std::fs;
use std::path::Path;

const EHDR_SIZE: usize = 64;

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

/// `elf` cut to its loadable part, with no section headers; `None` if it
/// is not a little-endian ELF64 file whose program headers lie inside it
/// (such a file is passed as it is).
pub fn loadable_part(elf: &[u8]) -> Option<Vec<u8>> {
    if elf.get(..4)? != b"\x7fELF" || elf.get(4)? != &2 || elf.get(5)? != &1 {
        return None;
    }
    let phoff = usize::try_from(u64_at(elf, 0x20)?).ok()?;
    let phentsize = usize::from(u16_at(elf, 0x36)?);
    let phnum = usize::from(u16_at(elf, 0x38)?);
    if phentsize < 0x38 {
        return None;
    }
    let table_end = phoff.checked_add(phentsize.checked_mul(phnum)?)?;
    if table_end > elf.len() {
        return None;
    }
    let mut end = EHDR_SIZE.max(table_end);
    for i in 0..phnum {
        let at = phoff + i * phentsize;
        let offset = usize::try_from(u64_at(elf, at + 0x08)?).ok()?;
        let filesz = usize::try_from(u64_at(elf, at + 0x20)?).ok()?;
        if filesz == 0 {
            continue;
        }
        let segment_end = offset.checked_add(filesz)?;
        if segment_end > elf.len() {
            return None;
        }
        end = end.max(segment_end);
    }
    let mut out = elf[..end].to_vec();
    // e_shoff, e_shnum, e_shstrndx: no section header table.
    out[0x28..0x30].fill(0);
    out[0x3C..0x40].fill(0);
    Some(out)
}

/// Writes the loadable part of the ELF file `from` to `to` (or a plain
/// copy of a file that is not ELF64).
pub fn write_loadable_copy(from: &Path, to: &Path) -> Result<(), String> {
    let bytes = fs::read(from).map_err(|e| format!("{}: {e}", from.display()))?;
    let cut = loadable_part(&bytes);
    fs::write(to, cut.as_deref().unwrap_or(&bytes))
        .map_err(|e| format!("cannot write {}: {e}", to.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64: header, two program headers, a segment, then a
    /// "debug" tail and section headers.
    fn sample() -> Vec<u8> {
        let mut elf = vec![0u8; 0x200];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2;
        elf[5] = 1;
        elf[0x20..0x28].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        elf[0x28..0x30].copy_from_slice(&0x180u64.to_le_bytes()); // e_shoff
        elf[0x36..0x38].copy_from_slice(&0x38u16.to_le_bytes());
        elf[0x38..0x3A].copy_from_slice(&2u16.to_le_bytes());
        elf[0x3A..0x3C].copy_from_slice(&0x40u16.to_le_bytes());
        elf[0x3C..0x3E].copy_from_slice(&2u16.to_le_bytes());
        elf[0x3E..0x40].copy_from_slice(&1u16.to_le_bytes());
        // PT_LOAD at 0x100, 0x20 bytes.
        let ph = 64;
        elf[ph..ph + 4].copy_from_slice(&1u32.to_le_bytes());
        elf[ph + 8..ph + 16].copy_from_slice(&0x100u64.to_le_bytes());
        elf[ph + 0x20..ph + 0x28].copy_from_slice(&0x20u64.to_le_bytes());
        // PT_GNU_STACK, no file data.
        elf[ph + 0x38..ph + 0x3C].copy_from_slice(&0x6474_e551u32.to_le_bytes());
        elf[0x100..0x120].fill(0xAB);
        elf[0x120..].fill(0xDE);
        elf
    }

    #[test]
    fn the_cut_keeps_headers_and_segments() {
        let elf = sample();
        let cut = loadable_part(&elf).unwrap();
        assert_eq!(cut.len(), 0x120);
        assert_eq!(&cut[..0x28], &elf[..0x28]);
        assert_eq!(&cut[0x28..0x30], &[0; 8], "no section headers");
        assert_eq!(&cut[0x3C..0x40], &[0; 4]);
        assert_eq!(&cut[0x30..0x3C], &elf[0x30..0x3C]);
        assert_eq!(&cut[0x100..0x120], &[0xAB; 0x20]);
    }

    #[test]
    fn other_files_are_left_alone() {
        assert_eq!(loadable_part(b"TSBP plan"), None);
        let mut elf32 = sample();
        elf32[4] = 1;
        assert_eq!(loadable_part(&elf32), None);
        let mut truncated = sample();
        truncated.truncate(0x110);
        assert_eq!(loadable_part(&truncated), None, "a segment past the end");
        let mut bad_table = sample();
        bad_table[0x38..0x3A].copy_from_slice(&0x1000u16.to_le_bytes());
        assert_eq!(loadable_part(&bad_table), None);
    }

    #[test]
    fn a_real_component_shrinks_and_still_parses() {
        // Any bare-metal build lying around will do; skip if there is none.
        let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
        let candidates = ["release", "debug"].iter().map(|profile| {
            target
                .join("x86_64-unknown-none")
                .join(profile)
                .join("init")
        });
        let Some(path) = candidates.into_iter().find(|p| p.is_file()) else {
            return;
        };
        let elf = fs::read(&path).unwrap();
        let cut = loadable_part(&elf).unwrap();
        assert!(cut.len() < elf.len());
        assert_eq!(&cut[..0x28], &elf[..0x28]);
    }
}
