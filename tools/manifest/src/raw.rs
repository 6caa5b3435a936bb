//! The manifest as written: what serde reads, before any check.
//!
//! Values are typed loosely on purpose (integers as `i64`, sizes and names
//! as they were written) so that a wrong value becomes a named check with a
//! precise message, and so that every such problem in a file is reported at
//! once. serde only rejects what cannot be read at all: TOML syntax, unknown
//! fields, missing fields, and values of the wrong type.

use std::fmt;

use indexmap::IndexMap;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use toml::Spanned;

/// The whole file. New top-level tables slot in here as new optional
/// fields; `deny_unknown_fields` makes an older tool refuse them by name
/// rather than ignore them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawManifest {
    pub deployment: Spanned<RawDeployment>,
    #[serde(default)]
    pub component: IndexMap<String, Spanned<RawComponent>>,
    #[serde(default)]
    pub partition: IndexMap<String, Spanned<RawPartition>>,
}

/// `[partition.NAME]`: a guest, created by its manager component.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawPartition {
    pub manager: Spanned<String>,
    /// The guest image (a test-guest crate or a file); absent for a Linux
    /// guest, which names its kernel in `linux`.
    pub image: Option<Spanned<String>>,
    /// A Linux guest: kernel, initrd and command line.
    pub linux: Option<Spanned<RawLinux>>,
    pub format: Option<Spanned<String>>,
    pub cmdline: Option<Spanned<String>>,
    pub memory: Spanned<RawSize>,
    pub vps: Option<Spanned<i64>>,
    pub cpus: Option<Spanned<Vec<Spanned<i64>>>>,
    pub priority: Option<Spanned<i64>>,
    pub expect: Option<Spanned<String>>,
    /// The VPs' local APIC (`"xapic"`, `"x2apic"`); absent: none.
    pub apic: Option<Spanned<String>>,
    /// QEMU-style Hv#1 feature names; absent: no Hv#1 interface.
    pub hv: Option<Spanned<Vec<Spanned<String>>>>,
    /// Boot modules of a Multiboot guest (QEMU's `-initrd`).
    pub modules: Option<Spanned<Vec<Spanned<RawModule>>>>,
    #[serde(default)]
    pub routes: Vec<Spanned<RawRoute>>,
    /// `lines = [{ pin = 4, to = "devices" }]`: interrupt lines.
    #[serde(default)]
    pub lines: Vec<Spanned<RawLine>>,
    /// `ports = [{ id = 0x10, type = "message", vp = 0, sint = 2 }]`: SynIC
    /// ports the partition receives through.
    #[serde(default)]
    pub ports: Vec<Spanned<RawPort>>,
    /// `connections = [{ id = 0x20, partition = "b", port = 0x10 }]`:
    /// SynIC connections the partition sends through.
    #[serde(default)]
    pub connections: Vec<Spanned<RawConnection>>,
}

/// `{ id = 0x11, type = "event", vp = 0, sint = 3, base-flag = 8, flag-count = 4 }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawPort {
    pub id: Spanned<i64>,
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    pub vp: Option<Spanned<i64>>,
    pub sint: Option<Spanned<i64>>,
    pub base_flag: Option<Spanned<i64>>,
    pub flag_count: Option<Spanned<i64>>,
    pub owner: Option<Spanned<String>>,
}

/// `{ id = 0x20, partition = "b", port = 0x10 }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawConnection {
    pub id: Spanned<i64>,
    pub partition: Spanned<String>,
    pub port: Spanned<i64>,
}

/// `linux = { kernel = "./vmlinuz", initrd = "./initrd.cpio", cmdline = "console=ttyS0" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawLinux {
    pub kernel: Spanned<String>,
    pub initrd: Option<Spanned<String>>,
    pub cmdline: Option<Spanned<String>>,
}

/// `{ file = "test-guests/multiboot/module.txt", cmdline = "module-one arg" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawModule {
    pub file: Spanned<String>,
    pub cmdline: Option<Spanned<String>>,
}

/// `{ exit = "io", ports = "0x3f8-0x3ff", to = "devices.io", state = ["rax"] }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawRoute {
    pub exit: Spanned<String>,
    pub to: Spanned<String>,
    pub ports: Option<Spanned<RawRange>>,
    pub msrs: Option<Spanned<RawRange>>,
    pub leaves: Option<Spanned<RawRange>>,
    pub gpas: Option<Spanned<RawRange>>,
    pub codes: Option<Spanned<RawRange>>,
    pub vectors: Option<Spanned<Vec<Spanned<i64>>>>,
    pub state: Option<Spanned<Vec<Spanned<String>>>>,
    /// `posted = ["0x3f8"]`: ports (or ranges) of an `io` route whose
    /// writes the kernel posts.
    pub posted: Option<Spanned<Vec<Spanned<RawRange>>>>,
}

/// A range as written: `"0x3f8-0x3ff"`, `"0xf4"`, or an integer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawRange {
    Number(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for RawRange {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RangeVisitor;

        impl Visitor<'_> for RangeVisitor {
            type Value = RawRange;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a range such as \"0x3f8-0x3ff\", a value such as \"0xf4\", or an integer",
                )
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawRange, E> {
                Ok(RawRange::Number(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawRange, E> {
                Ok(RawRange::Number(i64::try_from(v).unwrap_or(i64::MAX)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawRange, E> {
                Ok(RawRange::Text(v.to_owned()))
            }
        }

        deserializer.deserialize_any(RangeVisitor)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawDeployment {
    pub name: Option<Spanned<String>>,
    pub component_memory: Spanned<RawSize>,
    pub cpus: Spanned<i64>,
    pub kernel_args: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawComponent {
    pub image: Spanned<String>,
    pub memory: Spanned<RawSize>,
    pub priority: Spanned<i64>,
    pub threads: Option<Spanned<i64>>,
    pub cpus: Option<Spanned<Vec<Spanned<i64>>>>,
    #[serde(default)]
    pub console: bool,
    /// Reads what is typed on the console (the console capability's READ
    /// right); at most one component.
    pub console_input: Option<Spanned<bool>>,
    pub verdict: Option<Spanned<bool>>,
    #[serde(default)]
    pub provides: Vec<Spanned<RawProvide>>,
    #[serde(default)]
    pub connects: Vec<Spanned<RawConnect>>,
}

impl RawComponent {
    /// Whether the component asks for the verdict capability.
    pub fn has_verdict(&self) -> bool {
        self.verdict.as_ref().is_some_and(|v| *v.get_ref())
    }

    /// Whether the component asks to read the console's input.
    pub fn has_console_input(&self) -> bool {
        self.console_input.as_ref().is_some_and(|v| *v.get_ref())
    }
}

/// `provides = ["echo", { name = "ready", kind = "notification", slot = 9 }]`.
#[derive(Debug)]
pub(crate) struct RawProvide {
    pub name: Spanned<String>,
    pub kind: Option<Spanned<String>>,
    pub slot: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawProvideTable {
    name: Spanned<String>,
    kind: Option<Spanned<String>>,
    slot: Option<Spanned<i64>>,
}

impl<'de> Deserialize<'de> for RawProvide {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ProvideVisitor;

        impl<'de> Visitor<'de> for ProvideVisitor {
            type Value = RawProvide;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "an endpoint name such as \"echo\", or a table such as \
                     { name = \"ready\", kind = \"notification\", slot = 9 }",
                )
            }

            fn visit_str<E: de::Error>(self, name: &str) -> Result<RawProvide, E> {
                Ok(RawProvide {
                    // The span of the enclosing `Spanned<RawProvide>` is
                    // the string's, which is what errors point at.
                    name: Spanned::new(0..0, name.to_owned()),
                    kind: None,
                    slot: None,
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawProvide, A::Error> {
                let table =
                    RawProvideTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawProvide {
                    name: table.name,
                    kind: table.kind,
                    slot: table.slot,
                })
            }
        }

        deserializer.deserialize_any(ProvideVisitor)
    }
}

/// `connects = [{ endpoint = "echo.echo", slot = 4, rights = ["call"], badge = 1 }]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawConnect {
    pub endpoint: Spanned<String>,
    pub slot: Spanned<i64>,
    pub rights: Option<Spanned<Vec<Spanned<String>>>>,
    pub badge: Option<Spanned<i64>>,
}

/// An interrupt line of a partition: `{ pin = 4, to = "devices" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawLine {
    pub pin: Spanned<i64>,
    pub to: Spanned<String>,
}

/// A size as written: `"512 KiB"` or a plain integer of bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawSize {
    Bytes(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for RawSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SizeVisitor;

        impl Visitor<'_> for SizeVisitor {
            type Value = RawSize;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as \"512 KiB\" or \"8 MiB\", or a number of bytes")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawSize, E> {
                Ok(RawSize::Bytes(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawSize, E> {
                Ok(RawSize::Bytes(i64::try_from(v).unwrap_or(i64::MAX)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawSize, E> {
                Ok(RawSize::Text(v.to_owned()))
            }
        }

        deserializer.deserialize_any(SizeVisitor)
    }
}
