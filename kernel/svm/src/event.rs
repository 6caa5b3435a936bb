//! `EVENTINJ` (control area `0A8h`) and `EXITINTINFO` (`088h`): an event
//! for `VMRUN` to inject, or the event whose delivery an exit interrupted.
//!
//! APM §15.20 ("Event Injection") and §15.7.2 (`EXITINTINFO`); both fields
//! share one format:
//!
//! | bits | field |
//! | --- | --- |
//! | 7:0 | `VECTOR` |
//! | 10:8 | `TYPE`: 0 INTR, 2 NMI, 3 exception, 4 software interrupt; 1, 5–7 reserved |
//! | 11 | `EV`: push `ERRORCODE` |
//! | 30:12 | reserved |
//! | 31 | `V`: valid |
//! | 63:32 | `ERRORCODE` |
//!
//! Confirmed by Linux and QEMU (`SVM_EVTINJ_*` masks, identical for
//! `SVM_EXITINTINFO_*`) and Xen (`intinfo_t`). That a reserved `TYPE`, or
//! type *exception* with a vector that is not an exception, makes `VMRUN`
//! fail with `VMEXIT_INVALID` is confirmed by QEMU's `helper_vmrun` and
//! kvm-unit-tests' `test_event_injection`; that an NMI's vector is ignored,
//! by the same test.

use bitfield_struct::bitfield;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::exception::ExceptionVector;
use tessera_open_enum::open_enum;

open_enum! {
    name;
    /// The `TYPE` field (bits 10:8).
    pub struct EventType(u8);

    /// External or virtual maskable interrupt.
    INTR = 0 => "INTR",
    /// Non-maskable interrupt (the vector is ignored).
    NMI = 2 => "NMI",
    /// Exception (fault or trap).
    EXCEPTION = 3 => "EXCEPTION",
    /// Software interrupt (INTn).
    SOFTWARE_INTERRUPT = 4 => "SOFTWARE_INTERRUPT",
}

/// The raw `EVENTINJ` / `EXITINTINFO` word. [`Event`] is the checked view.
#[bitfield(u64)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct EventInjection {
    /// `VECTOR` (bits 7:0).
    pub vector: u8,
    /// `TYPE` (bits 10:8).
    #[bits(3)]
    pub event_type: EventType,
    /// `EV` (bit 11): an error code is pushed.
    pub error_code_valid: bool,
    /// Reserved (bits 30:12).
    #[bits(19)]
    __reserved: u32,
    /// `V` (bit 31): the field holds an event.
    pub valid: bool,
    /// `ERRORCODE` (bits 63:32).
    pub error_code: u32,
}

impl EventInjection {
    /// Reserved bits 30:12.
    pub const RESERVED_MASK: u64 = 0x7FFF_F000;

    /// No event (`V` clear).
    pub const NONE: Self = Self::new();

    /// An external interrupt with `vector` (`TYPE` 0, `V` set): what
    /// [`Event::ExternalInterrupt`] encodes to, without the checks, which
    /// every vector passes (the interrupt injection of the APIC's fast path).
    #[must_use]
    #[inline]
    pub const fn external_interrupt(vector: u8) -> Self {
        Self::from_bits(1 << 31 | vector as u64)
    }

    /// Decodes and checks the word.
    ///
    /// `Ok(None)` when `V` is clear (nothing else is then looked at).
    /// `ERRORCODE` is ignored unless `EV` is set; the vector of an NMI is
    /// ignored, as the processor ignores it.
    ///
    /// # Errors
    ///
    /// Reserved bits set, a reserved `TYPE`, an exception vector that
    /// cannot be injected ([`ExceptionVector::is_injectable`]), or `EV`
    /// disagreeing with the event (see [`EventInjectionError`]).
    pub const fn decode(self) -> Result<Option<Event>, EventInjectionError> {
        if !self.valid() {
            return Ok(None);
        }
        let reserved = self.into_bits() & Self::RESERVED_MASK;
        if reserved != 0 {
            return Err(EventInjectionError::ReservedBits(reserved));
        }
        let vector = self.vector();
        let ev = self.error_code_valid();
        let event = match self.event_type() {
            EventType::INTR => Event::ExternalInterrupt { vector },
            EventType::NMI => Event::Nmi,
            EventType::SOFTWARE_INTERRUPT => Event::SoftwareInterrupt { vector },
            EventType::EXCEPTION => {
                let Some(vector) = ExceptionVector::new(vector) else {
                    return Err(EventInjectionError::NotAnException(vector));
                };
                let error_code = if ev { Some(self.error_code()) } else { None };
                Event::Exception { vector, error_code }
            }
            other => return Err(EventInjectionError::ReservedType(other.0)),
        };
        match event.check() {
            Ok(()) => {}
            Err(error) => return Err(error),
        }
        if ev && !matches!(event, Event::Exception { .. }) {
            return Err(EventInjectionError::ErrorCodeNotAllowed);
        }
        Ok(Some(event))
    }
}

/// A checked event for `EVENTINJ`, or a decoded `EXITINTINFO`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// A maskable interrupt through the guest's IDT (type 0).
    ExternalInterrupt {
        /// The IDT vector.
        vector: u8,
    },
    /// An NMI (type 2; delivered through vector 2).
    Nmi,
    /// An exception (type 3).
    Exception {
        /// The vector; must be [injectable](ExceptionVector::is_injectable).
        vector: ExceptionVector,
        /// The error code, present exactly when the vector
        /// [pushes one](ExceptionVector::pushes_error_code).
        error_code: Option<u32>,
    },
    /// A software interrupt (type 4), as INTn would raise it.
    SoftwareInterrupt {
        /// The IDT vector.
        vector: u8,
    },
}

impl Event {
    /// Checks the event against the rules [`EventInjection::decode`]
    /// applies.
    ///
    /// # Errors
    ///
    /// [`EventInjectionError::NotAnException`] for a vector that cannot be
    /// injected as an exception; [`EventInjectionError::ErrorCodeMismatch`]
    /// when the error code's presence disagrees with the vector.
    ///
    /// The processor checks the first; the second is Tessera's rule (the
    /// APM's consistency checks on `EV` were not available): an error code
    /// the guest's handler does not expect, or one missing that it does,
    /// corrupts the guest's exception frame.
    pub const fn check(self) -> Result<(), EventInjectionError> {
        if let Event::Exception { vector, error_code } = self {
            if !vector.is_injectable() {
                return Err(EventInjectionError::NotAnException(vector.get()));
            }
            if vector.pushes_error_code() != error_code.is_some() {
                return Err(EventInjectionError::ErrorCodeMismatch {
                    vector,
                    expected: vector.pushes_error_code(),
                });
            }
        }
        Ok(())
    }

    /// Encodes the event with `V` set, after [`check`](Self::check).
    ///
    /// # Errors
    ///
    /// As [`check`](Self::check).
    #[inline]
    pub const fn encode(self) -> Result<EventInjection, EventInjectionError> {
        match self.check() {
            Ok(()) => {}
            Err(error) => return Err(error),
        }
        let base = EventInjection::new().with_valid(true);
        Ok(match self {
            Event::ExternalInterrupt { vector } => {
                base.with_event_type(EventType::INTR).with_vector(vector)
            }
            Event::Nmi => base
                .with_event_type(EventType::NMI)
                .with_vector(ExceptionVector::NMI.get()),
            Event::SoftwareInterrupt { vector } => base
                .with_event_type(EventType::SOFTWARE_INTERRUPT)
                .with_vector(vector),
            Event::Exception { vector, error_code } => {
                let with_type = base
                    .with_event_type(EventType::EXCEPTION)
                    .with_vector(vector.get());
                match error_code {
                    Some(code) => with_type.with_error_code_valid(true).with_error_code(code),
                    None => with_type,
                }
            }
        })
    }
}

/// Why an [`EventInjection`] or [`Event`] was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventInjectionError {
    /// Reserved bits 30:12 are set (the offending bits).
    ReservedBits(u64),
    /// `TYPE` is reserved (1, 5, 6 or 7).
    ReservedType(u8),
    /// Type *exception* with a vector that is not an injectable exception
    /// (NMI, a reserved vector, or 32 and above).
    NotAnException(u8),
    /// The error code is present for an exception that pushes none, or
    /// missing for one that pushes one.
    ErrorCodeMismatch {
        /// The exception.
        vector: ExceptionVector,
        /// Whether the exception pushes an error code.
        expected: bool,
    },
    /// `EV` is set for an interrupt, NMI or software interrupt.
    ErrorCodeNotAllowed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_from_the_sources() {
        // #GP(0): vector 13, type 3, EV, V.
        let gp = Event::Exception {
            vector: ExceptionVector::GP,
            error_code: Some(0),
        };
        assert_eq!(gp.encode().unwrap().into_bits(), 0x8000_0B0D);
        // #PF with error code 2 (write to a not-present page).
        let pf = Event::Exception {
            vector: ExceptionVector::PF,
            error_code: Some(2),
        };
        assert_eq!(pf.encode().unwrap().into_bits(), 0x0000_0002_8000_0B0E);
        // External interrupt 0x30: type 0.
        let intr = Event::ExternalInterrupt { vector: 0x30 };
        assert_eq!(intr.encode().unwrap().into_bits(), 0x8000_0030);
        for vector in 0..=255 {
            let encoded = Event::ExternalInterrupt { vector }.encode().unwrap();
            assert_eq!(EventInjection::external_interrupt(vector), encoded);
        }
        // NMI: type 2 (vector 2 by convention; the processor ignores it).
        assert_eq!(Event::Nmi.encode().unwrap().into_bits(), 0x8000_0202);
        // INT 0x80: type 4.
        let soft = Event::SoftwareInterrupt { vector: 0x80 };
        assert_eq!(soft.encode().unwrap().into_bits(), 0x8000_0480);
        // #UD: no error code.
        let ud = Event::Exception {
            vector: ExceptionVector::UD,
            error_code: None,
        };
        assert_eq!(ud.encode().unwrap().into_bits(), 0x8000_0306);
    }

    #[test]
    fn round_trips() {
        let events = [
            Event::ExternalInterrupt { vector: 0x20 },
            Event::ExternalInterrupt { vector: 0xFF },
            Event::Nmi,
            Event::SoftwareInterrupt { vector: 0x03 },
            Event::Exception {
                vector: ExceptionVector::DF,
                error_code: Some(0),
            },
            Event::Exception {
                vector: ExceptionVector::PF,
                error_code: Some(0xFFFF_FFFF),
            },
            Event::Exception {
                vector: ExceptionVector::DB,
                error_code: None,
            },
            Event::Exception {
                vector: ExceptionVector::CP,
                error_code: Some(1),
            },
        ];
        for event in events {
            let raw = event.encode().unwrap();
            assert!(raw.valid());
            assert_eq!(raw.decode(), Ok(Some(event)), "{event:?}");
            let again = EventInjection::from_bits(raw.into_bits());
            assert_eq!(again, raw);
        }
    }

    #[test]
    fn not_valid_is_no_event() {
        assert_eq!(EventInjection::NONE.decode(), Ok(None));
        // Garbage without V is ignored, as the processor ignores it.
        assert_eq!(EventInjection::from_bits(0x7FFF_FFFF).decode(), Ok(None));
    }

    #[test]
    fn rejects_reserved_bits() {
        let raw = EventInjection::from_bits(0x8000_1030);
        assert_eq!(raw.decode(), Err(EventInjectionError::ReservedBits(0x1000)));
        let raw = EventInjection::from_bits(0xC000_0030);
        assert_eq!(
            raw.decode(),
            Err(EventInjectionError::ReservedBits(0x4000_0000))
        );
    }

    #[test]
    fn rejects_reserved_types() {
        for ty in [1_u64, 5, 6, 7] {
            let raw = EventInjection::from_bits(0x8000_0000 | (ty << 8) | 0x20);
            assert_eq!(
                raw.decode(),
                Err(EventInjectionError::ReservedType(ty as u8)),
                "type {ty}"
            );
        }
    }

    #[test]
    fn rejects_non_exception_vectors() {
        // Exception type with vector 2 (NMI): VMEXIT_INVALID on QEMU and
        // hardware.
        let raw = EventInjection::from_bits(0x8000_0302);
        assert_eq!(raw.decode(), Err(EventInjectionError::NotAnException(2)));
        for vector in [9_u8, 15, 20, 22, 31, 32, 0x80, 0xFF] {
            let raw = EventInjection::from_bits(0x8000_0300 | u64::from(vector));
            assert_eq!(
                raw.decode(),
                Err(EventInjectionError::NotAnException(vector)),
                "vector {vector}"
            );
        }
        let nmi_as_exception = Event::Exception {
            vector: ExceptionVector::NMI,
            error_code: None,
        };
        assert_eq!(
            nmi_as_exception.encode(),
            Err(EventInjectionError::NotAnException(2))
        );
    }

    #[test]
    fn rejects_error_code_mismatches() {
        // #GP without its error code.
        let gp = Event::Exception {
            vector: ExceptionVector::GP,
            error_code: None,
        };
        assert_eq!(
            gp.encode(),
            Err(EventInjectionError::ErrorCodeMismatch {
                vector: ExceptionVector::GP,
                expected: true
            })
        );
        // #UD with one.
        let raw = EventInjection::from_bits(0x8000_0B06);
        assert_eq!(
            raw.decode(),
            Err(EventInjectionError::ErrorCodeMismatch {
                vector: ExceptionVector::UD,
                expected: false
            })
        );
        // An interrupt with EV.
        let raw = EventInjection::from_bits(0x8000_0830);
        assert_eq!(raw.decode(), Err(EventInjectionError::ErrorCodeNotAllowed));
    }

    #[test]
    fn nmi_vector_is_ignored() {
        let raw = EventInjection::from_bits(0x8000_0255);
        assert_eq!(raw.decode(), Ok(Some(Event::Nmi)));
    }

    #[test]
    fn error_code_ignored_without_ev() {
        let raw = EventInjection::from_bits(0x1234_5678_8000_0306);
        assert_eq!(
            raw.decode(),
            Ok(Some(Event::Exception {
                vector: ExceptionVector::UD,
                error_code: None
            }))
        );
    }
}
