//! Kernel-memory quotas.
//!
//! The manifest gives each component a number of bytes of kernel memory.
//! Everything the kernel allocates on the component's behalf — its
//! capability slots, and each object it creates — MUST be charged against
//! that quota before the memory is taken, and refunded when it is freed, so
//! no component can exhaust the kernel.

use crate::error::CapError;

/// A byte budget and how much of it is in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Quota {
    limit: u64,
    used: u64,
}

impl Quota {
    /// A quota of `limit` bytes, none used.
    #[must_use]
    pub const fn new(limit: u64) -> Self {
        Self { limit, used: 0 }
    }

    /// The budget.
    #[must_use]
    pub const fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes charged and not yet refunded.
    #[must_use]
    pub const fn used(&self) -> u64 {
        self.used
    }

    /// Bytes still available.
    #[must_use]
    pub const fn available(&self) -> u64 {
        self.limit - self.used
    }

    /// Charges `bytes`.
    ///
    /// # Errors
    ///
    /// [`CapError::QuotaExhausted`] if fewer than `bytes` are available;
    /// nothing is charged then.
    pub const fn charge(&mut self, bytes: u64) -> Result<(), CapError> {
        if bytes > self.available() {
            return Err(CapError::QuotaExhausted);
        }
        self.used += bytes;
        Ok(())
    }

    /// Refunds `bytes` charged earlier.
    ///
    /// # Panics
    ///
    /// If more is refunded than is in use: a kernel accounting bug.
    pub const fn refund(&mut self, bytes: u64) {
        assert!(bytes <= self.used, "quota refund exceeds charges");
        self.used -= bytes;
    }
}
