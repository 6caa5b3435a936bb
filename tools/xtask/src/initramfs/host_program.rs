//! A host program in an initramfs: the binary, every shared library `ldd`
//! names (the dynamic loader among them), and the data files it reads
//! from its installation prefix, each at the path it has on the host, so
//! the program finds them inside as it does outside.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::tree::Initramfs;

/// Adds `program` (canonicalised: its data directory is found from its
/// real path), its libraries, and the `data_files`, which are paths
/// relative to its prefix (the parent of its `bin/`, as QEMU looks for
/// `<bin>/../share/qemu/...`). Returns the directories of the libraries,
/// for `LD_LIBRARY_PATH` (an initramfs has no `ld.so.cache`).
pub fn add(
    tree: &mut Initramfs,
    program: &Path,
    data_files: &[&str],
) -> Result<Vec<String>, String> {
    let program = fs::canonicalize(program).map_err(|e| format!("{}: {e}", program.display()))?;
    tree.host_file_in_place(&program)?;
    let output = Command::new("ldd")
        .arg(&program)
        .output()
        .map_err(|e| format!("cannot run ldd: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "ldd {} failed ({}): {}",
            program.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let libraries = parse_ldd(&String::from_utf8_lossy(&output.stdout))
        .map_err(|e| format!("{}: {e}", program.display()))?;
    let mut dirs: Vec<String> = Vec::new();
    for library in &libraries {
        tree.host_file_in_place(library)?;
        if let Some(dir) = library.parent().and_then(Path::to_str)
            && !dirs.iter().any(|d| d == dir)
        {
            dirs.push(dir.to_string());
        }
    }
    let prefix = program
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| format!("{} has no installation prefix", program.display()))?;
    for file in data_files {
        let host = prefix.join(file);
        if !host.exists() {
            return Err(format!(
                "{} needs {}, which is missing",
                program.display(),
                host.display()
            ));
        }
        tree.host_file_in_place(&host)?;
    }
    Ok(dirs)
}

/// The libraries in `ldd`'s output, in its order: `NAME => PATH (ADDRESS)`
/// lines and the loader's `PATH (ADDRESS)`; the vDSO, which has no file,
/// is skipped. A library `ldd` could not find is an error naming it.
pub fn parse_ldd(output: &str) -> Result<Vec<PathBuf>, String> {
    let mut libraries = Vec::new();
    for line in output.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.contains("statically linked") || line.contains("not a dynamic executable") {
            continue;
        }
        let target = match line.split_once("=>") {
            Some((name, target)) => {
                let target = target.trim();
                if target.starts_with("not found") {
                    return Err(format!("ldd cannot find its library {}", name.trim()));
                }
                target
            }
            None => line,
        };
        let path = target.split_whitespace().next().unwrap_or("");
        if path.starts_with('/') {
            libraries.push(PathBuf::from(path));
        } else if !path.starts_with("linux-vdso") && !path.starts_with("linux-gate") {
            return Err(format!(
                "ldd printed a line xtask does not understand: {line:?}"
            ));
        }
    }
    Ok(libraries)
}

#[cfg(test)]
mod tests {
    use super::*;

    const QEMU_LDD: &str = "\
\tlinux-vdso.so.1 (0x00007ffc1b5f2000)
\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f96fbde1000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f96f9845000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f96fbe4c000)
\tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007f96f9a49000)
";

    #[test]
    fn reads_libraries_and_the_loader() {
        assert_eq!(
            parse_ldd(QEMU_LDD).unwrap(),
            [
                PathBuf::from("/lib/x86_64-linux-gnu/libz.so.1"),
                "/lib/x86_64-linux-gnu/libc.so.6".into(),
                "/lib64/ld-linux-x86-64.so.2".into(),
                "/lib/x86_64-linux-gnu/libm.so.6".into(),
            ]
        );
    }

    #[test]
    fn a_static_program_has_no_libraries() {
        assert_eq!(
            parse_ldd("\tstatically linked\n").unwrap(),
            Vec::<PathBuf>::new()
        );
        assert!(
            parse_ldd("\tnot a dynamic executable\n")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_missing_library_is_named() {
        let error = parse_ldd("\tlibgone.so.3 => not found\n").unwrap_err();
        assert_eq!(error, "ldd cannot find its library libgone.so.3");
        assert!(parse_ldd("\tsomething odd\n").is_err());
    }

    #[test]
    fn the_host_shell_comes_with_its_libraries() {
        let mut tree = Initramfs::new();
        let dirs = add(&mut tree, Path::new("/bin/sh"), &[]).unwrap();
        let sh = fs::canonicalize("/bin/sh").unwrap();
        assert!(tree.contains(sh.to_str().unwrap()));
        assert!(!dirs.is_empty());
        let error = add(&mut tree, Path::new("/bin/sh"), &["share/no-such-file"]).unwrap_err();
        assert!(error.contains("no-such-file, which is missing"), "{error}");
    }
}
