//! Unpacking a `.deb`: an ar archive (`debian-binary`, `control.tar.*`,
//! `data.tar.*`) whose `data.tar` holds the files the package installs,
//! compressed with xz (bookworm's packages) or zstd (what newer dpkg and
//! Ubuntu write).
//!
//! Crates: `ar` reads the outer archive, `tar` unpacks (refusing entries
//! that would land outside the destination), `lzma-rs` and `ruzstd` are
//! pure-Rust decoders, so xtask builds with cargo alone.

use std::fs::{self, File};
use std::io::{self, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};

use super::fetch;
use super::pins::Pin;

/// Written last into an unpacked package's directory: the SHA-256 of the
/// `.deb` it came from.
const STAMP: &str = ".xtask-unpacked-from";

/// The pinned package, fetched and unpacked into `cache/<package>_<version>/`;
/// both the download and the unpacked tree are reused on later runs.
pub fn unpacked(pin: &Pin, cache: &Path) -> Result<PathBuf, String> {
    let deb = fetch::fetch(pin, cache)?;
    let dir = cache.join(pin.file_name().trim_end_matches(".deb"));
    if fs::read_to_string(dir.join(STAMP)).is_ok_and(|stamp| stamp == pin.sha256) {
        return Ok(dir);
    }
    let partial = dir.with_extension("unpacking");
    for old in [&dir, &partial] {
        if old.exists() {
            fs::remove_dir_all(old).map_err(|e| format!("{}: {e}", old.display()))?;
        }
    }
    extract(&deb, &partial)
        .map_err(|e| format!("cannot unpack {} ({}): {e}", pin.spec(), deb.display()))?;
    fs::write(partial.join(STAMP), pin.sha256)
        .and_then(|()| fs::rename(&partial, &dir))
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

/// Unpacks the files of the package `deb` into `dest`.
pub fn extract(deb: &Path, dest: &Path) -> Result<(), String> {
    let file = File::open(deb).map_err(|e| format!("{}: {e}", deb.display()))?;
    let mut archive = ar::Archive::new(file);
    while let Some(entry) = archive.next_entry() {
        let entry = entry.map_err(|e| format!("not an ar archive: {e}"))?;
        let name = String::from_utf8_lossy(entry.header().identifier()).into_owned();
        let Some(compression) = name.strip_prefix("data.tar") else {
            continue;
        };
        let tar = decompress(compression, entry).map_err(|e| format!("{name}: {e}"))?;
        fs::create_dir_all(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
        let mut tar = tar::Archive::new(tar);
        tar.set_preserve_permissions(true);
        return tar.unpack(dest).map_err(|e| format!("{name}: {e}"));
    }
    Err("it has no data.tar member".into())
}

/// The `data.tar` member, decompressed: `compression` is what follows
/// `data.tar` in its name.
fn decompress<'a>(compression: &str, member: impl Read + 'a) -> io::Result<Box<dyn Read + 'a>> {
    match compression {
        "" => Ok(Box::new(member)),
        ".xz" => {
            // lzma-rs decodes xz into a writer, not as a reader.
            let mut tar = Vec::new();
            lzma_rs::xz_decompress(&mut BufReader::new(member), &mut tar)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{e:?}")))?;
            Ok(Box::new(Cursor::new(tar)))
        }
        ".zst" => ruzstd::decoding::StreamingDecoder::new(member)
            .map(|decoder| Box::new(decoder) as Box<dyn Read + 'a>)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
        other => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("compression {other:?} is not one xtask reads (xz, zst or none)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch;

    /// A tar holding `./bin/tool` (mode 755) and `./etc/tool.conf`.
    fn data_tar() -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, mode, content) in [
            ("./bin/tool", 0o755, &b"#!/bin/sh\n"[..]),
            ("./etc/tool.conf", 0o644, &b"key=value\n"[..]),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(mode);
            header.set_cksum();
            builder.append_data(&mut header, path, content).unwrap();
        }
        builder.into_inner().unwrap()
    }

    /// A .deb with the given data member.
    fn deb(data_name: &str, data: &[u8]) -> Vec<u8> {
        let mut builder = ar::Builder::new(Vec::new());
        for (name, content) in [
            ("debian-binary", &b"2.0\n"[..]),
            ("control.tar.xz", &b"(not read)"[..]),
            (data_name, data),
        ] {
            let header = ar::Header::new(name.as_bytes().to_vec(), content.len() as u64);
            builder.append(&header, content).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn check_unpacked(dest: &Path) {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(fs::read(dest.join("bin/tool")).unwrap(), b"#!/bin/sh\n");
        let mode = fs::metadata(dest.join("bin/tool"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(
            fs::read(dest.join("etc/tool.conf")).unwrap(),
            b"key=value\n"
        );
    }

    #[test]
    fn unpacks_xz_data() {
        let dir = scratch::dir("deb-xz");
        let mut xz = Vec::new();
        lzma_rs::xz_compress(&mut Cursor::new(data_tar()), &mut xz).unwrap();
        fs::write(dir.join("p.deb"), deb("data.tar.xz", &xz)).unwrap();
        extract(&dir.join("p.deb"), &dir.join("out")).unwrap();
        check_unpacked(&dir.join("out"));
    }

    #[test]
    fn unpacks_zstd_and_plain_data() {
        let dir = scratch::dir("deb-zst");
        let zst = ruzstd::encoding::compress_to_vec(
            Cursor::new(data_tar()),
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        fs::write(dir.join("z.deb"), deb("data.tar.zst", &zst)).unwrap();
        extract(&dir.join("z.deb"), &dir.join("z")).unwrap();
        check_unpacked(&dir.join("z"));
        fs::write(dir.join("t.deb"), deb("data.tar", &data_tar())).unwrap();
        extract(&dir.join("t.deb"), &dir.join("t")).unwrap();
        check_unpacked(&dir.join("t"));
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        let dir = scratch::dir("deb-bad");
        fs::write(dir.join("gz.deb"), deb("data.tar.bz2", b"x")).unwrap();
        let error = extract(&dir.join("gz.deb"), &dir.join("o")).unwrap_err();
        assert!(error.contains("\".bz2\" is not one xtask reads"), "{error}");
        fs::write(dir.join("bad-xz.deb"), deb("data.tar.xz", b"not xz")).unwrap();
        assert!(extract(&dir.join("bad-xz.deb"), &dir.join("o")).is_err());
        fs::write(dir.join("not.deb"), b"plain text").unwrap();
        let error = extract(&dir.join("not.deb"), &dir.join("o")).unwrap_err();
        assert!(error.contains("not an ar archive"), "{error}");
    }
}
