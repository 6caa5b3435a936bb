//! Booting L1 (Debian's Linux under TCG, with SVM for its KVM) once, and
//! reading its reports while it runs. L1 is watched for progress, not
//! timed: it is stopped only when neither its console nor its report port
//! has grown for [`STALL`] (its `/init` prints a dot on the console each
//! time a test's serial log grows, so a test that works is progress).

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::image::{Image, STALL_SECONDS};
use super::results::{Reader, Report};
use crate::qemu::accel::{Accel, TCG_CPU};
use crate::qemu::command::{Boot, Initrd, QEMU, QemuConfig, Serial};

/// L1's machine: two CPUs (the CI machine's cores) and room for a test's
/// machine besides the initramfs.
const L1_SMP: u32 = 2;
const L1_MEMORY_MIB: u32 = 2048;
/// The console on COM1; `panic=-1` ends the run at once if L1 panics.
/// `nested_skip=N` (for `init.sh`) follows.
const L1_CMDLINE: &str = "console=ttyS0 panic=-1";

/// How long L1 may go without a byte on its console or report port: longer
/// than a test inside may go without serial output.
pub const STALL: Duration = Duration::from_secs(2 * STALL_SECONDS);

const POLL: Duration = Duration::from_millis(250);

/// How L1's run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// QEMU exited (status, or the signal that ended it).
    Exited(String),
    /// Stopped: no progress for [`STALL`].
    Stalled,
}

/// Where an L1 boot's output goes.
#[derive(Debug, Clone)]
pub struct Logs {
    pub console: PathBuf,
    pub reports: PathBuf,
    pub stderr: PathBuf,
    /// QEMU's log of CPU resets (`-d cpu_reset`): why L1 reset, if it did.
    pub resets: PathBuf,
}

impl Logs {
    /// The logs of boot `boot` (0 for the first) in `dir`.
    pub fn for_boot(dir: &Path, boot: usize) -> Self {
        let suffix = if boot == 0 {
            String::new()
        } else {
            format!("-boot{}", boot + 1)
        };
        Self {
            console: dir.join(format!("l1-console{suffix}.log")),
            reports: dir.join(format!("l1-reports{suffix}.log")),
            stderr: dir.join(format!("l1-qemu{suffix}.stderr")),
            resets: dir.join(format!("l1-resets{suffix}.log")),
        }
    }
}

/// L1's QEMU command: TCG with an SVM model, the report port on COM2, no
/// NIC; its `/init` skips the first `skip` tests.
fn config(image: &Image, logs: &Logs, skip: usize) -> QemuConfig {
    let mut reports = String::from("file:");
    reports.push_str(&logs.reports.to_string_lossy());
    QemuConfig {
        accel: Accel::TcgOneThread {
            cpu: TCG_CPU.into(),
        },
        boot: Boot::Kernel {
            kernel: image.kernel.clone(),
            cmdline: format!("{L1_CMDLINE} nested_skip={skip}"),
            initrd: Some(Initrd {
                dir: image
                    .initramfs
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default(),
                arg: image
                    .initramfs
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            }),
        },
        smp: L1_SMP,
        memory_mib: L1_MEMORY_MIB,
        serial: Serial::File(logs.console.clone()),
        gdb: false,
        extra: vec![
            "-serial".into(),
            reports,
            "-nic".into(),
            "none".into(),
            "-d".into(),
            "cpu_reset".into(),
            "-D".into(),
            logs.resets.to_string_lossy().into_owned(),
        ],
    }
}

/// Boots L1, which skips the first `skip` tests, and hands each report to
/// `on_report` as it arrives.
pub fn run(
    image: &Image,
    logs: &Logs,
    skip: usize,
    mut on_report: impl FnMut(Report),
) -> Result<Ended, String> {
    for file in [&logs.console, &logs.reports] {
        File::create(file).map_err(|e| format!("{}: {e}", file.display()))?;
    }
    let stderr =
        File::create(&logs.stderr).map_err(|e| format!("{}: {e}", logs.stderr.display()))?;
    let config = config(image, logs, skip);
    let mut command = Command::new(QEMU);
    if let Some(dir) = config.working_dir() {
        command.current_dir(dir);
    }
    let mut child = command
        .args(config.args())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("cannot start {QEMU}: {e}"))?;
    let mut reader = Reader::default();
    let mut reports = Follow::new(&logs.reports);
    let mut last_progress = Instant::now();
    let mut seen = (0, 0);
    let ended = loop {
        let exited = child
            .try_wait()
            .map_err(|e| format!("waiting for {QEMU}: {e}"))?;
        for report in reader.feed(&reports.read_new()) {
            on_report(report);
        }
        if let Some(status) = exited {
            break Ended::Exited(match (status.code(), status.signal()) {
                (Some(code), _) => format!("status {code}"),
                (None, Some(signal)) => format!("signal {signal}"),
                _ => "an unknown status".into(),
            });
        }
        let now = (size_of(&logs.console), reports.offset);
        if now != seen {
            seen = now;
            last_progress = Instant::now();
        } else if last_progress.elapsed() >= STALL {
            let _ = child.kill();
            let _ = child.wait();
            break Ended::Stalled;
        }
        thread::sleep(POLL);
    };
    for report in reader.feed(&reports.read_new()) {
        on_report(report);
    }
    Ok(ended)
}

fn size_of(path: &Path) -> u64 {
    fs::metadata(path).map_or(0, |m| m.len())
}

/// Reads what is appended to a file.
#[derive(Debug)]
struct Follow {
    path: PathBuf,
    offset: u64,
}

impl Follow {
    fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            offset: 0,
        }
    }

    fn read_new(&mut self) -> Vec<u8> {
        let mut new = Vec::new();
        if let Ok(mut file) = File::open(&self.path)
            && file.seek(SeekFrom::Start(self.offset)).is_ok()
            && file.read_to_end(&mut new).is_ok()
        {
            self.offset += new.len() as u64;
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch;
    use std::io::Write;

    #[test]
    fn l1_runs_under_tcg_with_svm_and_reports_on_com2() {
        let image = Image {
            kernel: "/c/vmlinuz-6.1.0-50-cloud-amd64".into(),
            initramfs: "/t/nested/l1-initramfs.cpio".into(),
            initramfs_bytes: 0,
            release: "6.1.0-50-cloud-amd64",
            planned: vec![],
            unplanned: vec![],
            skipped: vec![],
        };
        let logs = Logs::for_boot(Path::new("/t/logs/nested"), 0);
        let args: Vec<String> = config(&image, &logs, 3)
            .args()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        let has = |pair: [&str; 2]| args.windows(2).any(|w| w == pair);
        assert!(has(["-cpu", "EPYC"]) && has(["-accel", "tcg,thread=single"]));
        assert!(has(["-serial", "file:/t/logs/nested/l1-console.log"]));
        assert!(has(["-serial", "file:/t/logs/nested/l1-reports.log"]));
        assert!(has(["-initrd", "l1-initramfs.cpio"]));
        assert!(has(["-append", "console=ttyS0 panic=-1 nested_skip=3"]));
        assert!(has(["-D", "/t/logs/nested/l1-resets.log"]));
        assert_eq!(
            Logs::for_boot(Path::new("/l"), 1).console,
            Path::new("/l/l1-console-boot2.log")
        );
        assert!(has(["-nic", "none"]));
        let console = args
            .iter()
            .position(|a| a.ends_with("l1-console.log"))
            .unwrap();
        let reports = args
            .iter()
            .position(|a| a.ends_with("l1-reports.log"))
            .unwrap();
        assert!(console < reports, "COM1 is the console, COM2 the reports");
    }

    #[test]
    fn follow_reads_only_what_was_appended() {
        let dir = scratch::dir("l1-follow");
        let path = dir.join("reports");
        let mut follow = Follow::new(&path);
        assert!(follow.read_new().is_empty());
        let mut file = File::create(&path).unwrap();
        file.write_all(b"@@nested l1 x\n@@nes").unwrap();
        assert_eq!(follow.read_new(), b"@@nested l1 x\n@@nes");
        file.write_all(b"ted done\n").unwrap();
        assert_eq!(follow.read_new(), b"ted done\n");
        assert!(follow.read_new().is_empty());
    }
}
