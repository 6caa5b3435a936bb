//! What several test files share: a synthesized Linux kernel.
#![allow(dead_code)]

use std::path::PathBuf;

use tessera_manifest::NamedFile;

/// A bzImage as far as the loader reads it: protocol 2.15, 64-bit,
/// relocatable at 16 MiB with `init_size` bytes, and `code` after four
/// setup sectors.
pub fn minimal_bzimage(init_size: u32, code: &[u8]) -> Vec<u8> {
    let mut image = vec![0u8; 5 * 512];
    image[0x1F1] = 4;
    let syssize = code.len().div_ceil(16) as u32;
    image[0x1F4..0x1F8].copy_from_slice(&syssize.to_le_bytes());
    image[0x201] = 0x6A;
    image[0x202..0x206].copy_from_slice(b"HdrS");
    image[0x206..0x208].copy_from_slice(&0x020Fu16.to_le_bytes());
    image[0x211] = 1; // LOADED_HIGH
    image[0x22C..0x230].copy_from_slice(&0x7FFF_FFFFu32.to_le_bytes());
    image[0x230..0x234].copy_from_slice(&0x20_0000u32.to_le_bytes());
    image[0x234] = 1;
    image[0x236..0x238].copy_from_slice(&1u16.to_le_bytes()); // XLF_KERNEL_64
    image[0x238..0x23C].copy_from_slice(&2047u32.to_le_bytes());
    image[0x258..0x260].copy_from_slice(&0x100_0000u64.to_le_bytes());
    image[0x260..0x264].copy_from_slice(&init_size.to_le_bytes());
    image.extend_from_slice(code);
    image.resize(5 * 512 + syssize as usize * 16, 0);
    image
}

/// A resolver of named files that writes stand-ins into a temporary
/// folder: a bzImage that fits 64 MiB for `debian:…`, a few bytes for
/// `initramfs:…`.
pub fn stand_ins(named: NamedFile<'_>) -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("manifest-stand-ins-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let (name, bytes) = match named {
        NamedFile::Debian(_) => ("vmlinuz", minimal_bzimage(0x80_0000, &[0xF4; 64])),
        NamedFile::Initramfs(_) => ("initramfs.cpio", b"070701".to_vec()),
    };
    let path = dir.join(name);
    std::fs::write(&path, bytes).map_err(|e| e.to_string())?;
    Ok(path)
}
