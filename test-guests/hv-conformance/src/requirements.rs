//! The Requirements items that are not about one MSR or one call: the
//! self-IPI, and notes for the items a guest cannot observe.

use core::sync::atomic::Ordering;

use tessera_guest_framework::{Suite, ensure, failure};

use crate::apic;
use crate::config::Config;
use crate::trap::{self, IPI_VECTOR};

/// Requirements § Inter-Processor Interrupts (IPI): "Following any guest
/// instruction which has the effect of sending an IPI (e.g., a write to the
/// virtual APIC's Interrupt Command Register, or a write to the
/// HV_X64_MSR_ICR MSR), if the sending VP is included in the destination of
/// the IPI, the sending VP must receive the interrupt before the next guest
/// instruction is executed."
pub fn self_ipi(suite: &mut Suite, config: &Config) {
    if !config.privileges.access_intr_ctrl_regs() {
        suite.note(format_args!(
            "skipped: the self-IPI (Requirements, Inter-Processor Interrupts) is sent through HV_X64_MSR_ICR, and AccessIntrCtrlRegs is not advertised"
        ));
        return;
    }
    suite.check(
        "a self-IPI written to HV_X64_MSR_ICR is taken before the next instruction",
        || {
            let outcome = apic::with_enabled_apic(|_| {
                apic::send_and_look(apic::self_ipi_icr(IPI_VECTOR))
                    .map_err(|caught| failure!("WRMSR HV_X64_MSR_ICR raised {caught}"))
            });
            let total = trap::IPI_COUNT.load(Ordering::SeqCst);
            let seen = outcome?;
            ensure!(
                seen == 1,
                "the instruction after WRMSR saw {seen} interrupts ({total} arrived in the end)"
            );
            Ok(())
        },
    );
}

/// Notes for what the Requirements ask that a guest cannot check.
pub fn notes(suite: &mut Suite, config: &Config) {
    let r = config.recommendations;
    suite.note(format_args!(
        "Requirements, Use Relaxed Timing: CPUID 0x40000004 EAX bit 5 is {} (a hint to the guest; nothing to check)",
        if r.use_relaxed_timing() { "set" } else { "clear" }
    ));
    if config.privileges.access_guest_idle_reg() {
        suite.note(format_args!(
            "skipped: reading HV_X64_MSR_GUEST_IDLE (it idles the VP until an interrupt; this guest takes none)"
        ));
    }
    suite.note(format_args!(
        "not checked: Requirements, Reference Time and migration (TSC rate across save, restore and migration) and VMBus in the ACPI namespace (this guest has no ACPI) are outside one run of a bare guest"
    ));
    let p = config.privileges;
    let unexercised = [
        ("AccessStatsReg", p.access_stats_reg()),
        (
            "AccessReenlightenmentControls",
            p.access_reenlightenment_controls(),
        ),
        ("ConnectPort", p.connect_port()),
        ("Debugging", p.debugging()),
        ("AccessVSM", p.access_vsm()),
        ("AccessVpRegisters", p.access_vp_registers()),
        ("StartVirtualProcessor", p.start_virtual_processor()),
    ];
    for (name, advertised) in unexercised {
        if advertised {
            suite.note(format_args!("advertised but not exercised here: {name}"));
        }
    }
}
