//! The [`log`] backend: each record becomes one console line `LEVEL
//! message`, which the kernel prints as `[NAME cpuN] LEVEL message`.
//!
//! The entry point installs it at level `Info` before `main` runs; change
//! the level with [`log::set_max_level`]. It writes to the component's own
//! console (slot 2). A component without one (`console = false`) logs
//! nothing: the first write fails with `EmptySlot`, and the logger falls
//! silent rather than try again on every record.

use core::sync::atomic::{AtomicU32, Ordering};

use tessera_abi::{NO_SELECTOR, slot};

use crate::console::Console;

/// The console slot records go to; [`NO_SELECTOR`] once silenced.
static CONSOLE_SLOT: AtomicU32 = AtomicU32::new(slot::CONSOLE);

struct ConsoleLogger;

static LOGGER: ConsoleLogger = ConsoleLogger;

impl log::Log for ConsoleLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level() && console().is_some()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        if let Some(console) = console()
            && console.log(record.level(), *record.args()).is_err()
        {
            // No console (or not a console): drop this and later records.
            let _ = CONSOLE_SLOT.compare_exchange(
                console.0,
                NO_SELECTOR,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    fn flush(&self) {}
}

/// Installs the logger at level `Info` (the entry point does this).
pub fn init() {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}

/// The console records go to, if logging is not silenced.
pub fn console() -> Option<Console> {
    let slot = CONSOLE_SLOT.load(Ordering::Relaxed);
    (slot != NO_SELECTOR).then_some(Console(slot))
}

/// Sends log records to `console` from now on (`None`: drop them).
pub fn set_console(console: Option<Console>) {
    CONSOLE_SLOT.store(console.map_or(NO_SELECTOR, |c| c.0), Ordering::Relaxed);
}
