//! Loading a component's ELF image into the domain init is building. The
//! image is a boot module: untrusted. init checks what it reads from the
//! file; the kernel checks where it maps (lower half, no page both writable
//! and executable, no page twice).
use alloc::format;
use alloc::string::String;
use elf::ElfBytes;
use elf::abi::{EM_X86_64, ET_EXEC, PF_W, PF_X, PT_LOAD};
use elf::endian::LittleEndian;
use tessera_rt::abi::page;
use tessera_rt::build::{domain_map, domain_write};

const PAGE: u64 = 4096;

/// Maps and fills every loadable segment; returns the entry point.
pub fn load(domain: u32, image: &[u8]) -> Result<u64, String> {
    let file = ElfBytes::<LittleEndian>::minimal_parse(image)
        .map_err(|e| format!("not a valid ELF file: {e}"))?;
    if file.ehdr.e_machine != EM_X86_64 || file.ehdr.e_type != ET_EXEC {
        return Err("not an x86-64 executable".into());
    }
    let segments = file.segments().ok_or("no program headers")?;
    let mut entry_ok = false;
    for (index, segment) in segments.iter().enumerate() {
        if segment.p_type != PT_LOAD || segment.p_memsz == 0 {
            continue;
        }
        let bad = |what: &str| format!("segment {index}: {what}");
        if segment.p_filesz > segment.p_memsz {
            return Err(bad("file size exceeds memory size"));
        }
        let end = segment
            .p_vaddr
            .checked_add(segment.p_memsz)
            .ok_or_else(|| bad("wraps around"))?;
        let file_end = segment
            .p_offset
            .checked_add(segment.p_filesz)
            .ok_or_else(|| bad("wraps around"))?;
        let data = usize::try_from(segment.p_offset)
            .ok()
            .zip(usize::try_from(file_end).ok())
            .and_then(|(from, to)| image.get(from..to))
            .ok_or_else(|| bad("its file data lies outside the image"))?;
        let mut flags = 0;
        if segment.p_flags & PF_W != 0 {
            flags |= page::WRITE;
        }
        if segment.p_flags & PF_X != 0 {
            flags |= page::EXECUTE;
            entry_ok |= (segment.p_vaddr..end).contains(&file.ehdr.e_entry);
        }
        let first = segment.p_vaddr / PAGE * PAGE;
        let pages = end.div_ceil(PAGE) - first / PAGE;
        domain_map(domain, first, pages, flags).map_err(|e| bad(&format!("mapping: {e}")))?;
        domain_write(domain, segment.p_vaddr, data).map_err(|e| bad(&format!("copying: {e}")))?;
    }
    if !entry_ok {
        return Err(format!(
            "the entry point {:#x} is not in an executable segment",
            file.ehdr.e_entry
        ));
    }
    Ok(file.ehdr.e_entry)
}
