//! The guest fuzzer's protocol with its host (`fuzz-host`), and the
//! canary's pattern.
//!
//! The fuzz guest talks to its host through I/O ports (a route to the
//! host): it writes a 64-bit argument in two halves, then a command; a
//! read of the result port returns the command's result's low half, of
//! the high port its high half.
//!
//! Some of the guest's operations stop its VP on purpose (a hypercall
//! whose parameters lie outside its memory, string I/O, an MMIO access
//! the kernel cannot decode, a crash report, a reset request). The host
//! resumes the VP at the guest's armed recovery point (the framework's,
//! whose addresses the guest registers first), with one of the pseudo
//! vectors below where an exception's vector would be.

/// Ports of the fuzz guest's control device.
pub mod ports {
    /// Write: a command (below).
    pub const COMMAND: u16 = 0x5F0;
    /// Write: bits 31:0 of the argument; read: bits 31:0 of the result.
    pub const LOW: u16 = 0x5F4;
    /// Write: bits 63:32 of the argument; read: bits 63:32 of the result.
    pub const HIGH: u16 = 0x5F8;
    /// The device's range, for the route.
    pub const FIRST: u16 = 0x5F0;
    pub const LAST: u16 = 0x5FF;
}

/// Commands of the fuzz guest's control device.
pub mod command {
    /// The GPAs of the framework's recovery point: argument the GPA of
    /// `RECOVERY_RIP`; `RECOVERY_RSP`, the caught vector and error follow
    /// with their own commands.
    pub const RECOVERY_RIP_AT: u32 = 1;
    pub const RECOVERY_RSP_AT: u32 = 2;
    pub const CAUGHT_VECTOR_AT: u32 = 3;
    pub const CAUGHT_ERROR_AT: u32 = 4;
    /// The operation now running (argument), for the host's report.
    pub const PROGRESS: u32 = 5;
    /// Replace the hot-plug region (deleted, a new one made, filled and
    /// mapped at the same GPA), then audit the kernel: result the new
    /// generation, and the audit's problem bits << 32.
    pub const HOTPLUG: u32 = 6;
    /// Audit the kernel now: result its problem bits.
    pub const AUDIT: u32 = 7;
    /// The run is over; argument the guest's finding count.
    pub const DONE: u32 = 8;
    /// Result 1 once the canary has filled its memory (the guest waits
    /// for it, so the canary watches the whole run).
    pub const CANARY_READY: u32 = 9;
}

/// Pseudo vectors the host resumes the guest with (not exceptions: the
/// guest's IDT has 32 gates).
pub mod stopped {
    /// The VP was stopped (a lifecycle exit, or the host's own stop of an
    /// access it could not serve); the error word is the exit's message
    /// type.
    pub const BY_EXIT: u8 = 255;
    /// The guest asked for a reset: the host reset its Hv#1 state (as a
    /// partition reset does) before resuming it.
    pub const RESET: u8 = 254;
    /// The guest reported a crash through the crash MSRs.
    pub const CRASH: u8 = 253;
}

/// Where the host maps the hot-plug region, and its size.
pub const HOTPLUG_GPA: u64 = 0x2000_0000;
pub const HOTPLUG_PAGES: u64 = 16;

/// The canary's control device: the canary writes the start and the end
/// of the range it filled as 32-bit halves ([`CANARY_START_LOW`] ..
/// [`CANARY_END_HIGH`]), which tells the host what to check; a read of
/// [`CANARY_POLL`] returns 1 when the canary is to check one last time and
/// end.
pub const CANARY_FIRST: u16 = 0x5E0;
pub const CANARY_LAST: u16 = 0x5EF;
pub const CANARY_START_LOW: u16 = 0x5E0;
pub const CANARY_START_HIGH: u16 = 0x5E4;
pub const CANARY_END_LOW: u16 = 0x5E8;
pub const CANARY_END_HIGH: u16 = 0x5EC;
/// Read: 0 go on, 1 check one last time and end.
pub const CANARY_POLL: u16 = 0x5E0;

/// The canary's word at `gpa`: no other partition's memory and no fresh
/// page holds it.
#[must_use]
pub const fn canary_word(gpa: u64) -> u64 {
    0xCA4A_7B1D_0000_0000 ^ gpa.rotate_left(17) ^ gpa
}

/// The pattern a pool page holds in RAM, word `index` of the page at
/// `gpa`: the fuzz guest's way to tell its RAM from an overlay page.
#[must_use]
pub const fn pool_word(gpa: u64, index: u64) -> u64 {
    0x9001_7A6E_0000_0000 ^ gpa ^ index.rotate_left(40)
}

/// The host's words in the hot-plug region of generation `generation`.
#[must_use]
pub const fn hotplug_word(generation: u64, index: u64) -> u64 {
    0x4077_9106_0000_0000 ^ generation.rotate_left(24) ^ index
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_differ_from_each_other_and_from_zero() {
        for gpa in [0x1000, 0x20_0000, 0xFF_F000] {
            assert_ne!(canary_word(gpa), 0);
            assert_ne!(canary_word(gpa), canary_word(gpa + 8));
            assert_ne!(pool_word(gpa, 0), pool_word(gpa, 1));
            assert_ne!(pool_word(gpa, 0), canary_word(gpa));
        }
        assert_ne!(hotplug_word(1, 0), hotplug_word(2, 0));
    }
}
