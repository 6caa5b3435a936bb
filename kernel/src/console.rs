//! The kernel's console: COM1, behind the `log` facade.
//!
//! Every line names its source and CPU (`[kernel cpu2 INFO] ...`) so lines
//! from different CPUs, and later from components and partitions, can be told
//! apart in one serial log.
//!
//! Lines do not go to the UART where they are logged: most are logged with
//! the kernel lock held, and a UART is slow (on a real 115200-baud port a
//! line takes milliseconds, which every CPU waiting for the lock would
//! wait too: issue 9 finding 6). They go into a bounded buffer, which
//! `drain` writes out once the lock is released — on the way back to ring
//! 3 or into a guest, and when a CPU idles. A line that finds the buffer
//! full is dropped and counted, and the count is reported with the next
//! line that fits. Lines logged while nobody holds the lock (bring-up) are
//! written at once, and so are emergency lines.
use crate::percpu;
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use log::{LevelFilter, Log, Metadata, Record};
use spin::Mutex;
use tessera_boot_info::LogLevel;
use uart_16550::Uart16550;
use uart_16550::backend::PioBackend;

const COM1: u16 = 0x3F8;

static SERIAL: Mutex<Option<Uart16550<PioBackend>>> = Mutex::new(None);
static LOGGER: KernelLogger = KernelLogger;

/// Bytes of lines not yet written to the UART.
const BUFFER_BYTES: usize = 64 * 1024;
/// The longest line kept whole; a longer one is cut there.
const LINE_MAX: usize = 512;

static PENDING: Mutex<heapless::Deque<u8, BUFFER_BYTES>> = Mutex::new(heapless::Deque::new());
/// Whether `PENDING` may hold bytes (checked without its lock, on every
/// return to ring 3).
static HAS_PENDING: AtomicBool = AtomicBool::new(false);
/// Lines dropped because the buffer was full, not yet reported.
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// One line being put together (cut at `LINE_MAX` bytes).
struct Line {
    bytes: [u8; LINE_MAX],
    len: usize,
}

impl Line {
    const fn new() -> Self {
        Self {
            bytes: [0; LINE_MAX],
            len: 0,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl Write for Line {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let room = LINE_MAX - 1 - self.len;
        let take = text.len().min(room);
        self.bytes[self.len..self.len + take].copy_from_slice(&text.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

/// Queues a finished line (a newline is added) and writes it out at once
/// if nobody holds the kernel lock.
fn emit(line: &mut Line) {
    line.bytes[line.len] = b'\n';
    line.len += 1;
    {
        let mut pending = PENDING.lock();
        let dropped = DROPPED.load(Ordering::Relaxed);
        let mut note = Line::new();
        if dropped > 0 {
            let _ = writeln!(
                note,
                "[kernel] {dropped} console lines dropped: the console is slower than the log"
            );
        }
        if pending.capacity() - pending.len() < note.len + line.len {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        } else {
            for &byte in note.as_bytes().iter().chain(line.as_bytes()) {
                let _ = pending.push_back(byte);
            }
            DROPPED.fetch_sub(dropped, Ordering::Relaxed);
            HAS_PENDING.store(true, Ordering::Release);
        }
    }
    if !crate::state::KERNEL.is_locked() {
        drain();
    }
}

/// Writes out the lines logged so far. Called where this CPU holds no
/// kernel lock (a CPU that finds another draining leaves it to that one).
#[inline(always)]
pub fn drain() {
    // On every way back to ring 3 or a guest: usually nothing is pending.
    if HAS_PENDING.load(Ordering::Acquire) {
        drain_pending();
    }
}

/// Writes out everything logged, waiting for a CPU that is writing lines
/// out to finish: for the end of the run (a bounded wait, in case that CPU
/// stopped for good while it held the UART).
pub fn flush() {
    for _ in 0..10_000_000 {
        drain();
        if !HAS_PENDING.load(Ordering::Acquire) && !SERIAL.is_locked() {
            return;
        }
        core::hint::spin_loop();
    }
}

#[inline(never)]
fn drain_pending() {
    while HAS_PENDING.load(Ordering::Acquire) {
        let Some(mut serial) = SERIAL.try_lock() else {
            return;
        };
        loop {
            let mut chunk = [0u8; 256];
            let mut len = 0;
            {
                let mut pending = PENDING.lock();
                while len < chunk.len() {
                    let Some(byte) = pending.pop_front() else {
                        break;
                    };
                    chunk[len] = byte;
                    len += 1;
                }
                if len == 0 {
                    HAS_PENDING.store(false, Ordering::Release);
                    break;
                }
            }
            if let Some(serial) = serial.as_mut() {
                SerialWriter(serial).write_bytes(&chunk[..len]);
            }
        }
        drop(serial);
    }
}

fn open_com1() -> Uart16550<PioBackend> {
    // SAFETY: COM1's eight registers at 0x3F8 are a standard PC device; the
    // kernel is the only user of them.
    let port = unsafe { Uart16550::new_port(COM1) };
    port.expect("0x3F8..0x3FF is a valid port range")
}

/// Sets up COM1 (115200 8N1) and installs the logger at `info` level.
pub fn init() {
    let mut serial = open_com1();
    // A missing or broken UART must not stop the boot: logging then goes
    // nowhere, and the verdict still reaches the exit port.
    let _ = serial.init(uart_16550::Config::default());
    *SERIAL.lock() = Some(serial);
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(LevelFilter::Info);
    }
}

pub fn set_level(level: LogLevel) {
    log::set_max_level(match level {
        LogLevel::Error => LevelFilter::Error,
        LogLevel::Warn => LevelFilter::Warn,
        LogLevel::Info => LevelFilter::Info,
        LogLevel::Debug => LevelFilter::Debug,
        LogLevel::Trace => LevelFilter::Trace,
    });
}

struct SerialWriter<'a>(&'a mut Uart16550<PioBackend>);

impl SerialWriter<'_> {
    /// Sends `bytes`, each newline as CR LF.
    fn write_bytes(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            if byte == b'\n' {
                self.0.send_bytes_exact(b"\r");
            }
            self.0.send_bytes_exact(&[byte]);
        }
    }
}

impl Write for SerialWriter<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.write_bytes(text.as_bytes());
        Ok(())
    }
}

struct KernelLogger;

impl Log for KernelLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let cpu = percpu::current_index();
        let mut line = Line::new();
        let _ = write!(
            line,
            "[kernel cpu{cpu} {}] {}",
            record.level(),
            record.args()
        );
        emit(&mut line);
    }

    fn flush(&self) {}
}

/// Writes a line even if another CPU holds the console lock (it may have
/// faulted while holding it): for panics and fatal exceptions only. What
/// was logged before goes out first, if it can.
pub fn emergency_line(args: fmt::Arguments<'_>) {
    if PENDING.try_lock().is_some() {
        drain();
    }
    let cpu = percpu::current_index();
    let line = |serial: &mut Uart16550<PioBackend>| {
        let _ = writeln!(SerialWriter(serial), "[kernel cpu{cpu} ERROR] {args}");
    };
    for _ in 0..1_000_000 {
        if let Some(mut guard) = SERIAL.try_lock() {
            if let Some(serial) = guard.as_mut() {
                line(serial);
                return;
            }
            break;
        }
        core::hint::spin_loop();
    }
    // The lock is stuck (or the console never came up): a second handle on the
    // same port may interleave bytes with the holder, which beats silence.
    line(&mut open_com1());
}

/// A component's console line longer than this is printed in pieces.
pub const COMPONENT_LINE_MAX: usize = tessera_abi::CONSOLE_LINE_MAX;

/// Prints one line a component wrote, tagged with its name and CPU. Bytes
/// that are not printable ASCII are shown as `\xNN`, so a component cannot
/// forge other lines or send terminal controls.
pub fn component_line(name: &str, cpu: usize, text: &[u8]) {
    let mut line = Line::new();
    let _ = write!(line, "[{name} cpu{cpu}] ");
    for &byte in text {
        let _ = if (0x20..0x7F).contains(&byte) {
            line.write_char(char::from(byte))
        } else {
            write!(line, "\\x{byte:02x}")
        };
    }
    emit(&mut line);
}
