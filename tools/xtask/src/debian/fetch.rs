//! Fetching a pinned Debian package with `apt-get download`, cached: a
//! `.deb` already in the cache is used again if its size and SHA-256 are the
//! pin's; otherwise it is fetched anew and checked the same way.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use super::pins::Pin;
use crate::host_tools;

const APT_GET: &str = "apt-get";

/// The `.deb` of `pin` in `cache`, downloaded if it is not there (or not
/// the pin's file). On a host whose package lists do not know the version,
/// the lists are updated once (as root) and the download tried again.
pub fn fetch(pin: &Pin, cache: &Path) -> Result<PathBuf, String> {
    fetch_with(pin, cache, |pin, dir| {
        apt_download(pin, dir).or_else(|first| {
            if !host_tools::running_as_root() {
                return Err(first);
            }
            println!(
                "xtask: {} not fetched ({first}); updating the package lists",
                pin.spec()
            );
            host_tools::apt_get(&["update", "-qq"])?;
            apt_download(pin, dir)
        })
    })
}

/// [`fetch`] with the download step given: `download(pin, dir)` leaves the
/// package's `.deb` in the empty directory `dir`.
pub fn fetch_with(
    pin: &Pin,
    cache: &Path,
    download: impl Fn(&Pin, &Path) -> Result<(), String>,
) -> Result<PathBuf, String> {
    let cannot = |why: String| {
        format!(
            "cannot fetch the Debian package {} version {}: {why} \
             (the pin is in tools/xtask/src/debian/pins.rs, which says how to update it)",
            pin.package, pin.version
        )
    };
    let deb = cache.join(pin.file_name());
    if check(&deb, pin).is_ok() {
        return Ok(deb);
    }
    let partial = cache.join(format!("{}.partial", pin.package));
    if partial.exists() {
        fs::remove_dir_all(&partial).map_err(|e| cannot(format!("{}: {e}", partial.display())))?;
    }
    fs::create_dir_all(&partial).map_err(|e| cannot(format!("{}: {e}", partial.display())))?;
    println!("xtask: fetching {} with apt-get download", pin.spec());
    download(pin, &partial).map_err(cannot)?;
    let fetched = only_deb(&partial).map_err(cannot)?;
    check(&fetched, pin).map_err(|e| cannot(format!("the downloaded file {e}")))?;
    fs::rename(&fetched, &deb).map_err(|e| cannot(format!("{}: {e}", deb.display())))?;
    let _ = fs::remove_dir_all(&partial);
    Ok(deb)
}

/// Whether `path` is the pin's file: its size, then its SHA-256.
pub fn check(path: &Path, pin: &Pin) -> Result<(), String> {
    let size = fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    if size != pin.size {
        return Err(format!(
            "{} has {size} bytes, the pin says {}",
            path.display(),
            pin.size
        ));
    }
    let sha256 = sha256_of(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if sha256 != pin.sha256 {
        return Err(format!(
            "{} has SHA-256 {sha256}, the pin says {}",
            path.display(),
            pin.sha256
        ));
    }
    Ok(())
}

fn sha256_of(path: &Path) -> io::Result<String> {
    let mut hasher = Sha256::new();
    io::copy(&mut File::open(path)?, &mut hasher)?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

/// The one `.deb` file in `dir`.
fn only_deb(dir: &Path) -> Result<PathBuf, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let debs: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "deb"))
        .collect();
    match debs.as_slice() {
        [deb] => Ok(deb.clone()),
        [] => Err(format!("apt-get left no .deb in {}", dir.display())),
        _ => Err(format!(
            "apt-get left {} .deb files in {}",
            debs.len(),
            dir.display()
        )),
    }
}

/// `apt-get download package=version` in `dir`, its output shown only if
/// it fails.
fn apt_download(pin: &Pin, dir: &Path) -> Result<(), String> {
    let output = Command::new(APT_GET)
        .current_dir(dir)
        .args(["download", "-q"])
        .arg(pin.spec())
        .output()
        .map_err(|e| format!("cannot run {APT_GET} (a Debian-like host is needed): {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&output.stderr);
    let said = said
        .lines()
        .filter(|line| line.starts_with("E:"))
        .collect::<Vec<_>>()
        .join("; ");
    Err(format!(
        "apt-get download failed ({}): {said}",
        output.status
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch;
    use std::cell::Cell;

    const CONTENT: &[u8] = b"a .deb stand-in";
    /// SHA-256 of CONTENT.
    const CONTENT_SHA256: &str = "fe84663c9bd4f3dbfa1ec6e3833f046606be595db62c28b34accc9e8f70da34c";

    const PIN: Pin = Pin {
        package: "stand-in",
        version: "1:2.0-1",
        size: CONTENT.len() as u64,
        sha256: CONTENT_SHA256,
    };

    fn writes(content: &'static [u8]) -> impl Fn(&Pin, &Path) -> Result<(), String> {
        move |_, dir| {
            fs::write(dir.join("stand-in_1%3a2.0-1_amd64.deb"), content).map_err(|e| e.to_string())
        }
    }

    #[test]
    fn sha256_is_the_content_s() {
        let dir = scratch::dir("fetch-sha");
        fs::write(dir.join("f"), CONTENT).unwrap();
        assert_eq!(sha256_of(&dir.join("f")).unwrap(), CONTENT_SHA256);
    }

    #[test]
    fn downloads_once_then_uses_the_cache() {
        let dir = scratch::dir("fetch-cache");
        let calls = Cell::new(0);
        let download = |pin: &Pin, at: &Path| {
            calls.set(calls.get() + 1);
            writes(CONTENT)(pin, at)
        };
        let deb = fetch_with(&PIN, &dir, download).unwrap();
        assert_eq!(deb, dir.join("stand-in_1%3a2.0-1_amd64.deb"));
        assert_eq!(fs::read(&deb).unwrap(), CONTENT);
        assert_eq!(fetch_with(&PIN, &dir, download).unwrap(), deb);
        assert_eq!(calls.get(), 1);
        assert!(!dir.join("stand-in.partial").exists());
    }

    #[test]
    fn a_damaged_cache_is_fetched_again() {
        let dir = scratch::dir("fetch-damaged");
        fs::write(dir.join(PIN.file_name()), b"a .deb stand-ix").unwrap();
        let deb = fetch_with(&PIN, &dir, writes(CONTENT)).unwrap();
        assert_eq!(fs::read(deb).unwrap(), CONTENT);
    }

    #[test]
    fn a_download_that_is_not_the_pinned_file_is_refused() {
        let dir = scratch::dir("fetch-wrong");
        let error = fetch_with(&PIN, &dir, writes(b"another .deb!!!")).unwrap_err();
        assert!(
            error.starts_with("cannot fetch the Debian package stand-in version 1:2.0-1: "),
            "{error}"
        );
        assert!(error.contains("SHA-256"), "{error}");
        let error = fetch_with(&PIN, &dir, writes(b"short")).unwrap_err();
        assert!(error.contains("has 5 bytes, the pin says 15"), "{error}");
        assert!(!dir.join(PIN.file_name()).exists());
    }

    #[test]
    fn a_failed_download_names_the_package_and_version() {
        let dir = scratch::dir("fetch-failed");
        let error = fetch_with(&PIN, &dir, |_, _| {
            Err("E: Version '1:2.0-1' for 'stand-in' was not found".into())
        })
        .unwrap_err();
        assert!(error.contains("stand-in version 1:2.0-1"), "{error}");
        assert!(error.contains("was not found"), "{error}");
        assert!(error.contains("pins.rs"), "{error}");
        let error = fetch_with(&PIN, &dir, |_, _| Ok(())).unwrap_err();
        assert!(error.contains("apt-get left no .deb"), "{error}");
    }
}
