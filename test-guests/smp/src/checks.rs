//! The checks, run by the bootstrap processor (VP 0).

use core::sync::atomic::Ordering;

use tessera_guest_framework::{Outcome, Suite, cpu, ensure, ensure_eq, fail};

use smp::ap::{self, ARRIVALS, HALTED, Operation, WAKES};
use smp::apic::{self, ALL_EXCLUDING_SELF, ALL_INCLUDING_SELF, ASSERT, FIXED, INIT, LOGICAL};
use smp::apic::{LOWEST, NMI, SELF, STARTUP};
use smp::hw::{self, MAX_VPS, START_PAGES};
use smp::irq;
use smp::{settle, wait_for};

/// CR0 after RESET (CD, NW, ET) and after INIT from a CR0 with CD and NW
/// clear (ET).
const CR0_RESET: u32 = 0x6000_0010;
const CR0_INIT: u32 = 0x10;

/// Sends IPI `low` to `destination` from VP `from` (itself, or through an
/// AP's mailbox).
fn send_from(from: usize, low: u32, destination: u32) -> Outcome {
    if from == 0 {
        apic::send(low, destination, irq::x2apic());
        return Ok(());
    }
    let argument = u64::from(destination) << 32 | u64::from(low);
    ensure!(
        ap::command(from, Operation::SendIpi, argument),
        "VP {from} did not carry out its command (its doorbell did not wake it?)"
    );
    Ok(())
}

/// After `send`, each VP below `vps` in `expected` takes `vector` once
/// more than before, and no other VP takes it.
fn delivered(vps: usize, vector: u8, expected: u32, send: impl FnOnce() -> Outcome) -> Outcome {
    let before = irq::snapshot(vector);
    send()?;
    let reached = |vp: usize| expected & 1 << vp != 0;
    let came =
        wait_for(|| (0..vps).all(|vp| !reached(vp) || irq::received(vp, vector) > before[vp]));
    settle();
    let after = irq::snapshot(vector);
    for vp in 0..vps {
        let want = before[vp] + u32::from(reached(vp));
        ensure!(
            after[vp] == want,
            "vector {vector:#x}: VP {vp} took it {} times, expected {} (VPs {expected:#b} to be reached; all came: {came})",
            after[vp] - before[vp],
            want - before[vp]
        );
    }
    Ok(())
}

fn all(vps: usize) -> u32 {
    (1 << vps) - 1
}

/// INIT then SIPI `vector` to VP `vp` from VP 0.
fn init_sipi(vp: usize, vector: u8) {
    let x2apic = irq::x2apic();
    apic::send(INIT | ASSERT, vp as u32, x2apic);
    settle();
    apic::send(STARTUP | u32::from(vector), vp as u32, x2apic);
}

/// Starts the APs one after the other until one does not come; returns
/// how many VPs there are.
pub fn bring_up(suite: &mut Suite) -> usize {
    suite.check(
        "no AP runs before INIT/SIPI, and INIT alone starts none (VP 1)",
        || {
            for arrival in &ARRIVALS[1..] {
                ensure_eq!(
                    arrival.count.load(Ordering::SeqCst),
                    0,
                    "arrivals before any SIPI"
                );
            }
            apic::send(INIT | ASSERT, 1, false);
            settle();
            ensure_eq!(
                ARRIVALS[1].count.load(Ordering::SeqCst),
                0,
                "VP 1 arrivals after INIT alone"
            );
            Ok(())
        },
    );
    let signature = cpu::cpuid(1, 0).eax;
    for (vp, arrival) in ARRIVALS.iter().enumerate().skip(1) {
        hw::clear_seen();
        hw::set_next_stack(vp);
        init_sipi(vp, 0x08);
        let came = wait_for(|| arrival.count.load(Ordering::SeqCst) == 1);
        if !came {
            suite.note(format_args!("{vp} VPs: no VP {vp} came after INIT/SIPI"));
            return vp;
        }
        suite.check(
            format_args!("xAPIC: INIT/SIPI started VP {vp} in real mode at vector 0x08 (CS 0x0800, CR0 {CR0_RESET:#x}, EDX the CPUID signature), its APIC at power-on (SVR 0xFF, xAPIC mode)"),
            || {
                let (cs, cr0, edx) = hw::seen(START_PAGES[0]);
                ensure_eq!(cs, 0x0800, "CS");
                ensure_eq!(cr0, CR0_RESET, "CR0");
                ensure_eq!(edx, signature, "EDX");
                ensure_eq!(arrival.svr.load(Ordering::SeqCst), 0xFF, "SVR");
                ensure_eq!(arrival.apic_base.load(Ordering::SeqCst), 0xFEE0_0800, "IA32_APIC_BASE");
                Ok(())
            },
        );
        suite.check(
            format_args!("a second SIPI to the running VP {vp} is ignored"),
            || {
                apic::send(STARTUP | 0x09, vp as u32, false);
                settle();
                ensure_eq!(arrival.count.load(Ordering::SeqCst), 1, "arrivals");
                ensure_eq!(
                    hw::seen(START_PAGES[1]).0,
                    0,
                    "CS seen at vector 0x09's page"
                );
                Ok(())
            },
        );
    }
    suite.note(format_args!("{MAX_VPS} VPs"));
    MAX_VPS
}

/// The checks in xAPIC mode.
pub fn xapic(suite: &mut Suite, vps: usize) {
    pairs(suite, vps, 0x60, "xAPIC");
    if vps > 1 {
        suite.check("NMI IPIs: VP 0 to every AP and every AP to VP 0", || {
            for vp in 1..vps {
                delivered(vps, 2, 1 << vp, || send_from(0, NMI, vp as u32))?;
                delivered(vps, 2, 1, || send_from(vp, NMI, 0))?;
            }
            Ok(())
        });
    }
    suite.check(
        "logical flat: each VP takes exactly the IPIs whose mask has its LDR bit",
        || {
            set_logical(vps, 0xFFFF_FFFF, |vp| 1 << (24 + vp))?;
            let mask = if vps == 1 { 1 } else { 0b1010 & all(vps) };
            delivered(vps, 0x61, mask, || {
                send_from(0, FIXED | LOGICAL | 0x61, mask)
            })
        },
    );
    suite.check(
        "logical cluster: cluster 1 both bits, and all clusters (0xF) bit 0",
        || {
            set_logical(vps, 0x0FFF_FFFF, |vp| {
                (((1 + vp / 2) << 4 | 1 << (vp % 2)) as u32) << 24
            })?;
            delivered(vps, 0x62, 0b11 & all(vps), || {
                send_from(0, FIXED | LOGICAL | 0x62, 0x13)
            })?;
            delivered(vps, 0x63, 0b101 & all(vps), || {
                send_from(0, FIXED | LOGICAL | 0x63, 0xF1)
            })
        },
    );
    suite.check(
        "lowest priority: each IPI reaches exactly one VP of the logical set",
        || {
            set_logical(vps, 0xFFFF_FFFF, |vp| 1 << (24 + vp))?;
            let set = if vps == 1 { 1 } else { all(vps) & !1 };
            let sends = 2 * set.count_ones();
            let before = irq::snapshot(0x64);
            let taken =
                |after: &[u32; MAX_VPS]| (0..vps).map(|vp| after[vp] - before[vp]).sum::<u32>();
            // One at a time: two for the same VP before it takes the first
            // would be one (the IRR holds a vector once).
            for sent in 1..=sends {
                send_from(0, LOWEST | LOGICAL | 0x64, set)?;
                wait_for(|| taken(&irq::snapshot(0x64)) >= sent);
            }
            settle();
            let after = irq::snapshot(0x64);
            ensure_eq!(taken(&after), sends, "IPIs taken");
            for vp in (0..vps).filter(|vp| set & 1 << vp == 0) {
                ensure_eq!(
                    after[vp] - before[vp],
                    0,
                    "IPIs taken by a VP outside the set"
                );
            }
            Ok(())
        },
    );
    if vps >= 3 {
        lowest_priority_by_ppr(suite, vps);
    }
    shorthands(suite, vps, 0x65);
    if vps > 1 {
        suite.check("an AP halted in HLT wakes for an IPI at once", || {
            for vp in 1..vps {
                ensure!(
                    wait_for(|| HALTED[vp].load(Ordering::SeqCst) == 1),
                    "VP {vp} never halted"
                );
                let wakes = WAKES[vp].load(Ordering::SeqCst);
                delivered(vps, 0x69, 1 << vp, || send_from(0, FIXED | 0x69, vp as u32))?;
                ensure!(
                    WAKES[vp].load(Ordering::SeqCst) > wakes,
                    "VP {vp} took the IPI but did not leave HLT"
                );
            }
            Ok(())
        });
    }
}

/// Lowest priority goes to the VP of the set with the lowest processor
/// priority (SDM Vol. 3A §10.6.2.4), not around the set: every AP but VP 2
/// raises its TPR to 0x20 (below the doorbell's class, so it still takes
/// commands), and every IPI of the set must then reach VP 2.
fn lowest_priority_by_ppr(suite: &mut Suite, vps: usize) {
    suite.check(
        "lowest priority: the VP with the lowest TPR takes every IPI of the set",
        || {
            set_logical(vps, 0xFFFF_FFFF, |vp| 1 << (24 + vp))?;
            let set = all(vps) & !1;
            let busy = |vp: usize| vp != 2;
            let set_tpr = |tpr: u64| -> Outcome {
                for vp in (1..vps).filter(|&vp| busy(vp)) {
                    ensure!(
                        ap::command(vp, Operation::SetTpr, tpr),
                        "VP {vp} did not set its TPR"
                    );
                }
                Ok(())
            };
            set_tpr(0x20)?;
            let result = (0..2 * set.count_ones()).try_for_each(|_| {
                delivered(vps, 0x66, 1 << 2, || {
                    send_from(0, LOWEST | LOGICAL | 0x66, set)
                })
            });
            set_tpr(0)?;
            result
        },
    );
}

fn set_logical(vps: usize, dfr: u32, ldr: impl Fn(usize) -> u32) -> Outcome {
    apic::write(apic::DFR, dfr, false);
    apic::write(apic::LDR, ldr(0), false);
    for vp in 1..vps {
        let argument = u64::from(dfr) << 32 | u64::from(ldr(vp));
        ensure!(
            ap::command(vp, Operation::SetLogical, argument),
            "VP {vp} did not set its LDR"
        );
    }
    Ok(())
}

/// Fixed IPIs with physical destinations between every ordered pair.
fn pairs(suite: &mut Suite, vps: usize, vector: u8, mode: &str) {
    if vps < 2 {
        return;
    }
    suite.check(
        format_args!(
            "{mode}: a fixed IPI from each VP to each other VP reaches exactly that VP ({} pairs)",
            vps * (vps - 1)
        ),
        || {
            for from in 0..vps {
                for to in (0..vps).filter(|&to| to != from) {
                    let low = FIXED | u32::from(vector);
                    delivered(vps, vector, 1 << to, || send_from(from, low, to as u32))?;
                }
            }
            Ok(())
        },
    );
}

/// The shorthands from VP 0 (and all-excluding-self from VP 1), vectors
/// `first` to `first + 3`.
fn shorthands(suite: &mut Suite, vps: usize, first: u8) {
    suite.check(
        "shorthands from VP 0: self, all-including-self, all-excluding-self",
        || {
            let low = |shorthand: u32, vector: u8| FIXED | shorthand | u32::from(vector);
            delivered(vps, first, 1, || send_from(0, low(SELF, first), 0))?;
            delivered(vps, first + 1, all(vps), || {
                send_from(0, low(ALL_INCLUDING_SELF, first + 1), 0)
            })?;
            delivered(vps, first + 2, all(vps) & !1, || {
                send_from(0, low(ALL_EXCLUDING_SELF, first + 2), 0)
            })?;
            if vps > 1 {
                delivered(vps, first + 3, all(vps) & !2, || {
                    send_from(1, low(ALL_EXCLUDING_SELF, first + 3), 0)
                })?;
            }
            Ok(())
        },
    );
}

/// Every AP, then VP 0, to x2APIC mode.
pub fn to_x2apic(suite: &mut Suite, vps: usize) -> bool {
    suite.check("every VP moves to x2APIC mode", || {
        for vp in 1..vps {
            ensure!(
                ap::command(vp, Operation::ToX2apic, 0),
                "VP {vp} did not move"
            );
        }
        let base = cpu::rdmsr(0x1B).map_err(|c| tessera_guest_framework::failure!("{c:?}"))?;
        cpu::wrmsr(0x1B, base | 1 << 10).map_err(|c| tessera_guest_framework::failure!("{c:?}"))?;
        irq::set_x2apic(true);
        ensure_eq!(apic::read(0x20, true), 0, "VP 0's x2APIC ID");
        Ok(())
    })
}

/// The checks in x2APIC mode.
pub fn x2apic(suite: &mut Suite, vps: usize) {
    if vps > 1 {
        suite.check(
            "x2APIC: INIT/SIPI restarts every AP in real mode at vector 0x09 (CS 0x0900, CR0 0x10), its APIC reset (SVR 0xFF) and still in x2APIC mode",
            || {
                for (vp, arrival) in ARRIVALS.iter().enumerate().take(vps).skip(1) {
                    hw::clear_seen();
                    hw::set_next_stack(vp);
                    let arrivals = arrival.count.load(Ordering::SeqCst);
                    init_sipi(vp, 0x09);
                    ensure!(
                        wait_for(|| arrival.count.load(Ordering::SeqCst) == arrivals + 1),
                        "VP {vp} did not come back"
                    );
                    let (cs, cr0, _) = hw::seen(START_PAGES[1]);
                    ensure_eq!(cs, 0x0900, "CS");
                    ensure_eq!(cr0, CR0_INIT, "CR0");
                    ensure_eq!(hw::seen(START_PAGES[0]).0, 0, "CS seen at vector 0x08's page");
                    ensure_eq!(arrival.svr.load(Ordering::SeqCst), 0xFF, "SVR");
                    ensure_eq!(arrival.apic_base.load(Ordering::SeqCst), 0xFEE0_0C00, "IA32_APIC_BASE");
                }
                Ok(())
            },
        );
    }
    pairs(suite, vps, 0x6A, "x2APIC");
    suite.check("x2APIC logical: cluster 0, each VP's bit its ID's", || {
        let mask = if vps == 1 { 1 } else { 0b1010 & all(vps) };
        delivered(vps, 0x6B, mask, || {
            send_from(0, FIXED | LOGICAL | 0x6B, mask)
        })
    });
    shorthands(suite, vps, 0x6C);
    if let Err(failure) = fail_if_unexpected() {
        suite.check("nothing else arrived", || Err(failure));
    }
}

/// No vector outside those the checks sent arrived.
fn fail_if_unexpected() -> Outcome {
    for vp in 0..MAX_VPS {
        for vector in (0x20..=0xFFu8).filter(|v| !(0x60..=0x6F).contains(v) && *v != ap::DOORBELL) {
            if irq::received(vp, vector) != 0 {
                return fail!("VP {vp} took vector {vector:#x}");
            }
        }
    }
    Ok(())
}

/// Where the guest puts the reference TSC page (free RAM below 1 MiB).
const REFERENCE_TSC_PAGE: u64 = 0x7000;
/// `HV_X64_MSR_REFERENCE_TSC`.
const REFERENCE_TSC: u32 = 0x4000_0021;

/// With `hv-time` (CPUID 0x40000003 EAX bits 1 and 9): the reference TSC
/// page and `TIME_REF_COUNT`, read in turn on every VP, never go back.
pub fn reference_time(suite: &mut Suite, vps: usize) {
    const HV1: u32 = 0x3123_7648;
    let features = cpu::cpuid(0x4000_0003, 0).eax;
    if cpu::cpuid(0x4000_0001, 0).eax != HV1 || features & 0x202 != 0x202 {
        suite.note(format_args!("no hv-time: no reference time checks"));
        return;
    }
    suite.check(
        "hv-time: the reference TSC page and TIME_REF_COUNT, read in turn on every VP, never go back",
        || {
            let failed = |c| tessera_guest_framework::failure!("{c:?}");
            cpu::wrmsr(REFERENCE_TSC, REFERENCE_TSC_PAGE | 1).map_err(failed)?;
            let mut last = 0;
            for round in 0..4 {
                for vp in 0..vps {
                    if vp == 0 {
                        ap::read_time(0, REFERENCE_TSC_PAGE);
                    } else {
                        ensure!(
                            ap::command(vp, Operation::ReadTime, REFERENCE_TSC_PAGE),
                            "VP {vp} did not read the time"
                        );
                    }
                    let page = ap::TIMES[vp][0].load(Ordering::SeqCst);
                    let counter = ap::TIMES[vp][1].load(Ordering::SeqCst);
                    ensure!(page != 0, "VP {vp}: the page has sequence 0");
                    ensure!(
                        page >= last && counter >= page,
                        "round {round}, VP {vp}: page {page:#x}, TIME_REF_COUNT {counter:#x}, after {last:#x}"
                    );
                    last = counter;
                }
            }
            cpu::wrmsr(REFERENCE_TSC, 0).map_err(failed)?;
            Ok(())
        },
    );
}
