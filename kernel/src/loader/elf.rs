//! Loading a component's ELF image into its address space.
//!
//! The image comes from a boot module: it is untrusted input. Every field is
//! checked before use and a bad image is an error naming the problem, never
//! a kernel fault: 64-bit little-endian x86-64 executables only, `PT_LOAD`
//! segments inside the lower half with file data inside the image, page
//! offsets that agree between file and memory, no segment both writable and
//! executable, an entry point inside an executable segment.
use crate::memory::address_space::{AddressSpace, MapError, PageRights};
use crate::memory::charged::Charged;
use crate::memory::physical_to_virtual;
use core::fmt;
use elf::ElfBytes;
use elf::abi::{EM_X86_64, ET_EXEC, PF_W, PF_X, PT_LOAD};
use elf::endian::LittleEndian;
use tessera_abi::USER_SPACE_END;
use tessera_capability::CapError;

const PAGE: u64 = 4096;

#[derive(Debug)]
pub enum LoadError {
    Parse(elf::ParseError),
    NotAnExecutable {
        machine: u16,
        kind: u16,
    },
    NoSegments,
    BadSegment {
        index: usize,
        reason: &'static str,
    },
    WritableAndExecutable {
        index: usize,
    },
    EntryNotExecutable(u64),
    Map(MapError),
    /// The component's memory quota cannot hold the image.
    QuotaExhausted {
        needed: u64,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Parse(error) => write!(f, "not a valid ELF file: {error}"),
            Self::NotAnExecutable { machine, kind } => write!(
                f,
                "not an x86-64 executable (e_machine {machine}, e_type {kind}); build it for x86_64-unknown-none"
            ),
            Self::NoSegments => f.write_str("the image has no loadable segment"),
            Self::BadSegment { index, reason } => write!(f, "segment {index}: {reason}"),
            Self::WritableAndExecutable { index } => {
                write!(f, "segment {index} is both writable and executable")
            }
            Self::EntryNotExecutable(entry) => {
                write!(
                    f,
                    "the entry point {entry:#x} is not in an executable segment"
                )
            }
            Self::Map(error) => write!(f, "{error}"),
            Self::QuotaExhausted { needed } => {
                write!(
                    f,
                    "the image needs {} KiB more than the component's memory quota",
                    needed / 1024
                )
            }
        }
    }
}

/// Maps every loadable segment of `image` into `space`; returns the entry
/// point. Each page (and page table) is charged through `charged`.
pub fn load(
    image: &[u8],
    space: &mut AddressSpace,
    charged: &mut Charged<'_>,
) -> Result<u64, LoadError> {
    let file = ElfBytes::<LittleEndian>::minimal_parse(image).map_err(LoadError::Parse)?;
    let header = file.ehdr;
    if header.e_machine != EM_X86_64
        || header.e_type != ET_EXEC
        || header.class != elf::file::Class::ELF64
    {
        return Err(LoadError::NotAnExecutable {
            machine: header.e_machine,
            kind: header.e_type,
        });
    }
    let segments = file.segments().ok_or(LoadError::NoSegments)?;
    let mut entry_ok = false;
    let mut loaded = 0;
    for (index, segment) in segments.iter().enumerate() {
        if segment.p_type != PT_LOAD || segment.p_memsz == 0 {
            continue;
        }
        let bad = |reason| LoadError::BadSegment { index, reason };
        let writable = segment.p_flags & PF_W != 0;
        let executable = segment.p_flags & PF_X != 0;
        if writable && executable {
            return Err(LoadError::WritableAndExecutable { index });
        }
        if segment.p_filesz > segment.p_memsz {
            return Err(bad("file size exceeds memory size"));
        }
        let end = segment
            .p_vaddr
            .checked_add(segment.p_memsz)
            .ok_or(bad("wraps around"))?;
        if segment.p_vaddr < PAGE || end > USER_SPACE_END {
            return Err(bad("outside the component's half of the address space"));
        }
        if segment.p_vaddr % PAGE != segment.p_offset % PAGE {
            return Err(bad("file offset and address disagree within the page"));
        }
        let file_end = segment
            .p_offset
            .checked_add(segment.p_filesz)
            .ok_or(bad("wraps around"))?;
        let data = image
            .get(segment.p_offset as usize..file_end as usize)
            .ok_or(bad("its file data lies outside the image"))?;
        if executable && (segment.p_vaddr..end).contains(&header.e_entry) {
            entry_ok = true;
        }
        let rights = PageRights {
            writable,
            executable,
        };
        let first_page = segment.p_vaddr / PAGE * PAGE;
        for page in (first_page..end).step_by(PAGE as usize) {
            let frame = match space.map_fresh(page, rights, charged) {
                Ok(frame) => frame,
                Err(MapError::OutOfMemory)
                    if charged.refusal() == Some(CapError::QuotaExhausted) =>
                {
                    return Err(LoadError::QuotaExhausted { needed: end - page });
                }
                Err(error) => return Err(LoadError::Map(error)),
            };
            // The part of the segment's file data that falls in this page.
            let from = page.max(segment.p_vaddr);
            let to = (page + PAGE).min(segment.p_vaddr + segment.p_filesz);
            if from < to {
                let source =
                    &data[(from - segment.p_vaddr) as usize..(to - segment.p_vaddr) as usize];
                let target = physical_to_virtual(frame.as_u64() + (from - page)).as_mut_ptr::<u8>();
                // the frame is fresh (mapped only into this new space,
                // not yet running) and the copy stays inside it: from..to lies
                // within one page.
                // SAFETY: a fresh frame of a space not yet running; the copy fits the page.
                unsafe { core::ptr::copy_nonoverlapping(source.as_ptr(), target, source.len()) };
            }
        }
        loaded += 1;
    }
    if loaded == 0 {
        return Err(LoadError::NoSegments);
    }
    if !entry_ok {
        return Err(LoadError::EntryNotExecutable(header.e_entry));
    }
    Ok(header.e_entry)
}
