//! Exceptions the kernel intercepts for its own sake and gives straight
//! back to the guest: #DB and #AC.
//!
//! Delivering either can raise it again, forever, inside the CPU's
//! microcode (CVE-2015-8104: a #DB whose delivery hits a data breakpoint
//! on the IDT or stack; CVE-2015-5307: an #AC whose delivery is misaligned):
//! the host never gets the CPU back. With the intercept each delivery
//! attempt is an exit, so the host keeps control, and the guest gets the
//! exception as the architecture delivers it.
//!
//! An intercepted exception that arose while the CPU delivered another
//! event (EXITINTINFO valid) follows the double-fault rules (APM vol. 2
//! §8.2.9, Table 8-7): #DB and #AC are benign, so the new exception is
//! delivered on its own. An exception or software interrupt that was being
//! delivered comes again when its instruction runs again; an external
//! interrupt or an NMI would be lost, so it goes back to the VP's pending
//! events.
use tessera_svm::{Event, EventInjection, ExceptionVector};

/// DR7.GD: the processor clears it when it delivers #DB, so the handler
/// may use the debug registers (APM vol. 2 §13.1.1.5).
pub const DR7_GD: u64 = 1 << 13;

/// An event the exception interrupted, which must be delivered later.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requeue {
    Interrupt { vector: u8 },
    Nmi,
}

/// What the kernel does for a reflected exception.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reflection {
    /// EVENTINJ for the next VMRUN.
    pub inject: EventInjection,
    /// An interrupted event to make pending again.
    pub requeue: Option<Requeue>,
    /// The guest's DR7 after delivery.
    pub dr7: u64,
}

/// The vectors reflected: #DB and #AC.
pub fn is_reflected(vector: ExceptionVector) -> bool {
    vector == ExceptionVector::DB || vector == ExceptionVector::AC
}

/// The reflection of an intercepted #DB or #AC with `exit_info1` (the error
/// code, #AC's always 0) that arrived with `exit_int_info`; `dr7` is the
/// guest's. `None` for any other vector.
pub fn reflect(
    vector: ExceptionVector,
    exit_info1: u64,
    exit_int_info: EventInjection,
    dr7: u64,
) -> Option<Reflection> {
    if !is_reflected(vector) {
        return None;
    }
    let error_code = vector.pushes_error_code().then_some(exit_info1 as u32);
    let inject = Event::Exception { vector, error_code }.encode().ok()?;
    let requeue = match exit_int_info.decode() {
        Ok(Some(Event::ExternalInterrupt { vector })) => Some(Requeue::Interrupt { vector }),
        Ok(Some(Event::Nmi)) => Some(Requeue::Nmi),
        _ => None,
    };
    let dr7 = if vector == ExceptionVector::DB {
        dr7 & !DR7_GD
    } else {
        dr7
    };
    Some(Reflection {
        inject,
        requeue,
        dr7,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event: Event) -> EventInjection {
        event.encode().unwrap()
    }

    #[test]
    fn db_and_ac_go_back_as_they_came() {
        let db = reflect(ExceptionVector::DB, 0, EventInjection::NONE, 0x400 | DR7_GD).unwrap();
        assert_eq!(
            db.inject,
            event(Event::Exception {
                vector: ExceptionVector::DB,
                error_code: None
            })
        );
        assert_eq!(db.dr7, 0x400, "GD cleared on delivery");
        assert_eq!(db.requeue, None);
        let ac = reflect(ExceptionVector::AC, 0, EventInjection::NONE, 0x400).unwrap();
        assert_eq!(
            ac.inject,
            event(Event::Exception {
                vector: ExceptionVector::AC,
                error_code: Some(0)
            })
        );
        assert_eq!(ac.dr7, 0x400);
        assert_eq!(
            reflect(ExceptionVector::GP, 0, EventInjection::NONE, 0),
            None
        );
    }

    /// An #AC raised while delivering an #AC (CVE-2015-5307) is delivered
    /// on its own; an interrupted external interrupt or NMI comes back.
    #[test]
    fn an_interrupted_interrupt_is_not_lost() {
        let ac = Event::Exception {
            vector: ExceptionVector::AC,
            error_code: Some(0),
        };
        let nested = reflect(ExceptionVector::AC, 0, event(ac), 0).unwrap();
        assert_eq!(nested.inject, event(ac));
        assert_eq!(nested.requeue, None);
        let interrupt = event(Event::ExternalInterrupt { vector: 0x30 });
        assert_eq!(
            reflect(ExceptionVector::DB, 0, interrupt, 0)
                .unwrap()
                .requeue,
            Some(Requeue::Interrupt { vector: 0x30 })
        );
        assert_eq!(
            reflect(ExceptionVector::DB, 0, event(Event::Nmi), 0)
                .unwrap()
                .requeue,
            Some(Requeue::Nmi)
        );
        let software = event(Event::SoftwareInterrupt { vector: 0x80 });
        assert_eq!(
            reflect(ExceptionVector::AC, 0, software, 0)
                .unwrap()
                .requeue,
            None
        );
    }
}
