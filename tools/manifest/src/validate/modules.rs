//! `partition.NAME.modules`: the boot modules of a Multiboot guest, files
//! of the repository that xtask passes as Multiboot modules and the
//! partition manager hands the guest the way QEMU's `-initrd "FILE ARGS"`
//! does.

use std::path::{Component, Path, PathBuf};

use tessera_boot_plan::{GuestFormat, MAX_GUEST_MODULES};

use super::{check_cmdline, span};
use crate::error::Report;
use crate::error::check::*;
use crate::model::{GuestModule, ModuleFile, Partition};
use crate::raw::{RawManifest, RawModule, RawPartition};

const FILE_HELP: &str = "name a file relative to the repository root, such as \
                         file = \"test-guests/multiboot/module.txt\"";

/// The repository root that module files are relative to: the nearest
/// directory above the manifest (made absolute against the current
/// directory) whose `Cargo.toml` has a `[workspace]` table.
pub(crate) fn repository_root(manifest: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(manifest).ok()?;
    absolute
        .ancestors()
        .skip(1)
        .find(|dir| is_workspace_root(dir))
        .map(Path::to_path_buf)
}

fn is_workspace_root(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml"))
        .ok()
        .and_then(|text| toml::from_str::<toml::Table>(&text).ok())
        .is_some_and(|table| table.contains_key("workspace"))
}

/// Whether any partition of the manifest lists modules (only then is the
/// repository root looked for).
pub(super) fn any_modules(raw: &RawManifest) -> bool {
    raw.partition.values().any(|p| {
        p.get_ref()
            .modules
            .as_ref()
            .is_some_and(|m| !m.get_ref().is_empty())
    })
}

/// How many distinct module files the manifest names (for the image
/// count: each is a boot module): Multiboot modules, by the name written
/// (relative to the repository root), and Linux initrds, relative to the
/// manifest.
pub(super) fn distinct_files(raw: &RawManifest) -> usize {
    let mut files: Vec<(bool, &str)> = Vec::new();
    for p in raw.partition.values() {
        let p = p.get_ref();
        let modules = p.modules.iter().flat_map(|m| m.get_ref());
        let written = modules
            .map(|m| (false, m.get_ref().file.get_ref().as_str()))
            .chain(
                p.linux
                    .iter()
                    .filter_map(|l| l.get_ref().initrd.as_ref())
                    .map(|i| (true, i.get_ref().as_str())),
            );
        for file in written {
            if !files.contains(&file) {
                files.push(file);
            }
        }
    }
    files.len()
}

/// Checks `modules` of partition `entry` (whose format is `format`, if it
/// is a known one); returns them, or `None` if something is wrong.
pub(super) fn check_modules(
    entry: &str,
    p: &RawPartition,
    format: Option<GuestFormat>,
    root: Option<&Path>,
    report: &mut Report<'_>,
) -> Option<Vec<GuestModule>> {
    let Some(list) = &p.modules else {
        return Some(Vec::new());
    };
    let field = format!("{entry}.modules");
    if format.is_some_and(|f| f.max_modules() == 0) && !list.get_ref().is_empty() {
        report.push(
            BAD_GUEST_MODULE,
            field,
            span(list),
            "an elf64 guest takes no boot modules",
            "remove `modules`, or load the guest with format = \"multiboot\", whose loader \
             passes boot modules the way QEMU's -initrd does",
        );
        return None;
    }
    let mut ok = true;
    let count = list.get_ref().len();
    if count > MAX_GUEST_MODULES {
        report.push(
            BAD_GUEST_MODULE,
            field.clone(),
            span(list),
            format!("{count} boot modules, at most {MAX_GUEST_MODULES} fit"),
            format!(
                "pass at most {MAX_GUEST_MODULES} files (several can go into one, such as an \
                 archive the guest unpacks)"
            ),
        );
        ok = false;
    }
    let mut modules = Vec::new();
    for (i, module) in list.get_ref().iter().enumerate() {
        let module_entry = format!("{field}[{i}]");
        match check_module(&module_entry, module.get_ref(), root, report) {
            Some(m) => modules.push(m),
            None => ok = false,
        }
    }
    ok.then_some(modules)
}

fn check_module(
    entry: &str,
    m: &RawModule,
    root: Option<&Path>,
    report: &mut Report<'_>,
) -> Option<GuestModule> {
    let file_ok = check_file(entry, m, root, report);
    let cmdline = match &m.cmdline {
        None => Some(String::new()),
        Some(cmdline) => check_cmdline(
            format!("{entry}.cmdline"),
            cmdline,
            "the module's command line",
            "\"module-one arg\" (the guest reads it as the module's string)",
            report,
        ),
    };
    if !file_ok {
        return None;
    }
    let file = m.file.get_ref().clone();
    Some(GuestModule {
        path: root.unwrap_or(Path::new("")).join(&file),
        file,
        cmdline: cmdline?,
    })
}

/// `file`: a relative path without `..`, naming a non-empty regular file
/// under the repository root.
fn check_file(entry: &str, m: &RawModule, root: Option<&Path>, report: &mut Report<'_>) -> bool {
    let file = m.file.get_ref();
    let field = format!("{entry}.file");
    let at = span(&m.file);
    let path = Path::new(file);
    let mut bad = |message: String, help: &str| {
        report.push(MODULE_FILE, field.clone(), at.clone(), message, help);
        false
    };
    if file.is_empty() {
        return bad("the module's `file` is empty".to_owned(), FILE_HELP);
    }
    if path.has_root() {
        return bad(
            format!("`{file}` is an absolute path"),
            "module files are relative to the repository root, so a deployment builds the \
             same on every machine: move the file into the repository and name it from the \
             root, such as file = \"test-guests/multiboot/module.txt\"",
        );
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return bad(
            format!("`{file}` goes up with `..`"),
            "module files lie inside the repository: name the file from the repository root, \
             without `..`",
        );
    }
    let Some(root) = root else {
        return bad(
            "cannot find the repository root that module files are relative to: no directory \
             above the manifest has a Cargo.toml with a [workspace] table"
                .to_owned(),
            "keep the manifest inside the repository (boot/deployments/)",
        );
    };
    let full = root.join(path);
    match std::fs::metadata(&full) {
        Err(e) => bad(
            format!("`{file}` cannot be read ({}): {e}", full.display()),
            FILE_HELP,
        ),
        Ok(meta) if !meta.is_file() => bad(
            format!("`{file}` is not a regular file ({})", full.display()),
            "a boot module is the contents of one file: name a file, not a directory",
        ),
        Ok(meta) if meta.len() == 0 => bad(
            format!("`{file}` is empty ({})", full.display()),
            "a boot module needs at least one byte: put the module's contents in the file",
        ),
        Ok(_) => true,
    }
}

/// The deployment's module files: one per distinct file on the host, in
/// order of first use, named `module-N` from 1 (skipping names the images
/// use).
pub(super) fn module_files(partitions: &[Partition], taken: &[&str]) -> Vec<ModuleFile> {
    let mut files: Vec<ModuleFile> = Vec::new();
    let mut n = 0u32;
    for module in partitions.iter().flat_map(|p| &p.modules) {
        if files.iter().any(|f| f.path == module.path) {
            continue;
        }
        let name = loop {
            n += 1;
            let name = format!("module-{n}");
            if !taken.contains(&name.as_str()) {
                break name;
            }
        };
        files.push(ModuleFile {
            name,
            file: module.file.clone(),
            path: module.path.clone(),
        });
    }
    files
}
