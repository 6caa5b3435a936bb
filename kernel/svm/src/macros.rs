//! The `open_enum!` macro: an SVM enumeration as an *open* newtype.
//!
//! The processor (or QEMU) writes fields such as `EXITCODE` and
//! `TLB_CONTROL` with values this crate may not know (a newer CPU, a
//! software-defined code). Modelling those as Rust `enum`s would make an
//! unknown value unrepresentable, so reading the VMCB could fail. Instead
//! each is a `#[repr(transparent)]` newtype over its integer type, with one
//! associated constant per value the manual names and a `name()` accessor
//! returning the spelling used in this crate's sources. This is the same
//! pattern as the `tlfs` crate's `open_enum!`.

/// Declares an open enumeration.
///
/// ```text
/// open_enum! {
///     /// docs
///     pub struct Thing(u8);
///     /// docs for the value
///     FIRST = 0x01 => "THING_FIRST",
/// }
/// ```
///
/// Generates: the newtype (public field, zerocopy and comparison derives),
/// the constants, `ALL` (every named value, in declaration order),
/// `named()` (the name of a named constant only), `from_bits`/`into_bits`
/// (so the type can sit in a `bitfield-struct` field), `From` conversions
/// both ways, and a `Debug` that shows the name. The type itself must
/// define `const fn name(self) -> Option<&'static str>` (often just
/// `self.named()`), which `Debug` calls.
macro_rules! open_enum {
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

            /// Every value this crate names as a constant, in declaration
            /// order.
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

pub(crate) use open_enum;

/// Compile-time offset checks: `assert_offsets!(Type { field: 0x10, ... })`
/// expands to one `const _: () = assert!(offset_of!(Type, field) == 0x10)`
/// per field.
macro_rules! assert_offsets {
    ($ty:ty { $($field:ident : $offset:expr),* $(,)? }) => {
        $(
            const _: () = assert!(
                core::mem::offset_of!($ty, $field) == $offset,
                concat!(stringify!($ty), "::", stringify!($field), " is not at its manual offset"),
            );
        )*
    };
}

pub(crate) use assert_offsets;
