//! What the kernel does with an exit that both of its paths take — a
//! CPUID, port I/O, INVD/WBINVD: one pure decision from the exit, the
//! guest's registers and a read-only view of the partition's routes. The
//! lock-free path asks it through a view published with atomics
//! ([`RouteRanges`](crate::route_ranges::RouteRanges)), which can answer
//! but never forwards, the locked path through the partition's route
//! table; both apply what it says, so they cannot disagree about what
//! the guest sees.
use core::ops::DerefMut;

use tessera_exit_protocol::Exit;
use tessera_svm::ioio::IoioExitInfo;
use tessera_svm::{EventInjection, ExitCode, Vmcb};

use crate::GuestGprs;
use crate::clean_bits::TrackedVmcb;

/// A kind of route a view is asked about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteKind {
    Cpuid,
    IoPort,
}

/// What a view of the partition tells about its routes.
pub trait PartitionView {
    /// What names a route (the lock-free view has nothing to name one
    /// with: it only knows that one exists).
    type Route: Copy;

    /// Whether exits its routes take are forwarded with this view; if not
    /// (the lock-free view, which cannot send), such an exit is deferred
    /// before anything is computed for its message.
    const FORWARDS: bool;

    /// The route of `kind` that takes `value`: `Some(None)` if none does,
    /// `None` if this view cannot tell.
    fn route(&self, kind: RouteKind, value: u32) -> Option<Option<Self::Route>>;
}

/// The exit and the guest registers the decision reads, where the exit
/// left them (read as the decision needs them, not copied out first: the
/// lock-free path keeps its registers for the route lookup).
#[derive(Clone, Copy, Debug)]
pub struct ExitState<'a> {
    pub code: ExitCode,
    pub vmcb: &'a Vmcb,
    pub gprs: &'a GuestGprs,
}

/// An exit the kernel answers itself, with its effect on the registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// CPUID: EAX, EBX, ECX and EDX (zero-extended into their registers),
    /// and RIP past the instruction.
    Cpuid([u32; 4]),
    /// Port I/O with no device: RAX as the empty bus leaves it (a read
    /// floats high; a write leaves it as it was), RIP to `next_rip`
    /// (EXITINFO2).
    Port { rax: u64, next_rip: u64 },
    /// INVD and WBINVD, RIP past the instruction: INVD would drop the
    /// host's dirty cache lines, WBINVD flush every partition's, and guest
    /// memory is write-back and coherent (no device of a partition writes
    /// memory behind the caches), so skipping both is what the guest can
    /// observe of either.
    Skip,
}

impl Answer {
    /// Whether RIP goes past an instruction the caller measures
    /// (`instruction`: NRIP, or the bytes at CS:RIP), rather than to a
    /// next RIP the exit gave.
    pub const fn measured(&self) -> bool {
        !matches!(self, Self::Port { .. })
    }

    /// Applies the answer to the VP's registers: `measured_next_rip` is
    /// where RIP goes when [`Answer::measured`]. The event the exit
    /// interrupted, if any, is dropped: an answered exit completed its
    /// instruction.
    #[inline(always)]
    pub fn apply<B: DerefMut<Target = Vmcb>>(
        self,
        vmcb: &mut TrackedVmcb<B>,
        gprs: &mut GuestGprs,
        measured_next_rip: u64,
    ) {
        let next_rip = match self {
            Self::Cpuid([eax, ebx, ecx, edx]) => {
                *vmcb.rax_mut() = u64::from(eax);
                gprs.rbx = u64::from(ebx);
                gprs.rcx = u64::from(ecx);
                gprs.rdx = u64::from(edx);
                measured_next_rip
            }
            Self::Port { rax, next_rip } => {
                *vmcb.rax_mut() = rax;
                next_rip
            }
            Self::Skip => measured_next_rip,
        };
        *vmcb.rip_mut() = next_rip;
        *vmcb.event_inj_mut() = EventInjection::NONE;
    }
}

/// What happens to the exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision<R> {
    Answer(Answer),
    /// The route's handler answers: `exit` is the message it gets.
    Forward {
        route: R,
        exit: Exit,
    },
    /// The lifecycle handler hears `exit`; the VP stops.
    Stop(Exit),
    /// The view cannot tell, or the exit is not one this decides: the
    /// locked path decides with the partition's own tables.
    Defer,
}

impl<R> Decision<R> {
    /// The same decision with the route forgotten (what the two views
    /// must agree on).
    pub fn without_route(self) -> Decision<()> {
        match self {
            Self::Answer(answer) => Decision::Answer(answer),
            Self::Forward { exit, .. } => Decision::Forward { route: (), exit },
            Self::Stop(exit) => Decision::Stop(exit),
            Self::Defer => Decision::Defer,
        }
    }
}

/// The mask of a port access of `size` bytes.
const fn port_mask(size: u8) -> u64 {
    match size {
        1 => 0xFF,
        2 => 0xFFFF,
        _ => 0xFFFF_FFFF,
    }
}

/// Decides `state`'s exit; `cpuid(leaf, subleaf)` is the kernel's own
/// CPUID answer (the default a CPUID handler gets).
#[inline(always)]
pub fn decide<V: PartitionView>(
    state: &ExitState<'_>,
    view: &V,
    cpuid: impl FnOnce(u32, u32) -> [u32; 4],
) -> Decision<V::Route> {
    match state.code {
        ExitCode::CPUID => decide_cpuid(state, view, cpuid),
        ExitCode::IOIO => decide_port(state, view),
        ExitCode::INVD | ExitCode::WBINVD => Decision::Answer(Answer::Skip),
        _ => Decision::Defer,
    }
}

#[inline(always)]
fn decide_cpuid<V: PartitionView>(
    state: &ExitState<'_>,
    view: &V,
    cpuid: impl FnOnce(u32, u32) -> [u32; 4],
) -> Decision<V::Route> {
    let (leaf, subleaf) = (state.vmcb.save.rax as u32, state.gprs.rcx as u32);
    let Some(route) = view.route(RouteKind::Cpuid, leaf) else {
        return Decision::Defer;
    };
    if route.is_some() && !V::FORWARDS {
        return Decision::Defer;
    }
    let default = cpuid(leaf, subleaf);
    match route {
        Some(route) => Decision::Forward {
            route,
            exit: Exit::Cpuid {
                leaf,
                subleaf,
                default,
            },
        },
        None => Decision::Answer(Answer::Cpuid(default)),
    }
}

/// Port I/O: string I/O (and an access the CPU describes impossibly) is
/// not supported and stops the VP; a port a route takes goes to it; any
/// other is the empty bus.
#[inline(always)]
fn decide_port<V: PartitionView>(state: &ExitState<'_>, view: &V) -> Decision<V::Route> {
    let unsupported = || {
        Decision::Stop(Exit::Unsupported {
            exit_code: ExitCode::IOIO.0,
            rip: state.vmcb.save.rip,
        })
    };
    let Ok(access) = IoioExitInfo::from_bits(state.vmcb.control.exit_info1).decode() else {
        return unsupported();
    };
    if access.string {
        return unsupported();
    }
    let Some(route) = view.route(RouteKind::IoPort, u32::from(access.port)) else {
        return Decision::Defer;
    };
    if route.is_some() && !V::FORWARDS {
        return Decision::Defer;
    }
    let size = access.size.bytes() as u8;
    let mask = port_mask(size);
    match route {
        Some(route) => Decision::Forward {
            route,
            exit: Exit::IoPort {
                port: access.port,
                size,
                write: !access.is_in,
                value: if access.is_in {
                    0
                } else {
                    (state.vmcb.save.rax & mask) as u32
                },
            },
        },
        None => {
            // A 32-bit IN zero-extends into RAX, as a 32-bit move does.
            let rax = match (access.is_in, size) {
                (false, _) => state.vmcb.save.rax,
                (true, 4) => mask,
                (true, _) => state.vmcb.save.rax | mask,
            };
            Decision::Answer(Answer::Port {
                rax,
                next_rip: state.vmcb.control.exit_info2,
            })
        }
    }
}

#[cfg(test)]
mod tests;
