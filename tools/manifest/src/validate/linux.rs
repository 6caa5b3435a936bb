//! `partition.NAME.linux`: a Linux guest, its kernel (a bzImage), initrd
//! and command line, files relative to the manifest's directory:
//!
//! ```toml
//! [partition.linux]
//! manager = "partition-manager"
//! linux = { kernel = "./vmlinuz", initrd = "./initrd.cpio", cmdline = "console=ttyS0" }
//! memory = "256 MiB"
//! vps = 2
//! ```
//!
//! The kernel is a guest image file and the initrd a boot module, as an
//! `image` file and a Multiboot module are; the partition's format is
//! `linux`. Both are read when the manifest is and loaded with the
//! partition manager's own loader (`load_linux`, with the partition's
//! memory and VP count), so a manifest that passes boots as far as the
//! loader goes.

use std::path::{Path, PathBuf};

use tessera_guest_loader::{GuestMemory, LinuxBoot, load_linux};
use toml::Spanned;

use super::{check_cmdline, span};
use crate::error::Report;
use crate::error::check::*;
use crate::named::NamedFile;
use crate::raw::{RawLinux, RawPartition};

/// A Linux guest that passed the shape checks.
#[derive(Debug)]
pub(super) struct LinuxGuest {
    /// The kernel file as written, and on the host.
    pub kernel: (String, PathBuf),
    /// The initrd file as written, and on the host.
    pub initrd: Option<(String, PathBuf)>,
    pub cmdline: String,
}

/// The directory files of the manifest `manifest` are relative to.
pub(crate) fn manifest_dir(manifest: &Path) -> PathBuf {
    std::path::absolute(manifest)
        .ok()
        .and_then(|m| m.parent().map(Path::to_path_buf))
        .unwrap_or_default()
}

/// Where the file a manifest writes `written` is: a named file
/// (`debian:…`, `initramfs:…`) where the report's resolver puts it, any
/// other relative to `dir`.
pub(super) fn host_path(written: &str, dir: &Path, report: &Report<'_>) -> Result<PathBuf, String> {
    match NamedFile::parse(written) {
        Some(named) => report.resolve(named),
        None => Ok(dir.join(written)),
    }
}

/// Checks the shape of `p.linux` (if given) against the partition's other
/// fields: `linux` replaces `image`, `format`, `cmdline` and `modules`.
/// `Ok(None)`: not a Linux guest.
pub(super) fn check_shape(
    entry: &str,
    p: &RawPartition,
    dir: &Path,
    report: &mut Report<'_>,
) -> Result<Option<LinuxGuest>, ()> {
    let Some(linux) = &p.linux else {
        if p.image.is_none() {
            report.push(
                MISSING_FIELD,
                entry.to_owned(),
                None,
                format!("{entry} has no guest: neither `image` nor `linux`"),
                "give the partition a guest: image = \"CRATE\" (under test-guests/) or a file \
                 such as image = \"./guest.elf\", or a Linux kernel: linux = { kernel = \
                 \"./vmlinuz\", initrd = \"./initrd.cpio\", cmdline = \"console=ttyS0\" }",
            );
            return Err(());
        }
        return Ok(None);
    };
    let mut ok = true;
    let help = "a Linux guest says everything in `linux = { kernel, initrd, cmdline }`: \
                remove the field, or move the command line into linux.cmdline";
    for (field, at) in [
        ("image", p.image.as_ref().map(Spanned::span)),
        ("format", p.format.as_ref().map(Spanned::span)),
        ("cmdline", p.cmdline.as_ref().map(Spanned::span)),
        ("modules", p.modules.as_ref().map(Spanned::span)),
    ] {
        if let Some(at) = at {
            report.push(
                LINUX_GUEST,
                format!("{entry}.{field}"),
                Some(at),
                format!("`{field}` beside `linux`: a Linux guest's kernel is linux.kernel"),
                help,
            );
            ok = false;
        }
    }
    let raw: &RawLinux = linux.get_ref();
    let mut file = |field: &str, value: &Spanned<String>| {
        let written = value.get_ref();
        if written.is_empty() {
            report.push(
                LINUX_GUEST,
                format!("{entry}.linux.{field}"),
                span(value),
                format!("linux.{field} is empty"),
                "name a file relative to the manifest's directory, such as \"./vmlinuz\"",
            );
            return None;
        }
        match host_path(written, dir, report) {
            Ok(path) => Some((written.clone(), path)),
            Err(why) => {
                report.push(
                    GUEST_IMAGE_FILE,
                    format!("{entry}.linux.{field}"),
                    span(value),
                    format!("cannot get the {field} `{written}`: {why}"),
                    "`debian:PACKAGE` names a Debian kernel package xtask pins \
                     (tools/xtask/src/debian/pins.rs), `initramfs:NAME` an initramfs xtask \
                     builds; anything else is a file relative to the manifest",
                );
                None
            }
        }
    };
    let kernel = file("kernel", &raw.kernel);
    let initrd = raw.initrd.as_ref().map(|initrd| file("initrd", initrd));
    let cmdline = match &raw.cmdline {
        None => Some(String::new()),
        Some(cmdline) => check_cmdline(
            format!("{entry}.linux.cmdline"),
            cmdline,
            "the command line",
            "\"console=ttyS0 earlyprintk=serial\"",
            report,
        ),
    };
    match (ok, kernel, initrd, cmdline) {
        (true, Some(kernel), None, Some(cmdline)) => Ok(Some(LinuxGuest {
            kernel,
            initrd: None,
            cmdline,
        })),
        (true, Some(kernel), Some(Some(initrd)), Some(cmdline)) => Ok(Some(LinuxGuest {
            kernel,
            initrd: Some(initrd),
            cmdline,
        })),
        _ => Err(()),
    }
}

/// Reads the kernel and the initrd and loads them as the partition manager
/// will, into `memory` bytes with `vps` VPs.
pub(super) fn check_files(
    entry: &str,
    raw: &RawLinux,
    linux: &LinuxGuest,
    memory: u64,
    vps: u32,
    report: &mut Report<'_>,
) -> bool {
    let mut read = |field: &str, at: &Spanned<String>, (written, path): &(String, PathBuf)| {
        match std::fs::read(path) {
            Ok(bytes) if !bytes.is_empty() => Some(bytes),
            Ok(_) => {
                report.push(
                    GUEST_IMAGE_FILE,
                    format!("{entry}.linux.{field}"),
                    span(at),
                    format!("the {field} `{written}` ({}) is empty", path.display()),
                    "name the file relative to the manifest's directory",
                );
                None
            }
            Err(e) => {
                report.push(
                    GUEST_IMAGE_FILE,
                    format!("{entry}.linux.{field}"),
                    span(at),
                    format!(
                        "cannot read the {field} `{written}` ({}): {e}",
                        path.display()
                    ),
                    "name the file relative to the manifest's directory, such as \"./vmlinuz\" \
                     for a file beside the manifest (cargo xtask fetches Debian's kernel into \
                     target/tessera/linux/)",
                );
                None
            }
        }
    };
    let kernel = read("kernel", &raw.kernel, &linux.kernel);
    let initrd = match (&raw.initrd, &linux.initrd) {
        (Some(at), Some(file)) => read("initrd", at, file).map(Some),
        _ => Some(None),
    };
    let (Some(kernel), Some(initrd)) = (kernel, initrd) else {
        return false;
    };
    let boot = LinuxBoot {
        kernel: &kernel,
        cmdline: &linux.cmdline,
        initrd: initrd.as_deref().unwrap_or_default(),
        acpi: tessera_guest_loader::acpi::Config {
            vps,
            vmbus_irq: None,
            rtc: false,
        },
    };
    let Err(error) = load_linux(&boot, GuestMemory { size: memory }) else {
        return true;
    };
    report.push(
        GUEST_IMAGE_FILE,
        format!("{entry}.linux.kernel"),
        span(&raw.kernel),
        format!(
            "Tessera cannot boot `{}` with {} MiB of memory: {error}",
            linux.kernel.0,
            memory >> 20
        ),
        "linux.kernel is a 64-bit bzImage (Linux boot protocol 2.12 or later, such as Debian's \
         /boot/vmlinuz-*) whose init_size, and the initrd above it, fit in the partition's \
         memory: give the partition more memory, or a smaller initrd",
    );
    false
}
