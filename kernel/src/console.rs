//! The kernel's console: COM1, behind the `log` facade.
//!
//! Every line names its source and CPU (`[kernel cpu2 INFO] ...`) so lines
//! from different CPUs, and later from components and partitions, can be told
//! apart in one serial log.
use crate::percpu;
use core::fmt::{self, Write};
use log::{LevelFilter, Log, Metadata, Record};
use spin::Mutex;
use tessera_boot_info::LogLevel;
use uart_16550::Uart16550;
use uart_16550::backend::PioBackend;

const COM1: u16 = 0x3F8;

static SERIAL: Mutex<Option<Uart16550<PioBackend>>> = Mutex::new(None);
static LOGGER: KernelLogger = KernelLogger;

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

impl Write for SerialWriter<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        for byte in text.bytes() {
            if byte == b'\n' {
                self.0.send_bytes_exact(b"\r");
            }
            self.0.send_bytes_exact(&[byte]);
        }
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
        let mut serial = SERIAL.lock();
        if let Some(serial) = serial.as_mut() {
            let _ = writeln!(
                SerialWriter(serial),
                "[kernel cpu{cpu} {}] {}",
                record.level(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

/// Writes a line even if another CPU holds the console lock (it may have
/// faulted while holding it): for panics and fatal exceptions only.
pub fn emergency_line(args: fmt::Arguments<'_>) {
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
pub fn component_line(name: &str, cpu: usize, line: &[u8]) {
    let mut serial = SERIAL.lock();
    let Some(serial) = serial.as_mut() else {
        return;
    };
    let mut out = SerialWriter(serial);
    let _ = write!(out, "[{name} cpu{cpu}] ");
    for &byte in line {
        let _ = if (0x20..0x7F).contains(&byte) {
            out.write_char(char::from(byte))
        } else {
            write!(out, "\\x{byte:02x}")
        };
    }
    let _ = out.write_str("\n");
}
