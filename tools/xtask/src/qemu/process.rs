//! Running QEMU to its end, within a limit that watches progress
//! ([`super::progress`]), echoing the serial log and typing into it when
//! asked.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::command::{QEMU, QemuConfig, Serial};
use super::parent_death::die_with_parent;
use super::progress::{self, Limit, Sample, Watch};
use super::script::{InputStep, Script};
use super::status::Outcome;
use crate::serial_log;

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
    /// Wall-clock time from start to end.
    pub elapsed: Duration,
    /// QEMU's CPU time (as of its last sample).
    pub cpu: Duration,
    /// The longest stretch without serial output, in QEMU CPU time.
    pub longest_quiet_cpu: Duration,
    /// The text the input script still waited for, if QEMU ended first.
    pub input_waiting_for: Option<&'static str>,
}

/// Where the serial output goes besides its log file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// To our stdout as it comes, and QEMU's stderr at the end.
    Terminal,
    /// Keep it in the log file only.
    Quiet,
}

/// How to run QEMU.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// `None`: no limit (interactive runs, gdb).
    pub limit: Option<Limit>,
    pub echo: Echo,
    /// What to type into COM1 (needs [`Serial::Console`]), and when.
    pub input: &'static [InputStep],
}

/// Runs QEMU to its end, or kills it when the boot is stuck. QEMU's stderr
/// goes to `<serial log>.stderr`; QEMU dies with this process.
pub fn run(config: &QemuConfig, options: Options) -> Result<Finished, String> {
    let log = config.serial.log().to_path_buf();
    if let Some(dir) = log.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    // Created empty before QEMU starts, so a stale log is never read.
    File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let stderr_path = stderr_log_path(&log);
    let stderr =
        File::create(&stderr_path).map_err(|e| format!("{}: {e}", stderr_path.display()))?;
    let console = matches!(config.serial, Serial::Console(_));
    if !options.input.is_empty() && !console {
        return Err("typed input needs the serial console (Serial::Console)".into());
    }
    let (stdin, stdout) = match (console, options.input.is_empty(), options.echo) {
        (false, _, _) => (Stdio::null(), Stdio::null()),
        (true, false, _) => (Stdio::piped(), Stdio::null()),
        (true, true, Echo::Terminal) => (Stdio::inherit(), Stdio::inherit()),
        (true, true, Echo::Quiet) => (Stdio::null(), Stdio::null()),
    };
    let mut command = Command::new(QEMU);
    command
        .args(config.args())
        .stdin(stdin)
        .stdout(stdout)
        .stderr(stderr);
    if let Some(dir) = config.working_dir() {
        command.current_dir(dir);
    }
    die_with_parent(&mut command);
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {QEMU}: {e}"))?;

    // In console mode QEMU writes to the terminal itself.
    let mut tee = (options.echo == Echo::Terminal && !console).then(|| Tee::new(&log));
    let mut typist = child.stdin.take().map(|stdin| Typist {
        stdin,
        script: Script::new(options.input),
    });
    let mut watch = options.limit.map(Watch::new);
    let started = Instant::now();
    let mut cpu = Duration::ZERO;
    let outcome = loop {
        if let Some(tee) = &mut tee {
            tee.copy_new();
        }
        if let Some(typist) = &mut typist {
            typist.type_due(&log);
        }
        match child.try_wait() {
            Ok(Some(status)) => break Outcome::from_status(status.code(), status.signal()),
            Ok(None) => {}
            Err(e) => return Err(format!("waiting for {QEMU}: {e}")),
        }
        cpu = progress::cpu_time(child.id()).unwrap_or(cpu);
        let sample = Sample {
            wall: started.elapsed(),
            log_bytes: fs::metadata(&log).map_or(0, |m| m.len()),
            cpu,
        };
        if let Some(stuck) = watch.as_mut().and_then(|watch| watch.observe(sample)) {
            // Killing an already exited child is harmless; reap it either way.
            let _ = child.kill();
            let _ = child.wait();
            break Outcome::Stuck(stuck);
        }
        thread::sleep(POLL_INTERVAL);
    };
    let elapsed = started.elapsed();
    if let Some(tee) = &mut tee {
        tee.copy_new();
    }
    let stderr = without_feature_warnings(&String::from_utf8_lossy(
        &fs::read(&stderr_path).unwrap_or_default(),
    ));
    if options.echo == Echo::Terminal && !stderr.is_empty() {
        eprint!("{stderr}");
    }
    Ok(Finished {
        outcome,
        stderr,
        elapsed,
        cpu,
        longest_quiet_cpu: watch.map_or(Duration::ZERO, |w| w.longest_quiet_cpu()),
        input_waiting_for: typist.and_then(|t| t.script.waiting_for()),
    })
}

/// Types an input script into QEMU's serial input as the log shows its
/// prompts.
struct Typist {
    stdin: ChildStdin,
    script: Script,
}

impl Typist {
    fn type_due(&mut self, log: &Path) {
        if self.script.done() {
            return;
        }
        let due = self.script.due(&serial_log::read_clean(log));
        if !due.is_empty() {
            // QEMU may have ended: its exit status tells, not this write.
            let _ = self.stdin.write_all(&due);
            let _ = self.stdin.flush();
        }
    }
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
