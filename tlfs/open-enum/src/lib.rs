//! The `open_enum!` macro: an enumeration from a specification (the TLFS,
//! the AMD manual) as an *open* newtype.
//!
//! Guests and processors put any bit pattern into fields a specification
//! types as an enumeration (a hypercall code, a status, an exit code).
//! Modelling those as Rust `enum`s would make an unknown value
//! unrepresentable, so reading guest input or a VMCB could fail or panic.
//! Instead each is a `#[repr(transparent)]` newtype over its integer type,
//! with one associated constant per value the specification names.
//!
//! ```
//! tessera_open_enum::open_enum! {
//!     name;
//!     /// A thing.
//!     pub struct Thing(u16);
//!     /// The first thing.
//!     FIRST = 0x0001 => "ThingFirst",
//! }
//! assert_eq!(Thing::FIRST.name(), Some("ThingFirst"));
//! assert_eq!(Thing::from_bits(7).named(), None);
//! ```
//!
//! This generates the struct (deriving the comparison traits, `Default`
//! and the `zerocopy` layout traits, so the invoking crate depends on
//! `zerocopy`), the constants, `ALL` (every named value, in declaration
//! order), `named()` (the spelling of a named constant, or `None`),
//! `from_bits`/`into_bits` (so the type can sit in a `bitfield-struct`
//! field), `From` conversions both ways, and a `Debug` that shows
//! `name()`. With the leading `name;` the macro also defines `name()` as
//! `named()`; without it the type defines its own `name()` (for example one
//! that also names values in ranges).
#![no_std]
#![forbid(unsafe_code)]

#[macro_export]
macro_rules! open_enum {
    (
        name;
        $(#[$meta:meta])*
        $vis:vis struct $name:ident($repr:ty);
        $($rest:tt)*
    ) => {
        $crate::open_enum! { $(#[$meta])* $vis struct $name($repr); $($rest)* }

        impl $name {
            /// The specification's spelling of this value, or `None` for a
            /// value it (as captured here) does not name.
            #[must_use]
            pub const fn name(self) -> Option<&'static str> {
                self.named()
            }
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident($repr:ty);
        $(
            $(#[$cmeta:meta])*
            $konst:ident = $value:expr => $spelling:literal,
        )*
    ) => {
        $(#[$meta])*
        #[derive(
            Clone,
            Copy,
            PartialEq,
            Eq,
            PartialOrd,
            Ord,
            Hash,
            Default,
            zerocopy::FromBytes,
            zerocopy::IntoBytes,
            zerocopy::KnownLayout,
            zerocopy::Immutable,
        )]
        #[repr(transparent)]
        $vis struct $name($vis $repr);

        impl $name {
            $(
                $(#[$cmeta])*
                #[doc = concat!("\n\nName: `", $spelling, "`.")]
                pub const $konst: Self = Self($value);
            )*

            /// Every value this crate names, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$konst),*];

            /// The spelling of a value declared as a constant of this type,
            /// or `None`.
            #[must_use]
            pub const fn named(self) -> Option<&'static str> {
                match self {
                    $(Self::$konst => Some($spelling),)*
                    _ => None,
                }
            }

            /// Wraps a raw value; every value is representable.
            #[must_use]
            pub const fn from_bits(bits: $repr) -> Self {
                Self(bits)
            }

            /// The raw value.
            #[must_use]
            pub const fn into_bits(self) -> $repr {
                self.0
            }
        }

        impl From<$repr> for $name {
            fn from(value: $repr) -> Self {
                Self(value)
            }
        }

        impl From<$name> for $repr {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match self.name() {
                    Some(name) => write!(f, "{}({:#x} {})", stringify!($name), self.0, name),
                    None => write!(f, "{}({:#x})", stringify!($name), self.0),
                }
            }
        }
    };
}
