//! The `open_enum!` macro: a TLFS enumeration as an *open* newtype.
//!
//! A guest can put any bit pattern into a field that the TLFS types as an
//! enumeration (a hypercall code, a status, a message type, a register name).
//! Modelling those as Rust `enum`s would make an unknown value unrepresentable,
//! so a parse of guest input could fail or panic. Instead each is a
//! `#[repr(transparent)]` newtype over its TLFS integer type, with one
//! associated constant per value that the specification names and a
//! [`name`](crate::status::HvStatus::name) accessor returning the TLFS spelling.

/// Declares an open enumeration.
///
/// ```text
/// open_enum! {
///     /// docs
///     pub struct HvThing(u16);
///     /// docs for the value
///     FIRST = 0x0001 => "HvThingFirst",
/// }
/// ```
///
/// Generates: the newtype (public field, zerocopy and comparison derives),
/// the constants, `ALL` (every named value, in declaration order), `name()`,
/// `from_bits`/`into_bits` (so the type can sit in a `bitfield-struct` field),
/// `From` conversions both ways, and a `Debug` that shows the TLFS name.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident($repr:ty);
        $(
            $(#[$cmeta:meta])*
            $konst:ident = $value:expr => $tlfs:literal,
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
                #[doc = concat!("\n\nTLFS name: `", $tlfs, "`.")]
                pub const $konst: Self = Self($value);
            )*

            /// Every value this crate names, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$konst),*];

            /// The TLFS spelling of this value, or `None` for a value the
            /// specification (as captured here) does not name.
            #[must_use]
            pub const fn name(self) -> Option<&'static str> {
                match self {
                    $(Self::$konst => Some($tlfs),)*
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

pub(crate) use open_enum;
