//! QEMU dies with xtask: the kernel sends it SIGTERM when xtask ends, however
//! xtask ends (killed, crashed, Ctrl-C), so a stray QEMU never keeps its gdb
//! port, its CPU or its terminal. SIGTERM, not SIGKILL: QEMU then restores
//! the terminal it put in raw mode.
//!
//! Linux's `PR_SET_PDEATHSIG` is set in the child between `fork` and `exec`,
//! which needs `pre_exec`: the one piece of unsafe code in xtask. The
//! signal follows the *thread* that spawned the child, so QEMU is spawned
//! from xtask's main thread, which lives as long as xtask.
#![allow(unsafe_code)]

use std::os::unix::process::CommandExt;
use std::process::Command;

/// Makes the program `command` starts receive SIGTERM when this process
/// ends. If this process is gone before the child is set up, the child
/// exits at once instead.
pub fn die_with_parent(command: &mut Command) {
    let parent = std::process::id();
    let hook = move || {
        // `prctl(PR_SET_PDEATHSIG)` and `getppid` are
        // async-signal-safe system calls that touch no memory of ours, as
        // `pre_exec` requires between fork and exec.
        // SAFETY: by the argument just above.
        let (set, ppid) = unsafe {
            (
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM),
                libc::getppid(),
            )
        };
        if set != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // The parent died before the signal was armed: nobody would send it.
        if u32::try_from(ppid).ok() != Some(parent) {
            return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
        }
        Ok(())
    };
    // The hook only makes the two system calls above and builds
    // errors from OS codes (no allocation, no locks), which is what runs
    // safely in the child of a multi-threaded process.
    // SAFETY: by the argument just above.
    unsafe {
        command.pre_exec(hook);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    /// A shell that starts a `sleep` marked to die with the shell, prints
    /// its pid and exits: the `sleep` must not outlive it.
    #[test]
    fn the_child_dies_with_its_parent() {
        // The test itself is the sleeper's grandparent: the middle process
        // is a helper xtask-like parent that exits at once.
        let mut middle = Command::new(std::env::current_exe().unwrap());
        middle
            .args([
                "--exact",
                "--nocapture",
                "qemu::parent_death::tests::spawn_sleeper_and_exit",
            ])
            .env("XTASK_PARENT_DEATH_HELPER", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let output = middle.output().unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        let Some(pid) = text
            .lines()
            .find_map(|line| line.strip_prefix("sleeper pid "))
        else {
            panic!("the helper printed no pid: {text}");
        };
        let proc = format!("/proc/{}", pid.trim());
        let started = Instant::now();
        while std::path::Path::new(&proc).exists()
            && !std::fs::read_to_string(format!("{proc}/stat"))
                .unwrap_or_default()
                .contains(") Z")
        {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the child outlived its parent"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Run only as the helper of the test above.
    #[test]
    fn spawn_sleeper_and_exit() {
        if std::env::var_os("XTASK_PARENT_DEATH_HELPER").is_none() {
            return;
        }
        let mut sleeper = Command::new("sleep");
        sleeper.arg("60").stdin(Stdio::null()).stdout(Stdio::null());
        die_with_parent(&mut sleeper);
        let child = sleeper.spawn().unwrap();
        println!("sleeper pid {}", child.id());
        // Exit without waiting: the sleeper is left behind, as QEMU would
        // be by a killed xtask.
        std::process::exit(0);
    }
}
