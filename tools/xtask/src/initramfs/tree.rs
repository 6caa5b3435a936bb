//! An initramfs as a tree of paths, filled from host files and bytes, then
//! written as one newc cpio archive (directories before what they hold,
//! every parent made).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::cpio;

/// Where a file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Bytes(Vec<u8>),
    /// A host file, read when the archive is written (symbolic links followed).
    Host(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Dir,
    File { source: Source, mode: u32 },
    Symlink(String),
}

/// The files of an initramfs, by path (absolute inside the initramfs).
#[derive(Debug, Default)]
pub struct Initramfs {
    nodes: BTreeMap<String, Node>,
}

impl Initramfs {
    pub fn new() -> Self {
        Self::default()
    }

    /// A directory (and its parents).
    pub fn dir(&mut self, path: &str) -> Result<(), String> {
        self.insert(path, Node::Dir)
    }

    /// A file with the given permission bits.
    pub fn file(&mut self, path: &str, source: Source, mode: u32) -> Result<(), String> {
        self.insert(path, Node::File { source, mode })
    }

    /// The host file `host` at `path`, with its permission bits.
    pub fn host_file(&mut self, path: &str, host: &Path) -> Result<(), String> {
        let mode = fs::metadata(host)
            .map_err(|e| format!("{}: {e}", host.display()))?
            .permissions()
            .mode();
        self.file(path, Source::Host(host.to_path_buf()), mode & 0o7777)
    }

    /// The host file `host` at the same path inside.
    pub fn host_file_in_place(&mut self, host: &Path) -> Result<(), String> {
        let path = host
            .to_str()
            .ok_or_else(|| format!("{} is not UTF-8", host.display()))?;
        self.host_file(path, host)
    }

    pub fn symlink(&mut self, path: &str, target: &str) -> Result<(), String> {
        self.insert(path, Node::Symlink(target.into()))
    }

    /// Whether something is at `path`.
    #[cfg(test)]
    pub fn contains(&self, path: &str) -> bool {
        normalise(path).is_ok_and(|path| self.nodes.contains_key(&path))
    }

    /// Adds `node` at `path` and a directory at each missing parent. The
    /// same node twice is fine; two different ones at one path are refused.
    fn insert(&mut self, path: &str, node: Node) -> Result<(), String> {
        let path = normalise(path)?;
        let mut parent = String::new();
        for part in path
            .split('/')
            .collect::<Vec<_>>()
            .split_last()
            .map_or(&[][..], |(_, p)| p)
        {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(part);
            match self.nodes.get(&parent) {
                None => {
                    self.nodes.insert(parent.clone(), Node::Dir);
                }
                Some(Node::Dir) => {}
                Some(_) => return Err(format!("/{parent} is not a directory (adding /{path})")),
            }
        }
        match self.nodes.get(&path) {
            Some(existing) if *existing != node => {
                Err(format!("/{path} is added twice, differently"))
            }
            _ => {
                self.nodes.insert(path, node);
                Ok(())
            }
        }
    }

    /// Writes the archive to `out`; returns its size in bytes.
    pub fn write(&self, out: &Path) -> Result<u64, String> {
        let fail = |e: io::Error| format!("{}: {e}", out.display());
        let file = File::create(out).map_err(fail)?;
        let mut writer = cpio::Writer::new(BufWriter::new(file));
        for (path, node) in &self.nodes {
            match node {
                Node::Dir => writer.dir(path, 0o755).map_err(fail)?,
                Node::Symlink(target) => writer.symlink(path, target).map_err(fail)?,
                Node::File {
                    source: Source::Bytes(bytes),
                    mode,
                } => writer
                    .file(path, *mode, bytes.len() as u64, bytes.as_slice())
                    .map_err(fail)?,
                Node::File {
                    source: Source::Host(host),
                    mode,
                } => {
                    let read = |e: io::Error| format!("{} (for /{path}): {e}", host.display());
                    let file = File::open(host).map_err(read)?;
                    let size = file.metadata().map_err(read)?.len();
                    writer.file(path, *mode, size, file).map_err(read)?;
                }
            }
        }
        let out_file = writer.finish().map_err(fail)?;
        let file = out_file.into_inner().map_err(|e| fail(e.into_error()))?;
        Ok(file.metadata().map_err(fail)?.len())
    }
}

/// `path` without its leading `/`; refused if empty or with `.`, `..` or
/// empty parts.
fn normalise(path: &str) -> Result<String, String> {
    let inner = path.strip_prefix('/').unwrap_or(path);
    if inner.is_empty() || inner.split('/').any(|part| matches!(part, "" | "." | "..")) {
        return Err(format!("{path:?} is not a plain path"));
    }
    Ok(inner.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::initramfs::cpio::tests::read;
    use crate::scratch;

    #[test]
    fn parents_come_first_and_files_keep_their_modes() {
        let dir = scratch::dir("initramfs-tree");
        let host = dir.join("tool");
        fs::write(&host, b"tool bytes").unwrap();
        fs::set_permissions(&host, fs::Permissions::from_mode(0o750)).unwrap();
        let mut tree = Initramfs::new();
        tree.file("/init", Source::Bytes(b"#!/bin/sh\n".to_vec()), 0o755)
            .unwrap();
        tree.host_file("/usr/bin/tool", &host).unwrap();
        tree.symlink("/bin/sh", "busybox").unwrap();
        tree.dir("/proc").unwrap();
        let size = tree.write(&dir.join("out.cpio")).unwrap();
        let archive = fs::read(dir.join("out.cpio")).unwrap();
        assert_eq!(size, archive.len() as u64);
        let entries: Vec<(String, u32)> = read(&archive)
            .into_iter()
            .map(|(name, mode, _)| (name, mode))
            .collect();
        assert_eq!(
            entries,
            [
                ("bin".into(), 0o040_755),
                ("bin/sh".into(), 0o120_777),
                ("init".into(), 0o100_755),
                ("proc".into(), 0o040_755),
                ("usr".into(), 0o040_755),
                ("usr/bin".into(), 0o040_755),
                ("usr/bin/tool".into(), 0o100_750),
            ]
        );
        assert_eq!(read(&archive)[6].2, b"tool bytes");
    }

    #[test]
    fn the_same_file_twice_is_one_entry_and_conflicts_are_refused() {
        let mut tree = Initramfs::new();
        let lib = Source::Host("/lib/libc.so.6".into());
        tree.file("/lib/libc.so.6", lib.clone(), 0o644).unwrap();
        tree.file("lib/libc.so.6", lib, 0o644).unwrap();
        assert!(tree.contains("/lib/libc.so.6") && tree.contains("/lib"));
        let error = tree.symlink("/lib/libc.so.6", "x").unwrap_err();
        assert!(error.contains("added twice"), "{error}");
        let error = tree.dir("/lib/libc.so.6/x").unwrap_err();
        assert!(error.contains("not a directory"), "{error}");
    }

    #[test]
    fn paths_must_be_plain() {
        let mut tree = Initramfs::new();
        for bad in ["", "/", "/a/../b", "a//b", "./a"] {
            assert!(tree.dir(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_missing_host_file_names_itself() {
        let dir = scratch::dir("initramfs-missing");
        let mut tree = Initramfs::new();
        tree.file("/x", Source::Host(dir.join("absent")), 0o644)
            .unwrap();
        let error = tree.write(&dir.join("out.cpio")).unwrap_err();
        assert!(error.contains("absent (for /x)"), "{error}");
    }
}
