//! What is wrong with a manifest, where, and what to change.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::named::{NamedFile, Resolver};

/// One problem in a manifest.
///
/// Renders as
///
/// ```text
/// FILE:LINE: ENTRY: MESSAGE [CHECK]
///   help: WHAT TO CHANGE
/// ```
///
/// (`:LINE` only when known, `ENTRY: ` only when the problem has one.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// The check that failed, one of [`CHECKS`].
    pub check: &'static str,
    /// The manifest file.
    pub file: PathBuf,
    /// 1-based line of the entry, when known.
    pub line: Option<usize>,
    /// Path of the entry in the manifest, such as
    /// `component.client.connects[0].endpoint` (empty for the whole file).
    pub entry: String,
    /// What is wrong.
    pub message: String,
    /// What to change.
    pub help: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        f.write_str(": ")?;
        if !self.entry.is_empty() {
            write!(f, "{}: ", self.entry)?;
        }
        write!(
            f,
            "{} [{}]\n  help: {}",
            self.message, self.check, self.help
        )
    }
}

impl std::error::Error for ManifestError {}

/// Renders a list of errors, one after the other, for printing.
pub fn render(errors: &[ManifestError]) -> String {
    let mut out = String::new();
    for error in errors {
        out.push_str(&error.to_string());
        out.push('\n');
    }
    out
}

/// Collects errors for one file, with line numbers from byte offsets; and
/// knows where the file's named files are ([`crate::named`]).
pub(crate) struct Report<'a> {
    file: &'a Path,
    source: &'a str,
    named: Resolver<'a>,
    pub errors: Vec<ManifestError>,
}

impl<'a> Report<'a> {
    pub fn new(file: &'a Path, source: &'a str, named: Resolver<'a>) -> Self {
        Self {
            file,
            source,
            named,
            errors: Vec::new(),
        }
    }

    pub fn file(&self) -> &'a Path {
        self.file
    }

    /// Where the named file is on the host.
    pub fn resolve(&self, named: NamedFile<'_>) -> Result<PathBuf, String> {
        (self.named)(named)
    }

    /// The 1-based line of byte `offset`, if the span is a real one.
    pub fn line_of(&self, span: Option<std::ops::Range<usize>>) -> Option<usize> {
        let span = span?;
        if span.start == 0 && span.end == 0 {
            return None;
        }
        let before = self.source.get(..span.start)?;
        Some(before.bytes().filter(|&b| b == b'\n').count() + 1)
    }

    pub fn push(
        &mut self,
        check: &'static str,
        entry: impl Into<String>,
        span: Option<std::ops::Range<usize>>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        debug_assert!(
            CHECKS.iter().any(|c| c.name == check),
            "check `{check}` missing from CHECKS"
        );
        let line = self.line_of(span);
        self.errors.push(ManifestError {
            check,
            file: self.file.to_path_buf(),
            line,
            entry: entry.into(),
            message: message.into(),
            help: help.into(),
        });
    }
}

/// A named check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    /// Name, as shown in brackets after an error.
    pub name: &'static str,
    /// What it refuses.
    pub refuses: &'static str,
}

macro_rules! checks {
    ($($konst:ident = $name:literal: $refuses:literal;)*) => {
        $(
            #[doc = $refuses]
            pub const $konst: &str = $name;
        )*
        /// Every check, in the order the README lists them.
        pub const CHECKS: &[Check] = &[$(Check { name: $name, refuses: $refuses }),*];
    };
}

/// Names of the checks, for matching on [`ManifestError::check`].
pub mod check {
    use super::Check;

    checks! {
        READ_FILE = "read-file": "A manifest file that cannot be read.";
        TOML_SYNTAX = "toml-syntax": "Text that is not TOML.";
        DUPLICATE_NAME = "duplicate-name": "A key written twice, such as two `[component.echo]` tables.";
        UNKNOWN_FIELD = "unknown-field": "A field the manifest format does not have (a typo, or a table from a later format version).";
        MISSING_FIELD = "missing-field": "A required field left out (a partition needs `image` or `linux`).";
        WRONG_TYPE = "wrong-type": "A value of the wrong TOML type, such as a string where an integer belongs.";
        BAD_NAME = "bad-name": "A deployment, component or endpoint name that is not 1 to 31 bytes of `[a-z][a-z0-9-]*`.";
        DEPLOYMENT_NAME = "deployment-name": "`deployment.name` different from the file name.";
        BAD_IMAGE_NAME = "bad-image-name": "An image that cannot name a crate under `components/`.";
        NO_COMPONENTS = "no-components": "A deployment without any component.";
        TOO_MANY = "too-many": "More components, endpoints, capabilities or images (module files included) than the boot plan holds.";
        BAD_SIZE = "bad-size": "A size that is not a positive whole number of 4 KiB pages in B, KiB, MiB or GiB.";
        MEMORY_BELOW_MINIMUM = "memory-below-minimum": "A component quota below the 64 KiB a component needs (stacks, capability space, image).";
        MEMORY_OVER_BUDGET = "memory-over-budget": "Component quotas that add up to more than `deployment.component-memory`.";
        BAD_PRIORITY = "bad-priority": "A priority outside 0..=255.";
        BAD_THREADS = "bad-threads": "A thread count of 0 or above the limit.";
        BAD_CPU_COUNT = "bad-cpu-count": "`deployment.cpus` outside 1..=64.";
        CPU_AFFINITY = "cpu-affinity": "An affinity list that is empty, repeats a CPU, or names a CPU the deployment does not have.";
        BAD_KERNEL_ARGS = "bad-kernel-args": "Kernel arguments that are not one line of printable ASCII, or too long.";
        BAD_ENDPOINT_KIND = "bad-endpoint-kind": "An endpoint kind other than `endpoint` or `notification`.";
        DUPLICATE_ENDPOINT = "duplicate-endpoint": "Two endpoints of one component with the same name.";
        BAD_ENDPOINT_REFERENCE = "bad-endpoint-reference": "A connection whose `endpoint` is not written `COMPONENT.ENDPOINT`.";
        UNKNOWN_COMPONENT = "unknown-component": "A connection to a component the deployment does not have.";
        UNKNOWN_ENDPOINT = "unknown-endpoint": "A connection to an endpoint its component does not provide.";
        SELF_CONNECTION = "self-connection": "A component connecting to its own endpoint.";
        SLOT_RESERVED = "slot-reserved": "A capability in slots 0..=3, which the kernel fills (domain, thread, console, verdict).";
        SLOT_OUT_OF_RANGE = "slot-out-of-range": "A capability slot outside the 64-slot capability space.";
        SLOT_COLLISION = "slot-collision": "Two capabilities of one component in the same slot.";
        BAD_RIGHTS = "bad-rights": "A rights list that is empty, repeats a right, or names an unknown one.";
        RIGHTS_NOT_APPLICABLE = "rights-not-applicable": "A right that the capability's kind cannot carry (such as `signal` on an endpoint).";
        BAD_BADGE = "bad-badge": "A negative badge.";
        DUPLICATE_CONNECTION = "duplicate-connection": "The same connection (endpoint and badge) twice in one component.";
        BADGE_COLLISION = "badge-collision": "Two components connecting to one endpoint with the same non-zero badge, so its server cannot tell them apart.";
        DUPLICATE_VERDICT = "duplicate-verdict": "More than one component with `verdict = true`: a deployment ends with one verdict.";
        PRIORITY_INVERSION = "priority-inversion": "A component calling a component of lower priority.";
        CALL_CYCLE = "call-cycle": "Components calling each other in a cycle, which can deadlock.";
        UNKNOWN_MANAGER = "unknown-manager": "A partition whose `manager` is not a component of the deployment.";
        BAD_GUEST_IMAGE = "bad-guest-image": "A partition `image` that cannot name a crate under `test-guests/` (or names a component image).";
        GUEST_IMAGE_FILE = "guest-image-file": "A partition `image` file that does not exist, cannot be read, or that Tessera's guest loader cannot load into the partition's memory in its `format`.";
        NAME_CLASH = "name-clash": "A partition with the name of a component: both tag log lines, so one name would mean two things.";
        CONSOLE_INPUT = "console-input": "More than one component reading the console's input, or more than one partition whose COM1 its holder serves.";
        BAD_GUEST_FORMAT = "bad-guest-format": "A partition `format` other than `elf64` or `multiboot` (a Linux guest is a `linux` table).";
        LINUX_GUEST = "linux-guest": "A `linux` table beside `image`, `format`, `cmdline` or `modules`, or with an empty file name.";
        BAD_CMDLINE = "bad-cmdline": "A guest command line on an ELF64 guest, or a guest or module command line that is not one line of printable ASCII of at most 256 bytes.";
        BAD_GUEST_MODULE = "bad-guest-module": "Boot modules on an ELF64 guest (only the Multiboot loader passes modules), or more than 8 modules for one partition.";
        MODULE_FILE = "module-file": "A module `file` that is not a relative path inside the repository, does not exist, is not a regular file, or is empty.";
        BAD_GUEST_MEMORY = "bad-guest-memory": "Guest memory that is not a multiple of 2 MiB from 2 MiB to 1 GiB.";
        BAD_VPS = "bad-vps": "A VP count outside 1..=64.";
        VP_CPUS = "vp-cpus": "A partition `cpus` list whose length is not `vps`, or that names a CPU the deployment does not have.";
        BAD_EXPECT = "bad-expect": "A partition `expect` other than `pass`, `fail`, `triple-fault`, `memory-fault`, `crash` or `power-off`.";
        BAD_APIC = "bad-apic": "A partition `apic` other than `xapic` or `x2apic`.";
        HV_FEATURE = "hv-feature": "A partition `hv` list with a name Tessera does not know or implement, a bad value, or a feature without the one it needs; or `expect = \"crash\"` without `hv-crash`.";
        PARTITION_PRIORITY = "partition-priority": "A partition priority above its manager's or above a route target's.";
        BAD_EXIT_KIND = "bad-exit-kind": "A route `exit` that is not an intercept kind.";
        BAD_ROUTE = "bad-route": "A route without the range its exit kind needs (`ports`, `msrs`, `leaves`, `gpas`, `codes`, `vectors`), or with one it cannot take.";
        BAD_ROUTE_RANGE = "bad-route-range": "A route range that is malformed, backwards or too large (a call code above 0xFFFF), a GPA range that is not whole pages outside the partition's RAM, or exception vectors that cannot be intercepted.";
        BAD_STATE = "bad-state": "A route `state` register that is unknown or listed twice.";
        BAD_POSTED = "bad-posted": "A route `posted` port that is not one of the route's first 32, is listed twice, or is on a route that is not `io`.";
        ROUTE_TO_NOTIFICATION = "route-to-notification": "A route to a notification: exits are calls, so routes go to IPC endpoints.";
        HYPERCALL_WITHOUT_HV = "hypercall-without-hv": "A `hypercall` route of a partition without an `hv` key: without the Hv#1 interface it makes no hypercalls.";
        ROUTE_OVERLAP = "route-overlap": "Two routes of one partition that would catch the same exit.";
        MISSING_LIFECYCLE_ROUTE = "missing-lifecycle-route": "A partition without a lifecycle route: an enabled intercept (triple faults, unmapped accesses) would have no route.";
        TOO_MANY_PARTITIONS = "too-many-partitions": "More than 8 partitions for one manager.";
        MANAGER_MEMORY = "manager-memory": "A manager whose quota does not cover its partitions' memory and kernel objects.";
        ROUTE_SLOTS = "route-slots": "A manager without enough free capability slots for its route capabilities.";
        SYNIC_ROUTE = "synic-route": "A partition with `hv-synic` whose SynIC registers (MSRs 0x40000080-0x4000009f) no one MSR route sends to a component other than its manager: the `synic` component validates them.";
        INTERRUPT_LINE = "interrupt-line": "A partition `lines` entry with a pin outside 0..=23, a pin given twice, a holder that is no component or holds two lines of the partition, no `eoi` route (the interrupt controller the line leads to) or no `apic`, a partition badge past the line slots, or a holder whose line slot is taken or whose priority is above the controller's.";
        SYNIC_PORT = "synic-port": "A partition `ports` or `connections` entry the kernel could not make: a partition without `hv-synic`, more than 4 of either, an ID that is not 24 bits or is used twice, a type other than \"message\" or \"event\", a VP the partition does not have, a SINT past 15, event flags outside 0..2048 (or flags on a message port), a connection to a partition of another manager or to a port it does not declare, or a component's port (`owner`) whose owner is not one of the partition's route endpoints, that has a VP, SINT or base flag, or that another partition connects to.";
        PLAN_REJECTED = "plan-rejected": "A manifest that passed every check but whose boot plan the kernel's decoder refuses (a bug in this crate; please report it).";
    }
}

pub use check::CHECKS;
