//! A host machine check (#MC), wherever it lands — the kernel, a component
//! in ring 3, or a guest (the kernel intercepts #MC there, so a guest never
//! sees the host's) — is decided here from what the machine-check
//! architecture reports (AMD APM vol. 2 §9.3 "Machine-Check Architecture
//! Registers" and §9.4 "Initializing the Machine-Check Mechanism"):
//!
//! - `MCG_STATUS` (MSR 17Ah): RIPV (bit 0) says the interrupted program can
//!   be restarted at the saved RIP; EIPV (bit 1) that the saved RIP is
//!   where the error happened; MCIP (bit 2) that a machine check is in
//!   progress — a second one while it is set shuts the processor down, so
//!   it is cleared before anything resumes.
//! - Each bank's `MCi_STATUS` (MSR 401h + 4i): VAL (bit 63), UC (61),
//!   PCC (57, the processor context is corrupt: nothing that ran may be
//!   trusted, the kernel included).
//!
//! The rule (as Linux's `do_machine_check` severities, simplified): a
//! corrupt processor context ends the run; otherwise, if the interrupted
//! program can restart (RIPV), it goes on; if it cannot, the program that
//! was running stops — a component or a VP — and the kernel goes on, unless
//! it was the kernel itself.
#![no_std]
#![forbid(unsafe_code)]

/// MSR numbers.
pub const MCG_CAP: u32 = 0x179;
pub const MCG_STATUS: u32 = 0x17A;
/// `MCi_STATUS` of bank `i`.
pub const fn bank_status(bank: u32) -> u32 {
    0x401 + 4 * bank
}

const RIPV: u64 = 1 << 0;
const VAL: u64 = 1 << 63;
const PCC: u64 = 1 << 57;

/// Banks to read: `MCG_CAP` bits 7:0, at most 32 here.
pub fn bank_count(mcg_cap: u64) -> u32 {
    (mcg_cap & 0xFF).min(32) as u32
}

/// Where the machine check interrupted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interrupted {
    Kernel,
    Component,
    Guest,
}

/// What the kernel does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Clear MCG_STATUS and resume what was interrupted; log it later.
    Resume,
    /// Clear MCG_STATUS and stop the component or the VP that ran.
    StopInterrupted,
    /// End the run: the kernel cannot go on.
    Fatal,
}

/// The action for a machine check with `mcg_status` and the banks'
/// `MCi_STATUS` values, that interrupted `interrupted`.
pub fn decide(
    mcg_status: u64,
    banks: impl IntoIterator<Item = u64>,
    interrupted: Interrupted,
) -> Action {
    let corrupt = banks
        .into_iter()
        .any(|status| status & VAL != 0 && status & PCC != 0);
    if corrupt {
        return Action::Fatal;
    }
    if mcg_status & RIPV != 0 {
        return Action::Resume;
    }
    match interrupted {
        Interrupted::Kernel => Action::Fatal,
        Interrupted::Component | Interrupted::Guest => Action::StopInterrupted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MCIP: u64 = 1 << 2;
    const UC: u64 = 1 << 61;

    #[test]
    fn a_restartable_check_resumes_anywhere() {
        let corrected = VAL | 0x0135;
        for place in [
            Interrupted::Kernel,
            Interrupted::Component,
            Interrupted::Guest,
        ] {
            assert_eq!(decide(RIPV | MCIP, [0, corrected], place), Action::Resume);
        }
    }

    #[test]
    fn without_ripv_the_interrupted_program_stops_unless_it_is_the_kernel() {
        let uncorrected = VAL | UC;
        assert_eq!(
            decide(MCIP, [uncorrected], Interrupted::Component),
            Action::StopInterrupted
        );
        assert_eq!(
            decide(MCIP, [uncorrected], Interrupted::Guest),
            Action::StopInterrupted
        );
        assert_eq!(
            decide(MCIP, [uncorrected], Interrupted::Kernel),
            Action::Fatal
        );
    }

    #[test]
    fn a_corrupt_processor_context_ends_the_run() {
        let corrupt = VAL | UC | PCC;
        assert_eq!(
            decide(RIPV | MCIP, [0, corrupt], Interrupted::Guest),
            Action::Fatal
        );
        // A bank whose VAL is clear holds nothing.
        assert_eq!(
            decide(RIPV | MCIP, [PCC], Interrupted::Guest),
            Action::Resume
        );
    }

    #[test]
    fn registers_are_where_the_architecture_puts_them() {
        assert_eq!(bank_status(0), 0x401);
        assert_eq!(bank_status(5), 0x415);
        assert_eq!(bank_count(0x0106), 6);
        assert_eq!(bank_count(0xFF), 32);
    }
}
