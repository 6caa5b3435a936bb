//! A partition's routes: how they read in logs, which handlers hear of the
//! partition ([`attach_slots`]), and which register mask comes with which
//! exit.

use alloc::vec::Vec;
use core::fmt;

use tessera_boot_plan::manager::RouteSpec;
use tessera_boot_plan::route::{self, ParameterShape, intercept};

/// A route for logs: `io 0xf4..=0xf4 -> slot 6 (state 0x0)`.
#[derive(Clone, Copy, Debug)]
pub struct RouteLine(pub RouteSpec);

impl fmt::Display for RouteLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let RouteSpec {
            kind,
            parameter,
            slot,
            state,
            posted,
        } = self.0;
        match route::kind_name(kind) {
            Some(name) => f.write_str(name)?,
            None => write!(f, "kind {kind:#x}")?,
        }
        match route::shape(kind) {
            // Memory routes count pages: shown as the GPA bytes they cover.
            Some(ParameterShape::Range { .. }) if kind == intercept::MEMORY => {
                if let Some((first, last)) = route::range_of(kind, parameter) {
                    let page = route::GPA_PAGE_SIZE;
                    let end = last.saturating_mul(page).saturating_add(page - 1);
                    write!(f, " gpas {:#x}..={end:#x}", first.saturating_mul(page))?;
                }
            }
            Some(ParameterShape::Range { .. }) => {
                if let Some((first, last)) = route::range_of(kind, parameter) {
                    write!(f, " {first:#x}..={last:#x}")?;
                }
            }
            Some(ParameterShape::Vectors) => write!(f, " vectors {parameter:#x}")?,
            Some(ParameterShape::None) | None => {}
        }
        write!(f, " -> slot {slot}")?;
        if state != 0 {
            write!(f, " (registers {state:#x})")?;
        }
        if posted != 0 {
            write!(f, " (posts writes to ports {posted:#x} of it)")?;
        }
        Ok(())
    }
}

/// The slots of the lifecycle route: they lead to the manager's own
/// `exits` endpoint (the manager is every partition's lifecycle handler:
/// that is how it learns how the partition ends), and the routes of one
/// partition to one endpoint share a slot.
fn own_slots(routes: &[RouteSpec]) -> impl Iterator<Item = u32> + '_ {
    routes
        .iter()
        .filter(|r| r.kind == intercept::LIFECYCLE)
        .map(|r| r.slot)
}

/// The slots to send the partition attach message through: each distinct
/// route slot once, in route order, except the manager's own endpoint
/// (a call to itself would never be answered).
pub fn attach_slots(routes: &[RouteSpec]) -> Vec<u32> {
    let mut slots: Vec<u32> = Vec::new();
    for route in routes {
        if !own_slots(routes).any(|own| own == route.slot) && !slots.contains(&route.slot) {
            slots.push(route.slot);
        }
    }
    slots
}

/// Whether exits through `slot` come to the manager itself.
pub fn is_own_slot(routes: &[RouteSpec], slot: u32) -> bool {
    own_slots(routes).any(|own| own == slot)
}

/// The slot of the handler that takes the partition's EOI broadcasts (an
/// `eoi` route): its interrupt controller, which gets the partition's
/// interrupt capability with the attach message (`None`: no controller).
pub fn interrupt_controller_slot(routes: &[RouteSpec]) -> Option<u32> {
    routes
        .iter()
        .find(|r| r.kind == intercept::EOI)
        .map(|r| r.slot)
        .filter(|&slot| !is_own_slot(routes, slot))
}

/// The slot of the handler of the SynIC registers (the MSR route that
/// takes `HV_X64_MSR_SCONTROL`): the `synic` component, which gets the
/// partition's SynIC capability with the attach message (`None`: none).
pub fn synic_slot(routes: &[RouteSpec]) -> Option<u32> {
    routes
        .iter()
        .find(|r| {
            r.kind == intercept::MSR
                && route::range_of(r.kind, r.parameter).is_some_and(|(first, last)| {
                    (first..=last).contains(&u64::from(tlfs::msr::HV_X64_MSR_SCONTROL))
                })
        })
        .map(|r| r.slot)
        .filter(|&slot| !is_own_slot(routes, slot))
}

/// QEMU's `hyperv-testdev` port (`tessera_synic::testdev::TESTDEV_PORT`).
pub const TESTDEV_PORT: u64 = 0x3000;

/// The handlers that get the partition's capability (WRITE) with the
/// attach besides its interrupt controller and its SynIC: the server of the
/// I/O route that takes the `hyperv-testdev` port (it makes ports,
/// connections and SINT routes), and the owners of its component-owned
/// ports (`owner_slots`: they take what waits and answer).
pub fn port_handler_slots(routes: &[RouteSpec], owner_slots: &[u32]) -> Vec<u32> {
    let testdev = routes.iter().find(|r| {
        r.kind == intercept::IO_PORT
            && route::range_of(r.kind, r.parameter)
                .is_some_and(|(first, last)| (first..=last).contains(&TESTDEV_PORT))
    });
    let mut slots: Vec<u32> = testdev.map(|r| r.slot).into_iter().collect();
    for &slot in owner_slots {
        if !slots.contains(&slot) {
            slots.push(slot);
        }
    }
    slots.retain(|&slot| !is_own_slot(routes, slot));
    slots
}

/// The CMOS real-time clock's index and data ports.
pub const CMOS_CLOCK_PORTS: (u64, u64) = (0x70, 0x71);

/// Whether the partition has a CMOS clock: both its ports go to one
/// handler other than the manager (the `platform` component's clock), so
/// its ACPI tables declare one.
pub fn has_cmos_clock(routes: &[RouteSpec]) -> bool {
    let (index, data) = CMOS_CLOCK_PORTS;
    routes.iter().any(|r| {
        r.kind == intercept::IO_PORT
            && !is_own_slot(routes, r.slot)
            && route::range_of(r.kind, r.parameter)
                .is_some_and(|(first, last)| first <= index && data <= last)
    })
}

/// The register mask of the lifecycle route (what comes after the TLFS
/// message of a lifecycle exit), 0 if there is none.
pub fn lifecycle_state(routes: &[RouteSpec]) -> u64 {
    routes
        .iter()
        .find(|r| r.kind == intercept::LIFECYCLE)
        .map_or(0, |r| r.state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::vec;
    use tessera_abi::vm::state;

    fn route(kind: u64, parameter: u64, slot: u32) -> RouteSpec {
        RouteSpec {
            kind,
            parameter,
            slot,
            state: 0,
            posted: 0,
        }
    }

    fn io(first: u64, last: u64, slot: u32) -> RouteSpec {
        route(intercept::IO_PORT, first | last << 16, slot)
    }

    #[test]
    fn the_synic_is_the_handler_of_scontrol() {
        let msrs = |first: u64, last: u64, slot| route(intercept::MSR, first | last << 32, slot);
        let routes = vec![
            route(intercept::LIFECYCLE, 0, 5),
            msrs(0x4C00_0000, 0x4C00_000F, 6),
            msrs(0x4000_0080, 0x4000_009F, 7),
        ];
        assert_eq!(synic_slot(&routes), Some(7));
        assert_eq!(synic_slot(&routes[..2]), None);
        // The manager's own endpoint never gets it.
        let own = vec![
            route(intercept::LIFECYCLE, 0, 5),
            msrs(0x4000_0080, 0x4000_009F, 5),
        ];
        assert_eq!(synic_slot(&own), None);
    }

    #[test]
    fn the_test_device_and_port_owners_get_the_partition() {
        let routes = vec![
            route(intercept::LIFECYCLE, 0, 5),
            io(0x3F8, 0x3FF, 6),
            io(0x3000, 0x3003, 8),
        ];
        assert_eq!(port_handler_slots(&routes, &[]), [8]);
        assert_eq!(port_handler_slots(&routes, &[9, 8]), [8, 9]);
        assert_eq!(port_handler_slots(&routes[..2], &[]), [] as [u32; 0]);
        // The manager's own endpoint never gets it.
        assert_eq!(port_handler_slots(&routes[..2], &[5]), [] as [u32; 0]);
    }

    #[test]
    fn handlers_hear_once_and_the_manager_never() {
        let routes = vec![
            route(intercept::LIFECYCLE, 0, 5),
            io(0xF4, 0xF4, 5),
            io(0x3F8, 0x3FF, 6),
            io(0x510, 0x51F, 7),
            route(intercept::CPUID, 0x4C00_0000 | 0x4C00_00FF << 32, 7),
            route(intercept::HLT, 0, 7),
        ];
        assert_eq!(attach_slots(&routes), [6, 7]);
        assert!(is_own_slot(&routes, 5));
        assert!(!is_own_slot(&routes, 6));
        assert_eq!(attach_slots(&routes[..2]), [] as [u32; 0]);
    }

    #[test]
    fn the_eoi_routes_handler_is_the_interrupt_controller() {
        let mut routes = vec![
            route(intercept::LIFECYCLE, 0, 5),
            io(0x3F8, 0x3FF, 6),
            io(0x20, 0x21, 7),
        ];
        assert_eq!(interrupt_controller_slot(&routes), None);
        routes.push(route(intercept::EOI, 0, 7));
        assert_eq!(interrupt_controller_slot(&routes), Some(7));
        // The manager itself never receives it through an attach.
        routes[3].slot = 5;
        assert_eq!(interrupt_controller_slot(&routes), None);
    }

    #[test]
    fn a_cmos_clock_is_both_its_ports_routed_to_one_handler() {
        let lifecycle = route(intercept::LIFECYCLE, 0, 5);
        assert!(has_cmos_clock(&[lifecycle, io(0x70, 0x71, 7)]));
        assert!(has_cmos_clock(&[lifecycle, io(0x60, 0x7F, 7)]));
        assert!(!has_cmos_clock(&[lifecycle, io(0x70, 0x70, 7)]));
        assert!(!has_cmos_clock(&[
            lifecycle,
            io(0x70, 0x70, 7),
            io(0x71, 0x71, 7)
        ]));
        assert!(!has_cmos_clock(&[lifecycle, io(0x3F8, 0x3FF, 7)]));
        assert!(
            !has_cmos_clock(&[lifecycle, io(0x70, 0x71, 5)]),
            "the manager's own"
        );
        assert!(!has_cmos_clock(&[lifecycle]));
    }

    #[test]
    fn the_lifecycle_mask_is_the_lifecycle_routes() {
        let mut lifecycle = route(intercept::LIFECYCLE, 0, 5);
        lifecycle.state = state::ALL;
        let routes = [io(0xF4, 0xF4, 5), lifecycle];
        assert_eq!(lifecycle_state(&routes), state::ALL);
        assert_eq!(lifecycle_state(&routes[..1]), 0);
    }

    #[test]
    fn routes_read_as_kind_parameter_and_slot() {
        assert_eq!(
            format!("{}", RouteLine(io(0xF4, 0xF4, 5))),
            "io 0xf4..=0xf4 -> slot 5"
        );
        let mut lifecycle = route(intercept::LIFECYCLE, 0, 5);
        lifecycle.state = state::RAX | state::RSP;
        assert_eq!(
            format!("{}", RouteLine(lifecycle)),
            "lifecycle -> slot 5 (registers 0x11)"
        );
        assert_eq!(
            format!("{}", RouteLine(route(intercept::EXCEPTION, 1 << 14, 8))),
            "exception vectors 0x4000 -> slot 8"
        );
        assert_eq!(
            format!(
                "{}",
                RouteLine(route(intercept::MEMORY, 0xFED00 | 0xFED01 << 32, 7))
            ),
            "memory gpas 0xfed00000..=0xfed01fff -> slot 7"
        );
        assert_eq!(
            format!(
                "{}",
                RouteLine(route(intercept::HYPERCALL, 0x8 | 0x8 << 32, 6))
            ),
            "hypercall 0x8..=0x8 -> slot 6"
        );
        assert_eq!(
            format!("{}", RouteLine(route(0x42, 0, 9))),
            "kind 0x42 -> slot 9"
        );
    }
}
