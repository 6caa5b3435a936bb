//! Numbered checks, logged TAP-style as they go; the verdict at the end.

use core::fmt::Debug;

use tessera_rt::vm::RegisterError;
use tessera_rt::{Error, Status, verdict};

/// Numbered checks, logged as they go.
#[derive(Debug, Default)]
pub struct Tap {
    checks: u32,
    failed: u32,
}

impl Tap {
    /// Checks that `result` is a success.
    pub fn expect_ok<T: Debug>(&mut self, what: &str, result: Result<T, Error>) {
        let got = result.err();
        self.report(
            what,
            got.is_none(),
            got.map(|e| alloc::format!("{e:?} ({e})")),
        );
    }

    /// Checks that `result` failed with `wanted`.
    pub fn expect<T: Debug>(&mut self, what: &str, result: Result<T, Error>, wanted: Status) {
        match result {
            Err(e) => self.report(what, e == wanted, Some(alloc::format!("{e:?} ({e})"))),
            Ok(_) => self.report(what, false, Some("success".into())),
        }
    }

    /// Checks a register call's outcome against `wanted`.
    pub fn expect_register_value<T: Debug + PartialEq>(
        &mut self,
        what: &str,
        result: Result<T, RegisterError>,
        wanted: Result<T, RegisterError>,
    ) {
        let ok = result == wanted;
        let got = match &result {
            Ok(value) => alloc::format!("{value:x?}"),
            Err(e) => alloc::format!("{:?} ({e})", e.error),
        };
        self.report(what, ok, (!ok).then_some(got));
    }

    pub fn report(&mut self, what: &str, ok: bool, got: Option<alloc::string::String>) {
        self.checks += 1;
        let n = self.checks;
        if ok {
            log::info!("ok {n} - {what}");
        } else {
            self.failed += 1;
            match got {
                Some(got) => log::info!("not ok {n} - {what}: got {got}"),
                None => log::info!("not ok {n} - {what}: got success"),
            }
        }
    }

    pub fn finish(self) -> ! {
        if self.failed == 0 {
            log::info!("vm-probe: all {} checks ok", self.checks);
        } else {
            log::info!("vm-probe: {} of {} checks failed", self.failed, self.checks);
        }
        verdict(self.failed == 0)
    }
}
