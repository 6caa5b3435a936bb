//! Running QEMU to its end, within a time limit, optionally echoing the serial log.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::command::{QEMU, QemuConfig};
use super::status::Outcome;

/// How long a boot may take to reach its verdict.
pub const TIME_LIMIT: Duration = Duration::from_secs(60);

const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// The warning QEMU prints for each CPUID bit of a named CPU model that TCG lacks
/// (nine for `-cpu EPYC`, once per CPU): expected, so not shown.
const TCG_FEATURE_WARNING: &str = "TCG doesn't support requested feature";

/// A finished QEMU run.
#[derive(Debug)]
pub struct Finished {
    pub outcome: Outcome,
    /// QEMU's standard error, without the expected TCG feature warnings.
    pub stderr: String,
}

/// Where the serial output goes besides its log file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// Copy the serial log to our stdout as it grows, and QEMU's stderr at the end.
    Terminal,
    /// Keep it in the log file only.
    Quiet,
}

/// Runs QEMU; kills it when `limit` (if any) runs out. QEMU's stderr goes to
/// `<serial log>.stderr`.
pub fn run(config: &QemuConfig, limit: Option<Duration>, echo: Echo) -> Result<Finished, String> {
    if let Some(dir) = config.serial_log.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    // Created empty before QEMU starts, so a stale log is never read.
    File::create(&config.serial_log)
        .map_err(|e| format!("{}: {e}", config.serial_log.display()))?;
    let stderr_path = stderr_log_path(&config.serial_log);
    let stderr =
        File::create(&stderr_path).map_err(|e| format!("{}: {e}", stderr_path.display()))?;
    let mut child = Command::new(QEMU)
        .args(config.args())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("cannot start {QEMU}: {e}"))?;

    let mut tee = (echo == Echo::Terminal).then(|| Tee::new(&config.serial_log));
    let started = Instant::now();
    let outcome = loop {
        if let Some(tee) = &mut tee {
            tee.copy_new();
        }
        match child.try_wait() {
            Ok(Some(status)) => break Outcome::from_status(status.code(), status.signal()),
            Ok(None) => {}
            Err(e) => return Err(format!("waiting for {QEMU}: {e}")),
        }
        if let Some(limit) = limit
            && started.elapsed() >= limit
        {
            // Killing an already exited child is harmless; reap it either way.
            let _ = child.kill();
            let _ = child.wait();
            break Outcome::TimedOut(limit);
        }
        thread::sleep(POLL_INTERVAL);
    };
    if let Some(tee) = &mut tee {
        tee.copy_new();
    }
    let stderr = without_feature_warnings(&String::from_utf8_lossy(
        &fs::read(&stderr_path).unwrap_or_default(),
    ));
    if echo == Echo::Terminal && !stderr.is_empty() {
        eprint!("{stderr}");
    }
    Ok(Finished { outcome, stderr })
}

/// Where QEMU's stderr goes.
pub fn stderr_log_path(serial_log: &Path) -> PathBuf {
    let mut name = serial_log.as_os_str().to_owned();
    name.push(".stderr");
    PathBuf::from(name)
}

/// QEMU's stderr without the TCG feature warnings.
fn without_feature_warnings(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|line| !line.contains(TCG_FEATURE_WARNING))
        .map(|line| format!("{line}\n"))
        .collect()
}

/// Copies what is appended to a file to stdout.
struct Tee {
    path: PathBuf,
    offset: u64,
}

impl Tee {
    fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            offset: 0,
        }
    }

    fn copy_new(&mut self) {
        let Ok(mut file) = File::open(&self.path) else {
            return;
        };
        let mut new = Vec::new();
        if file.seek(SeekFrom::Start(self.offset)).is_err() || file.read_to_end(&mut new).is_err() {
            return;
        }
        if new.is_empty() {
            return;
        }
        self.offset += new.len() as u64;
        let mut stdout = io::stdout().lock();
        // A closed stdout must not stop the run.
        let _ = stdout.write_all(&new);
        let _ = stdout.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_tcg_feature_warnings_only() {
        let stderr = "\
qemu-system-x86_64: warning: TCG doesn't support requested feature: CPUID.07H:EBX.rdseed [bit 18]
qemu-system-x86_64: -kernel k: Error loading uncompressed kernel without PVH ELF Note
qemu-system-x86_64: warning: TCG doesn't support requested feature: CPUID.0DH:EAX.xsavec [bit 1]
";
        assert_eq!(
            without_feature_warnings(stderr),
            "qemu-system-x86_64: -kernel k: Error loading uncompressed kernel without PVH ELF Note\n"
        );
        assert_eq!(without_feature_warnings(""), "");
    }

    #[test]
    fn stderr_log_sits_next_to_the_serial_log() {
        assert_eq!(
            stderr_log_path(Path::new("/t/logs/x.serial.log")),
            Path::new("/t/logs/x.serial.log.stderr")
        );
    }
}
