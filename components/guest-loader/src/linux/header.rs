//! The setup header of a bzImage (Linux `Documentation/arch/x86/boot.rst`,
//! "The Real-Mode Kernel Header"; `struct setup_header` in
//! `arch/x86/include/uapi/asm/bootparam.h`), read and checked.

use crate::error::Error;

/// Where the setup header starts in the image (and in the zero page).
pub const HEADER_START: usize = 0x1F1;
/// "HdrS" at 0x202.
pub const MAGIC: [u8; 4] = *b"HdrS";
/// The oldest protocol accepted: 2.12 brought `xloadflags` and with it
/// the 64-bit entry point this loader uses.
pub const MIN_VERSION: u16 = 0x020C;
/// Protocol 2.14 is where `acpi_rsdp_addr` appeared (in `boot_params`,
/// offset 0x070; 2.14 itself is "burnt", so a kernel that reads it says
/// 2.15 or later, and older kernels ignore the field).
pub const ACPI_RSDP_VERSION: u16 = 0x020E;
/// The setup header may not reach past this offset of the zero page
/// (`_pad7` ends at 0x290, where `edd_mbr_sig_buffer` starts).
pub const HEADER_LIMIT: usize = 0x290;
/// The fields this loader reads end at 0x264 (`init_size`).
const FIELDS_END: usize = 0x264;

/// `loadflags` bit 0: the protected-mode code goes to 0x100000 (a
/// bzImage; clear for a zImage).
pub const LOADED_HIGH: u8 = 1 << 0;
/// `xloadflags` bit 0: the kernel has the 64-bit entry point at +0x200.
pub const XLF_KERNEL_64: u16 = 1 << 0;

/// A sector of the real-mode part.
const SECTOR: usize = 512;

/// What the loader needs from the setup header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetupHeader {
    /// Boot protocol version, `major << 8 | minor`.
    pub version: u16,
    /// Real-mode setup sectors (a 0 in the image means 4).
    pub setup_sects: u8,
    /// The protected-mode code's size, in 16-byte paragraphs.
    pub syssize: u32,
    pub loadflags: u8,
    /// The highest address the initrd may occupy (inclusive).
    pub initrd_addr_max: u32,
    /// Alignment of the kernel's load address, if relocatable.
    pub kernel_alignment: u32,
    pub relocatable_kernel: bool,
    pub xloadflags: u16,
    /// The longest command line, without its NUL.
    pub cmdline_size: u32,
    /// Where the kernel would like to be loaded.
    pub pref_address: u64,
    /// Contiguous memory the kernel needs from its runtime start address
    /// before it reads its memory map.
    pub init_size: u32,
    /// Where the setup header ends in the image (`0x202 + image[0x201]`).
    pub end: usize,
}

fn u8_at(image: &[u8], at: usize) -> u8 {
    image[at]
}

fn u16_at(image: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([image[at], image[at + 1]])
}

fn u32_at(image: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([image[at], image[at + 1], image[at + 2], image[at + 3]])
}

fn u64_at(image: &[u8], at: usize) -> u64 {
    u64::from(u32_at(image, at)) | (u64::from(u32_at(image, at + 4)) << 32)
}

impl SetupHeader {
    /// Reads and checks the header of `image`: present ("HdrS"), protocol
    /// 2.12 or later, a bzImage, 64-bit capable, its protected-mode code
    /// inside the file, and (if relocatable) a power-of-two alignment.
    ///
    /// # Errors
    ///
    /// [`Error::LinuxTruncated`], [`Error::NotLinux`],
    /// [`Error::LinuxProtocolTooOld`], [`Error::LinuxBadHeader`],
    /// [`Error::LinuxNotBzImage`], [`Error::LinuxNot64Bit`].
    pub fn parse(image: &[u8]) -> Result<Self, Error> {
        let len = image.len() as u64;
        // The magic and the version: 0x202..0x208.
        if image.len() < 0x208 {
            return Err(Error::LinuxTruncated { needed: 0x208, len });
        }
        if image[0x202..0x206] != MAGIC {
            return Err(Error::NotLinux);
        }
        let version = u16_at(image, 0x206);
        if version < MIN_VERSION {
            return Err(Error::LinuxProtocolTooOld { version });
        }
        // The jump at 0x200 (0xEB, offset) doubles as the header's length.
        let end = 0x202 + usize::from(image[0x201]);
        if end < FIELDS_END {
            return Err(Error::LinuxBadHeader(
                "the setup header ends before init_size (0x264), which protocol 2.12 has",
            ));
        }
        if end > HEADER_LIMIT {
            return Err(Error::LinuxBadHeader(
                "the setup header reaches past 0x290, beyond its place in the zero page",
            ));
        }
        if image.len() < end {
            return Err(Error::LinuxTruncated {
                needed: end as u64,
                len,
            });
        }
        let header = Self {
            version,
            setup_sects: match u8_at(image, 0x1F1) {
                0 => 4,
                n => n,
            },
            syssize: u32_at(image, 0x1F4),
            loadflags: u8_at(image, 0x211),
            initrd_addr_max: u32_at(image, 0x22C),
            kernel_alignment: u32_at(image, 0x230),
            relocatable_kernel: u8_at(image, 0x234) != 0,
            xloadflags: u16_at(image, 0x236),
            cmdline_size: u32_at(image, 0x238),
            pref_address: u64_at(image, 0x258),
            init_size: u32_at(image, 0x260),
            end,
        };
        if header.loadflags & LOADED_HIGH == 0 {
            return Err(Error::LinuxNotBzImage);
        }
        if header.xloadflags & XLF_KERNEL_64 == 0 {
            return Err(Error::LinuxNot64Bit);
        }
        if header.syssize == 0 {
            return Err(Error::LinuxBadHeader(
                "syssize is 0: no protected-mode code",
            ));
        }
        let (start, size) = header.protected_mode_range();
        let needed = start + size;
        if needed > len {
            return Err(Error::LinuxTruncated { needed, len });
        }
        if header.relocatable_kernel && !header.kernel_alignment.is_power_of_two() {
            return Err(Error::LinuxBadHeader(
                "kernel_alignment of a relocatable kernel is not a power of two",
            ));
        }
        Ok(header)
    }

    /// The protected-mode code's file offset (after the boot sector and
    /// the setup sectors) and size (`syssize` paragraphs: anything after
    /// it, such as a signature, is not loaded).
    #[must_use]
    pub fn protected_mode_range(&self) -> (u64, u64) {
        let start = (usize::from(self.setup_sects) + 1) * SECTOR;
        (start as u64, u64::from(self.syssize) * 16)
    }

    /// The protected-mode code of `image` (which [`Self::parse`] accepted).
    #[must_use]
    pub fn protected_mode<'a>(&self, image: &'a [u8]) -> &'a [u8] {
        let (start, size) = self.protected_mode_range();
        &image[start as usize..(start + size) as usize]
    }
}
