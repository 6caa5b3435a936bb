//! The ELF64 loader: a static x86-64 executable entered in 64-bit mode.
//!
//! # Loading
//!
//! Each non-empty `PT_LOAD` segment's file data is copied to its **physical**
//! address `p_paddr`, and the rest of its memory size (the bss) is zeroed.
//! `p_vaddr` is used only to translate the entry point: `e_entry` must lie in
//! some segment's `[p_vaddr, p_vaddr + p_memsz)`, and `RIP` is the matching
//! physical address (as GRUB does for Multiboot ELF kernels). Since the
//! guest starts on an identity map, an image linked with `p_vaddr ≠ p_paddr`
//! must set up its own page tables from position-independent code first.
//!
//! # Layout at the top of RAM
//!
//! With `top` = the RAM size rounded down to 4 KiB and `n` = the number of
//! page directories (one per GiB of RAM, rounded up), from low to high:
//!
//! | range                                  | contents                        |
//! |----------------------------------------|---------------------------------|
//! | `top - STACK - (3 + n) × 4 KiB`, 1 page | GDT (null, code 0x08, data 0x10) |
//! | next page                              | PML4 (entry 0 → PDPT)           |
//! | next page                              | PDPT (entries 0..n → PDs)       |
//! | next `n` pages                         | PDs: 2 MiB pages                |
//! | `top - STACK .. top`                    | stack (zeroed), `RSP = top`     |
//!
//! The identity map covers the RAM size rounded up to 2 MiB, with present,
//! writable, supervisor, executable 2 MiB pages (no NX, so `EFER.NXE` stays
//! clear); guest RAM may be at most 512 GiB (one PML4 entry). The image must
//! not overlap this area ([`Error::Overlap`] otherwise).
//!
//! # Initial state
//!
//! `CR0 = PG | NE | ET | PE`, `CR3` = the PML4, `CR4 = PAE`,
//! `EFER = LME | LMA`; `CS` = selector 0x08, 64-bit (L=1, D=0); the data
//! segments = selector 0x10, flat; `GDTR` = the GDT; `IDTR` empty (limit 0);
//! `RFLAGS = 0x2` (interrupts off); `RIP` = the entry point; `RSP = top`;
//! all other general-purpose registers 0.

use elf::ElfBytes;
use elf::abi::{EM_X86_64, ET_EXEC, PT_LOAD};
use elf::endian::LittleEndian;
use elf::file::Class;

use crate::error::Error;
use crate::plan::{Builder, GuestMemory, LoadPlan, Piece};
use crate::state::{InitialVpState, Segment};
use crate::{PAGE, long_mode};

/// Size of the initial stack.
pub const STACK_SIZE: u64 = 0x4000;

pub use crate::long_mode::{CR0, CR4, EFER, MAX_RAM, PDE_LARGE, PTE_PRESENT_WRITABLE};

/// Plans loading a static x86-64 ELF executable into `memory`, entered in
/// long mode on an identity map (see the [module documentation](self)).
///
/// # Errors
///
/// Any [`Error`]: a malformed or unsuitable ELF file, a segment or one of the
/// loader's structures outside RAM, overlapping pieces, or RAM that is too
/// large or too small.
pub fn load_elf64(image: &[u8], memory: GuestMemory) -> Result<LoadPlan<'_>, Error> {
    if memory.size > MAX_RAM {
        return Err(Error::RamTooLarge {
            size: memory.size,
            max: MAX_RAM,
        });
    }
    let top = memory.size & !(PAGE - 1);
    let tables = long_mode::table_pages(memory.size);
    let needed = STACK_SIZE + (1 + tables) * PAGE;
    let gdt = top.checked_sub(needed).ok_or(Error::RamTooSmall {
        size: memory.size,
        needed,
    })?;
    let mut builder = Builder::new(memory, None);
    let loaded = load_segments(&mut builder, image, Class::ELF64, EM_X86_64)?;
    let pml4 = gdt + PAGE;
    let stack = top - STACK_SIZE;

    let mut vp = InitialVpState::flat(Segment::CODE64_ATTRIBUTES, gdt);
    builder.write(Piece::Gdt, gdt, long_mode::gdt_page(&vp))?;
    builder.write(
        Piece::PageTables,
        pml4,
        long_mode::identity_tables(pml4, memory.size),
    )?;
    builder.zero(Piece::Stack, stack, STACK_SIZE)?;

    vp.rip = loaded.entry;
    vp.rsp = top;
    long_mode::enter(&mut vp, pml4);
    builder.finish(vp)
}

/// What [`load_segments`] loaded.
pub(crate) struct Loaded {
    /// The entry point, translated to a physical address.
    pub(crate) entry: u64,
    /// The end (exclusive) of the highest segment.
    pub(crate) end: u64,
}

/// Adds every non-empty `PT_LOAD` segment of an ELF executable of the given
/// class and machine to `builder`.
pub(crate) fn load_segments<'a>(
    builder: &mut Builder<'a>,
    image: &'a [u8],
    class: Class,
    machine: u16,
) -> Result<Loaded, Error> {
    let file = ElfBytes::<LittleEndian>::minimal_parse(image)
        .map_err(|e| Error::NotElf(alloc::format!("{e}")))?;
    if file.ehdr.class != class {
        return Err(Error::WrongClass {
            expected: if class == Class::ELF64 { 64 } else { 32 },
        });
    }
    if file.ehdr.e_machine != machine {
        return Err(Error::WrongMachine {
            found: file.ehdr.e_machine,
            expected: machine,
        });
    }
    if file.ehdr.e_type != ET_EXEC {
        return Err(Error::NotExecutable {
            e_type: file.ehdr.e_type,
        });
    }
    let segments = file.segments().ok_or(Error::NoProgramHeaders)?;
    let entry = file.ehdr.e_entry;
    let mut translated = None;
    let mut end = None;
    for (index, segment) in segments.iter().enumerate() {
        if segment.p_type != PT_LOAD || segment.p_memsz == 0 {
            continue;
        }
        let what = Piece::Segment(index);
        if segment.p_filesz > segment.p_memsz {
            return Err(Error::SegmentFileSizeExceedsMemSize { index });
        }
        let data = usize::try_from(segment.p_offset)
            .ok()
            .zip(usize::try_from(segment.p_filesz).ok())
            .and_then(|(from, len)| image.get(from..from.checked_add(len)?))
            .ok_or(Error::SegmentDataOutsideFile { index })?;
        let paddr = segment.p_paddr;
        let segment_end = paddr
            .checked_add(segment.p_memsz)
            .ok_or(Error::AddressOverflow { what })?;
        builder.write(what, paddr, data)?;
        builder.zero(
            what,
            paddr + segment.p_filesz,
            segment.p_memsz - segment.p_filesz,
        )?;
        end = Some(end.map_or(segment_end, |e: u64| e.max(segment_end)));
        if translated.is_none()
            && let Some(offset) = entry.checked_sub(segment.p_vaddr)
            && offset < segment.p_memsz
        {
            translated = Some(paddr + offset);
        }
    }
    let end = end.ok_or(Error::NoLoadableSegment)?;
    let entry = translated.ok_or(Error::EntryOutsideImage { entry })?;
    Ok(Loaded { entry, end })
}
