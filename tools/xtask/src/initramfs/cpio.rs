//! Writing a cpio archive in the "newc" format, the one Linux unpacks as
//! its initramfs (`Documentation/driver-api/early-userspace/buffer-format.rst`):
//! each entry is the magic `070701`, thirteen 8-digit hexadecimal fields,
//! the NUL-terminated name padded to 4 bytes, then the data padded to 4
//! bytes; a `TRAILER!!!` entry ends the archive.
//!
//! Our own writer: the format is a page of rules, and writing it here
//! keeps the archive reproducible (every time stamp is 0, every owner root,
//! inode numbers count from 1).

use std::io::{self, Read, Write};

const MAGIC: &[u8] = b"070701";
const TRAILER: &str = "TRAILER!!!";
const HEADER_LEN: usize = 110;

const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFLNK: u32 = 0o120_000;

/// Writes entries, in the order given, to `out`.
#[derive(Debug)]
pub struct Writer<W: Write> {
    out: W,
    next_inode: u32,
    /// Bytes written so far (the padding is computed from it).
    written: u64,
}

impl<W: Write> Writer<W> {
    pub fn new(out: W) -> Self {
        Self {
            out,
            next_inode: 1,
            written: 0,
        }
    }

    /// A directory; `mode` holds its permission bits.
    pub fn dir(&mut self, path: &str, mode: u32) -> io::Result<()> {
        self.header(path, S_IFDIR | (mode & 0o7777), 2, 0)?;
        Ok(())
    }

    /// A regular file of `size` bytes, read from `data` (which must hold
    /// exactly that many).
    pub fn file(&mut self, path: &str, mode: u32, size: u64, data: impl Read) -> io::Result<()> {
        self.header(path, S_IFREG | (mode & 0o7777), 1, size)?;
        let copied = io::copy(&mut data.take(size), &mut self.out)?;
        if copied != size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{path}: {copied} bytes, {size} expected"),
            ));
        }
        self.written += copied;
        self.pad()
    }

    /// A symbolic link to `target`.
    pub fn symlink(&mut self, path: &str, target: &str) -> io::Result<()> {
        self.header(path, S_IFLNK | 0o777, 1, target.len() as u64)?;
        self.write_all(target.as_bytes())?;
        self.pad()
    }

    /// Writes the trailer and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.header(TRAILER, 0, 1, 0)?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn header(&mut self, name: &str, mode: u32, links: u32, size: u64) -> io::Result<()> {
        let too_big = |what: &str| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{name}: {what} does not fit a newc header"),
            )
        };
        let size = u32::try_from(size).map_err(|_| too_big("the size"))?;
        let name_len = u32::try_from(name.len() + 1).map_err(|_| too_big("the name"))?;
        if name.contains('\0') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{name:?}: a NUL in the name"),
            ));
        }
        let inode = if name == TRAILER { 0 } else { self.next_inode };
        self.next_inode += 1;
        let fields = [
            inode, mode, 0, // uid
            0, // gid
            links, 0, // mtime
            size, 0, 0, // dev major, minor
            0, 0, // rdev major, minor
            name_len, 0, // check
        ];
        let mut header = Vec::with_capacity(HEADER_LEN + name.len() + 4);
        header.extend_from_slice(MAGIC);
        for field in fields {
            header.extend_from_slice(format!("{field:08X}").as_bytes());
        }
        header.extend_from_slice(name.as_bytes());
        header.push(0);
        self.write_all(&header)?;
        self.pad()
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Zeros up to the next multiple of 4.
    fn pad(&mut self) -> io::Result<()> {
        let pad = (4 - self.written % 4) % 4;
        self.write_all(&[0; 3][..pad as usize])
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// One entry read back: name, mode, data.
    pub type Entry = (String, u32, Vec<u8>);

    /// Reads a newc archive (test-only reader), up to its trailer.
    pub fn read(mut archive: &[u8]) -> Vec<Entry> {
        let mut entries = Vec::new();
        let start = archive.len();
        loop {
            let at = start - archive.len();
            assert_eq!(at % 4, 0, "entry at {at} is not aligned");
            assert_eq!(&archive[..6], MAGIC);
            let field = |i: usize| {
                let text = std::str::from_utf8(&archive[6 + 8 * i..14 + 8 * i]).unwrap();
                u32::from_str_radix(text, 16).unwrap() as usize
            };
            let (mode, size, name_len) = (field(1), field(6), field(11));
            let name_end = HEADER_LEN + name_len;
            let name = std::str::from_utf8(&archive[HEADER_LEN..name_end - 1]).unwrap();
            assert_eq!(archive[name_end - 1], 0);
            let data_at = name_end.next_multiple_of(4);
            if name == TRAILER {
                return entries;
            }
            let data = archive[data_at..data_at + size].to_vec();
            entries.push((name.to_string(), mode as u32, data));
            archive = &archive[(data_at + size).next_multiple_of(4)..];
        }
    }

    #[test]
    fn a_file_entry_is_laid_out_as_newc() {
        let mut writer = Writer::new(Vec::new());
        writer.file("init", 0o755, 3, &b"abc"[..]).unwrap();
        let archive = writer.finish().unwrap();
        let header = std::str::from_utf8(&archive[..HEADER_LEN]).unwrap();
        assert_eq!(
            header,
            "070701\
             00000001000081ED000000000000000000000001\
             0000000000000003000000000000000000000000\
             000000000000000500000000"
        );
        // "init\0" ends at 115, padded to 116; "abc" padded to 120.
        assert_eq!(&archive[110..116], b"init\0\0");
        assert_eq!(&archive[116..120], b"abc\0");
        assert_eq!(&archive[120..126], MAGIC);
        assert!(archive.ends_with(b"TRAILER!!!\0\0\0\0"));
        assert_eq!(archive.len() % 4, 0);
    }

    #[test]
    fn entries_read_back() {
        let mut writer = Writer::new(Vec::new());
        writer.dir("bin", 0o755).unwrap();
        writer
            .file("bin/busybox", 0o755, 5, &b"\x7fELF!"[..])
            .unwrap();
        writer.symlink("bin/sh", "busybox").unwrap();
        writer.file("empty", 0o644, 0, io::empty()).unwrap();
        let archive = writer.finish().unwrap();
        assert_eq!(
            read(&archive),
            [
                ("bin".to_string(), 0o040_755, vec![]),
                ("bin/busybox".to_string(), 0o100_755, b"\x7fELF!".to_vec()),
                ("bin/sh".to_string(), 0o120_777, b"busybox".to_vec()),
                ("empty".to_string(), 0o100_644, vec![]),
            ]
        );
    }

    #[test]
    fn short_data_and_bad_names_are_refused() {
        let mut writer = Writer::new(Vec::new());
        assert!(writer.file("f", 0o644, 10, &b"short"[..]).is_err());
        let mut writer = Writer::new(Vec::new());
        assert!(writer.dir("a\0b", 0o755).is_err());
        assert!(writer.file("big", 0o644, 1 << 32, io::empty()).is_err());
    }
}
