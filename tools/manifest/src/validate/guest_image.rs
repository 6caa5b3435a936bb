//! `partition.NAME.image` as a file: a guest image the user built, named by
//! its path relative to the manifest, checked the way the partition
//! manager will load it (`tessera-guest-loader`), so a manifest that passes
//! names an image that boots.
//!
//! An `image` with a `/` or a `.` is a file (`"./guest.elf"`,
//! `"images/kernel"`); anything else names a crate under `test-guests/`.
//! Each distinct file is one boot module, named `image-1`, `image-2`, ...
//! in order of first use (skipping names the component images take).

use std::path::{Path, PathBuf};

use tessera_boot_plan::GuestFormat;
use tessera_guest_loader::linux::SetupHeader;
use tessera_guest_loader::{GuestMemory, load_elf64, load_multiboot};
use toml::Spanned;

use super::span;
use crate::error::Report;
use crate::error::check::*;
use crate::model::ModuleFile;
use crate::raw::RawManifest;

/// Whether a partition's `image` names a file rather than a test-guest crate.
pub(crate) fn is_file(image: &str) -> bool {
    image.contains(['/', '.'])
}

/// The guest images of a manifest, in module order.
#[derive(Debug, Default)]
pub(super) struct GuestImages {
    /// Every guest image's module name: a crate's name, or `image-N` for a
    /// file.
    pub names: Vec<String>,
    /// The files among them.
    pub files: Vec<ModuleFile>,
}

impl GuestImages {
    /// The module name and the file (if it is one) of a partition's
    /// `image` as written.
    pub fn of(&self, image: &str) -> (String, Option<PathBuf>) {
        match self.files.iter().find(|f| f.file == image) {
            Some(file) => (file.name.clone(), Some(file.path.clone())),
            None => (image.to_owned(), None),
        }
    }
}

/// Names the guest images of `raw` (each partition's `image`, or its
/// `linux.kernel`, always a file); files are resolved against the directory
/// of the manifest, named files by the report's resolver.
pub(super) fn collect(raw: &RawManifest, report: &Report<'_>, taken: &[String]) -> GuestImages {
    let dir = super::linux::manifest_dir(report.file());
    let mut images = GuestImages::default();
    let mut next = 1;
    for partition in raw.partition.values() {
        let partition = partition.get_ref();
        let (image, file) = match (&partition.image, &partition.linux) {
            (Some(image), _) => (image.get_ref(), is_file(image.get_ref())),
            (None, Some(linux)) => (linux.get_ref().kernel.get_ref(), true),
            (None, None) => continue,
        };
        if images.names.contains(image) || images.files.iter().any(|f| &f.file == image) {
            continue;
        }
        if !file {
            images.names.push(image.clone());
            continue;
        }
        let name = loop {
            let name = format!("image-{next}");
            next += 1;
            if !taken.contains(&name) && !images.names.contains(&name) {
                break name;
            }
        };
        images.names.push(name.clone());
        images.files.push(ModuleFile {
            name,
            file: image.clone(),
            path: super::linux::host_path(image, &dir, report).unwrap_or_default(),
        });
    }
    images
}

/// Checks that the file `path` (written `image`) can be loaded as a
/// `format` guest with `memory` bytes of RAM and command line `cmdline`.
pub(super) fn check_file(
    entry: &str,
    image: &Spanned<String>,
    path: &Path,
    format: GuestFormat,
    memory: u64,
    cmdline: &str,
    report: &mut Report<'_>,
) -> bool {
    let field = format!("{entry}.image");
    let written = image.get_ref();
    let bytes = match std::fs::read(path) {
        Ok(bytes) if bytes.is_empty() => {
            report.push(
                GUEST_IMAGE_FILE,
                field,
                span(image),
                format!("the guest image `{written}` ({}) is empty", path.display()),
                "name the guest's ELF or Multiboot file, relative to the manifest's directory",
            );
            return false;
        }
        Ok(bytes) => bytes,
        Err(e) => {
            report.push(
                GUEST_IMAGE_FILE,
                field,
                span(image),
                format!(
                    "cannot read the guest image `{written}` ({}): {e}",
                    path.display()
                ),
                "name the guest's ELF or Multiboot file relative to the manifest's directory, \
                 such as image = \"./guest.elf\" for a file beside the manifest (a name without \
                 `/` or `.` is a crate under test-guests/)",
            );
            return false;
        }
    };
    let memory_bytes = GuestMemory { size: memory };
    let result = match format {
        GuestFormat::Elf64 => load_elf64(&bytes, memory_bytes).map(drop),
        GuestFormat::Multiboot => load_multiboot(&bytes, memory_bytes, cmdline, &[]).map(drop),
        // A Linux guest's kernel is checked with its initrd (`linux`).
        GuestFormat::Linux => Ok(()),
    };
    let Err(error) = result else {
        return true;
    };
    let other = if SetupHeader::parse(&bytes).is_ok() {
        Some(
            "it is a Linux kernel: write linux = { kernel = \"FILE\", initrd = \"FILE\", \
             cmdline = \"...\" } instead of image",
        )
    } else {
        match format {
            GuestFormat::Elf64 => load_multiboot(&bytes, memory_bytes, "", &[])
                .is_ok()
                .then_some("it is a Multiboot kernel: write format = \"multiboot\""),
            GuestFormat::Multiboot | GuestFormat::Linux => load_elf64(&bytes, memory_bytes)
                .is_ok()
                .then_some("it is an ELF64 executable: write format = \"elf64\" (or leave it out)"),
        }
    };
    let help = other.map_or_else(
        || match format {
            GuestFormat::Elf64 => "an elf64 guest is a static x86-64 executable (ET_EXEC) whose \
                                   segments fit in the partition's memory (the loader keeps its \
                                   top for the stack and page tables): link it lower or give \
                                   the partition more memory"
                .to_owned(),
            GuestFormat::Multiboot | GuestFormat::Linux => "a multiboot guest is a Multiboot 1 \
                                                            kernel (ELF32 or a.out kludge) whose \
                                                            image fits in the partition's memory"
                .to_owned(),
        },
        str::to_owned,
    );
    report.push(
        GUEST_IMAGE_FILE,
        field,
        span(image),
        format!(
            "Tessera cannot load `{written}` as a guest of format {} with {} MiB of memory: {error}",
            format.name(),
            memory >> 20
        ),
        help,
    );
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_have_a_slash_or_a_dot_crates_neither() {
        assert!(is_file("./guest.elf"));
        assert!(is_file("images/kernel"));
        assert!(is_file("kernel.bin"));
        assert!(!is_file("hello"));
        assert!(!is_file("hv-conformance"));
    }
}
