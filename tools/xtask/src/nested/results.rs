//! What L1's `/init` reports on its second serial port, read as it
//! arrives. Each report is a line starting `@@nested `; a test's serial log
//! and QEMU's stderr follow their line base64-encoded, and base64 never
//! starts a line with `@`, so no byte a test prints can be taken for a
//! report:
//!
//! ```text
//! @@nested l1 <what L1 is: kernel, kvm_amd nested, CPU flags>
//! @@nested start <test>
//! @@nested begin <test>
//! @@nested serial
//! <base64 of the test's serial log>
//! @@nested stderr
//! <base64 of QEMU's stderr>
//! @@nested end <test> exit <QEMU's status> | end <test> stalled <seconds>
//! @@nested fatal <why L1 cannot run the tests>
//! @@nested done
//! ```
//!
//! The `/init` that writes it is `init.sh`, beside this file.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const PREFIX: &str = "@@nested ";

/// How a test's QEMU ended inside L1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// QEMU's exit status.
    Exit(i32),
    /// Stopped: its serial log did not grow for this many seconds.
    Stalled(u64),
}

/// One test's run inside L1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRun {
    pub name: String,
    pub serial: Vec<u8>,
    pub stderr: Vec<u8>,
    pub end: End,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// What L1 is.
    L1(String),
    /// A test's QEMU starts.
    Start(String),
    Test(TestRun),
    /// L1 cannot run the tests.
    Fatal(String),
    /// Every test has run.
    Done,
    /// A line that breaks the format (a report cut short, say).
    Garbled(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Serial,
    Stderr,
}

#[derive(Debug)]
struct Open {
    name: String,
    section: Option<Section>,
    serial: String,
    stderr: String,
}

/// Reads the report stream in chunks of any size.
#[derive(Debug, Default)]
pub struct Reader {
    /// The unfinished last line.
    partial: Vec<u8>,
    open: Option<Open>,
}

impl Reader {
    /// The reports completed by `chunk`.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Report> {
        self.partial.extend_from_slice(chunk);
        let mut reports = Vec::new();
        while let Some(at) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=at).collect();
            let line = String::from_utf8_lossy(&line);
            if let Some(report) = self.line(line.trim_end_matches(['\n', '\r'])) {
                reports.push(report);
            }
        }
        reports
    }

    fn line(&mut self, line: &str) -> Option<Report> {
        let Some(report) = line.strip_prefix(PREFIX) else {
            let open = self.open.as_mut()?;
            match open.section {
                Some(Section::Serial) => open.serial.push_str(line.trim()),
                Some(Section::Stderr) => open.stderr.push_str(line.trim()),
                None => {}
            }
            return None;
        };
        let (word, rest) = report.split_once(' ').unwrap_or((report, ""));
        match (word, &mut self.open) {
            ("serial", Some(open)) => open.section = Some(Section::Serial),
            ("stderr", Some(open)) => open.section = Some(Section::Stderr),
            ("end", Some(_)) => return Some(self.end(rest)),
            ("begin", None) => {
                self.open = Some(Open {
                    name: rest.to_string(),
                    section: None,
                    serial: String::new(),
                    stderr: String::new(),
                });
            }
            ("begin", Some(open)) => {
                let cut = format!("test {} cut short by the next test", open.name);
                self.open = None;
                self.line(line);
                return Some(Report::Garbled(cut));
            }
            ("l1", None) => return Some(Report::L1(rest.to_string())),
            ("start", None) => return Some(Report::Start(rest.to_string())),
            ("fatal", _) => {
                self.open = None;
                return Some(Report::Fatal(rest.to_string()));
            }
            ("done", None) => return Some(Report::Done),
            _ => return Some(Report::Garbled(line.to_string())),
        }
        None
    }

    fn end(&mut self, rest: &str) -> Report {
        let open = self.open.take().expect("end is read inside a test");
        let garbled = |why: &str| Report::Garbled(format!("test {}: {why}", open.name));
        let words: Vec<&str> = rest.split(' ').collect();
        let end = match words.as_slice() {
            [name, "exit", status] if *name == open.name => status.parse().ok().map(End::Exit),
            [name, "stalled", seconds] if *name == open.name => {
                seconds.parse().ok().map(End::Stalled)
            }
            _ => None,
        };
        let Some(end) = end else {
            return garbled(&format!("its end reads {rest:?}"));
        };
        match (STANDARD.decode(&open.serial), STANDARD.decode(&open.stderr)) {
            (Ok(serial), Ok(stderr)) => Report::Test(TestRun {
                name: open.name.clone(),
                serial,
                stderr,
                end,
            }),
            _ => garbled("its log is not base64"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        STANDARD.encode(bytes)
    }

    fn stream() -> String {
        // A log that itself contains the report prefix, mid-line and at a
        // line start: base64 hides both.
        let log = b"boot\n@@nested done\nverdict pass\n";
        let encoded = b64(log);
        let (first, second) = encoded.split_at(20);
        format!(
            "@@nested l1 Linux 6.1.0-50-cloud-amd64, kvm_amd nested=1\r\n\
             @@nested start boot-multiboot1\n\
             @@nested begin boot-multiboot1\n\
             @@nested serial\n{first}\n{second}\n\
             @@nested stderr\n{}\n\
             @@nested end boot-multiboot1 exit 33\n\
             @@nested begin vm-faults\n\
             @@nested serial\n\
             @@nested stderr\n\
             @@nested end vm-faults stalled 60\n\
             @@nested done\n",
            b64(b"qemu: warning\n")
        )
    }

    fn expected() -> Vec<Report> {
        vec![
            Report::L1("Linux 6.1.0-50-cloud-amd64, kvm_amd nested=1".into()),
            Report::Start("boot-multiboot1".into()),
            Report::Test(TestRun {
                name: "boot-multiboot1".into(),
                serial: b"boot\n@@nested done\nverdict pass\n".to_vec(),
                stderr: b"qemu: warning\n".to_vec(),
                end: End::Exit(33),
            }),
            Report::Test(TestRun {
                name: "vm-faults".into(),
                serial: vec![],
                stderr: vec![],
                end: End::Stalled(60),
            }),
            Report::Done,
        ]
    }

    #[test]
    fn reads_whole_streams() {
        assert_eq!(Reader::default().feed(stream().as_bytes()), expected());
    }

    #[test]
    fn reads_streams_byte_by_byte() {
        let mut reader = Reader::default();
        let reports: Vec<Report> = stream()
            .as_bytes()
            .iter()
            .flat_map(|byte| reader.feed(&[*byte]))
            .collect();
        assert_eq!(reports, expected());
    }

    #[test]
    fn an_unfinished_line_waits() {
        let mut reader = Reader::default();
        assert!(reader.feed(b"@@nested do").is_empty());
        assert_eq!(reader.feed(b"ne\n"), [Report::Done]);
    }

    #[test]
    fn a_test_cut_short_is_reported_and_the_next_one_read() {
        let text = "@@nested begin a\n@@nested serial\nQUJD\n\
                    @@nested begin b\n@@nested serial\n@@nested stderr\n@@nested end b exit 35\n";
        let reports = Reader::default().feed(text.as_bytes());
        assert_eq!(reports.len(), 2);
        assert_eq!(
            reports[0],
            Report::Garbled("test a cut short by the next test".into())
        );
        assert!(
            matches!(&reports[1], Report::Test(run) if run.name == "b" && run.end == End::Exit(35))
        );
    }

    #[test]
    fn bad_ends_and_bad_base64_are_garbled() {
        let text = "@@nested begin a\n@@nested end b exit 33\n\
                    @@nested begin c\n@@nested serial\n!!!!\n@@nested end c exit 33\n\
                    @@nested begin d\n@@nested end d exit x\n";
        let reports = Reader::default().feed(text.as_bytes());
        assert_eq!(
            reports,
            [
                Report::Garbled("test a: its end reads \"b exit 33\"".into()),
                Report::Garbled("test c: its log is not base64".into()),
                Report::Garbled("test d: its end reads \"d exit x\"".into()),
            ]
        );
    }

    #[test]
    fn fatal_ends_an_open_test_and_stray_reports_are_garbled() {
        let text = "@@nested begin a\n@@nested fatal kvm_amd did not load\n@@nested serial\n";
        assert_eq!(
            Reader::default().feed(text.as_bytes()),
            [
                Report::Fatal("kvm_amd did not load".into()),
                Report::Garbled("@@nested serial".into()),
            ]
        );
    }
}
