//! The control device of the fuzz guest's host (`tessera_fuzz::guest`).
use tessera_fuzz::guest::{command, ports};
use tessera_guest_framework::exception::recovery_addresses;
use tessera_guest_framework::port;

/// Runs `command` with `argument`; returns the 64-bit result.
pub fn command(command: u32, argument: u64) -> u64 {
    port::outl(ports::LOW, argument as u32);
    port::outl(ports::HIGH, (argument >> 32) as u32);
    port::outl(ports::COMMAND, command);
    u64::from(port::inl(ports::LOW)) | u64::from(port::inl(ports::HIGH)) << 32
}

/// Tells the host where the recovery point lives, so it can resume the
/// guest after stopping it.
pub fn register_recovery() {
    let at = recovery_addresses();
    command(command::RECOVERY_RIP_AT, at.rip);
    command(command::RECOVERY_RSP_AT, at.rsp);
    command(command::CAUGHT_VECTOR_AT, at.vector);
    command(command::CAUGHT_ERROR_AT, at.error);
}

/// Waits (polling the host) until the canary has filled its memory;
/// `false` if it never does.
pub fn wait_for_canary() -> bool {
    (0..1_000_000).any(|_| command(command::CANARY_READY, 0) == 1)
}
