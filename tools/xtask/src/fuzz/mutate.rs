//! Structure-aware mutation of TOML manifests: changes that keep a
//! document TOML (so the manifest compiler's checks run, not only its
//! parser), drawn from a [`Draw`], with values that matter to the format
//! (names other entries use, sizes, ranges, `hv` names, exits, rights,
//! registers, edge integers).

use tessera_fuzz::Draw;
use toml::{Table, Value};

/// One step of a path into a document.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// The words the format uses, for keys and for string values.
const KEYS: &[&str] = &[
    "deployment",
    "component",
    "partition",
    "name",
    "component-memory",
    "cpus",
    "kernel-args",
    "image",
    "memory",
    "priority",
    "threads",
    "console",
    "verdict",
    "provides",
    "connects",
    "endpoint",
    "slot",
    "rights",
    "badge",
    "kind",
    "manager",
    "format",
    "cmdline",
    "vps",
    "expect",
    "hv",
    "modules",
    "file",
    "routes",
    "exit",
    "to",
    "ports",
    "msrs",
    "leaves",
    "gpas",
    "codes",
    "vectors",
    "state",
];

const WORDS: &[&str] = &[
    "lifecycle",
    "io",
    "msr",
    "cpuid",
    "memory",
    "hypercall",
    "exception",
    "hlt",
    "call",
    "grant",
    "signal",
    "endpoint",
    "notification",
    "elf64",
    "multiboot",
    "pass",
    "fail",
    "triple-fault",
    "memory-fault",
    "crash",
    "rax",
    "rcx",
    "rdx",
    "rbx",
    "rsp",
    "rbp",
    "rsi",
    "rdi",
    "r8",
    "r15",
    "rip",
    "hv-relaxed",
    "hv-vpindex",
    "hv-time",
    "hv-crash",
    "hv-reset",
    "hv-runtime",
    "hv-tlbflush",
    "hv-tlbflush-ext",
    "hv-xmm-input",
    "hv-synic",
    "hv-stimer",
    "hv-spinlocks=0x1fff",
    "hv-spinlocks=",
    "hv-spinlocks=0xffffffff",
    "hv-spinlocks=-1",
    "hv-vendor-id=Microsoft Hv",
    "hv-vendor-id=",
    "hv-version-id-build=99999999999",
    "hv-version-id-major=0x10000",
    "0 B",
    "1 B",
    "4 KiB",
    "64 KiB",
    "1 MiB",
    "2 MiB",
    "16 MiB",
    "1 GiB",
    "4 GiB",
    "64 GiB",
    "1.5 MiB",
    "-4 KiB",
    "4KiB",
    "4 kib",
    "4 MB",
    "18446744073709551615 B",
    "4_096 B",
    "0x1000",
    "0x0-0xffff",
    "0xffff-0x0",
    "0x3f8-0x3ff",
    "0xf4",
    "0x10000",
    "0xffffffff",
    "0x100000000",
    "0xfed00000-0xfed00fff",
    "0xfed00000-0xfed00ffe",
    "0x8000000000-0x8000000fff",
    "0x-",
    "-",
    "1-",
    "-1",
    "0x4c000000-0x4c0000ff",
    "0x0008",
    "0x8001-0xffff",
    "",
    " ",
    "a.b",
    "a.",
    ".b",
    "test-guests/multiboot/module.txt",
    "../Cargo.toml",
    "/etc/passwd",
    "boot",
    "log=debug",
    "log=trace\n",
    "é",
    "\u{0}",
    "component.x",
    "x-",
    "-x",
    "9x",
];

/// An integer a check can get wrong.
fn integer(draw: &mut Draw) -> i64 {
    match draw.below(3) {
        0 => draw.between(0, 80) as i64 - 8,
        1 => draw.pick(&[
            i64::MIN,
            i64::MAX,
            -1,
            255,
            256,
            4096,
            65535,
            65536,
            0xFFFF_FFFF,
            1 << 32,
            1 << 40,
        ]),
        _ => draw.edgy() as i64,
    }
}

/// A string: a word of the format, a name or reference the document
/// already uses, or something odd.
fn string(draw: &mut Draw, names: &[String]) -> String {
    match draw.below(5) {
        0 | 1 => draw.pick(WORDS).to_owned(),
        2 if !names.is_empty() => names[draw.index(names.len())].clone(),
        3 => {
            let length = draw.between(0, 40) as usize;
            (0..length)
                .map(|_| char::from(draw.between(0x20, 0x7E) as u8))
                .collect()
        }
        _ => {
            let first = draw.pick(KEYS);
            let second = if names.is_empty() {
                draw.pick(WORDS).to_owned()
            } else {
                names[draw.index(names.len())].clone()
            };
            format!("{first}.{second}")
        }
    }
}

/// A fresh value of a random type.
fn value(draw: &mut Draw, names: &[String], depth: u32) -> Value {
    match draw.below(if depth > 2 { 4 } else { 6 }) {
        0 => Value::Integer(integer(draw)),
        1 | 2 => Value::String(string(draw, names)),
        3 => Value::Boolean(draw.chance(1, 2)),
        4 => Value::Array(
            (0..draw.below(5))
                .map(|_| value(draw, names, depth + 1))
                .collect(),
        ),
        _ => {
            let mut table = Table::new();
            for _ in 0..draw.below(4) {
                table.insert(draw.pick(KEYS).to_owned(), value(draw, names, depth + 1));
            }
            Value::Table(table)
        }
    }
}

/// Every path to a value in `table`, depth first.
fn paths(table: &Table) -> Vec<Vec<Step>> {
    fn walk(value: &Value, here: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
        out.push(here.clone());
        match value {
            Value::Table(table) => {
                for (key, inner) in table {
                    here.push(Step::Key(key.clone()));
                    walk(inner, here, out);
                    here.pop();
                }
            }
            Value::Array(items) => {
                for (index, inner) in items.iter().enumerate() {
                    here.push(Step::Index(index));
                    walk(inner, here, out);
                    here.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (key, inner) in table {
        walk(inner, &mut vec![Step::Key(key.clone())], &mut out);
    }
    out
}

/// The strings of a document and its table keys: names and references
/// that other entries may be made to use.
pub fn names(table: &Table) -> Vec<String> {
    let mut out = Vec::new();
    for path in paths(table) {
        if let Some(Step::Key(key)) = path.last() {
            out.push(key.clone());
        }
        if let Some(Value::String(text)) = get(table, &path) {
            out.push(text.clone());
        }
    }
    out.sort();
    out.dedup();
    out
}

fn get<'a>(table: &'a Table, path: &[Step]) -> Option<&'a Value> {
    let (Step::Key(first), rest) = path.split_first()? else {
        return None;
    };
    rest.iter()
        .try_fold(table.get(first)?, |value, step| match (step, value) {
            (Step::Key(key), Value::Table(inner)) => inner.get(key),
            (Step::Index(index), Value::Array(items)) => items.get(*index),
            _ => None,
        })
}

fn get_mut<'a>(table: &'a mut Table, path: &[Step]) -> Option<&'a mut Value> {
    let (Step::Key(first), rest) = path.split_first()? else {
        return None;
    };
    rest.iter()
        .try_fold(table.get_mut(first)?, |value, step| match (step, value) {
            (Step::Key(key), Value::Table(inner)) => inner.get_mut(key),
            (Step::Index(index), Value::Array(items)) => items.get_mut(*index),
            _ => None,
        })
}

/// Removes the value at `path`.
fn remove(table: &mut Table, path: &[Step]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    match (last, parent.is_empty()) {
        (Step::Key(key), true) => {
            table.remove(key);
        }
        (step, false) => match (step, get_mut(table, parent)) {
            (Step::Key(key), Some(Value::Table(inner))) => {
                inner.remove(key);
            }
            (Step::Index(index), Some(Value::Array(items))) if *index < items.len() => {
                items.remove(*index);
            }
            _ => {}
        },
        _ => {}
    }
}

/// Applies one random structural change to `table`.
pub fn mutate(table: &mut Table, draw: &mut Draw, names: &[String]) {
    let all = paths(table);
    if all.is_empty() {
        table.insert(draw.pick(KEYS).to_owned(), value(draw, names, 0));
        return;
    }
    let path = all[draw.index(all.len())].clone();
    match draw.below(8) {
        // A fresh value of any type.
        0 | 1 => {
            let fresh = value(draw, names, 1);
            if let Some(slot) = get_mut(table, &path) {
                *slot = fresh;
            }
        }
        // The same type, another value.
        2 | 3 => {
            let fresh = match get(table, &path) {
                Some(Value::Integer(_)) => Value::Integer(integer(draw)),
                Some(Value::String(_)) => Value::String(string(draw, names)),
                Some(Value::Boolean(b)) => Value::Boolean(!b),
                _ => value(draw, names, 1),
            };
            if let Some(slot) = get_mut(table, &path) {
                *slot = fresh;
            }
        }
        4 => remove(table, &path),
        // Another entry's value here.
        5 => {
            let other = all[draw.index(all.len())].clone();
            if let Some(copy) = get(table, &other).cloned()
                && let Some(slot) = get_mut(table, &path)
            {
                *slot = copy;
            }
        }
        // A copy of an array element or a table entry, under a new key.
        6 => {
            let copy = get(table, &path).cloned();
            let (Some(copy), Some((last, parent))) = (copy, path.split_last()) else {
                return;
            };
            let key = string(draw, names);
            match (last, get_mut(table, parent)) {
                (Step::Index(_), Some(Value::Array(items))) => items.push(copy),
                (Step::Key(_), Some(Value::Table(inner))) => {
                    inner.insert(key, copy);
                }
                (Step::Key(_), None) if parent.is_empty() => {
                    table.insert(key, copy);
                }
                _ => {}
            }
        }
        // A key of the format, added to a table.
        _ => {
            let key = draw.pick(KEYS).to_owned();
            let fresh = value(draw, names, 1);
            match get_mut(table, &path) {
                Some(Value::Table(inner)) => {
                    inner.insert(key, fresh);
                }
                Some(Value::Array(items)) => items.push(fresh),
                _ => {
                    table.insert(key, fresh);
                }
            }
        }
    }
}

/// Byte-level damage to a text: flipped, inserted, deleted bytes, or a
/// cut. The result is made valid UTF-8 (lossily), as a file read as text
/// would be.
pub fn damage(text: &str, draw: &mut Draw) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for _ in 0..draw.between(1, 4) {
        let at = draw.index(bytes.len() + 1);
        match draw.below(4) {
            0 if at < bytes.len() => bytes[at] ^= 1 << draw.below(8),
            1 => {
                let byte = draw.pick(b"[]{}=\"'.,#\n\\0x-1 \xff");
                bytes.insert(at, byte);
            }
            2 if at < bytes.len() => {
                bytes.remove(at);
            }
            _ => bytes.truncate(at),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
[deployment]
component-memory = "8 MiB"
cpus = 2

[component.echo]
image = "echo-server"
memory = "512 KiB"
priority = 10
provides = ["echo"]
"#;

    #[test]
    fn mutations_keep_a_document_and_replay_from_the_draw() {
        let base: Table = toml::from_str(SAMPLE).unwrap();
        let names = names(&base);
        assert!(names.contains(&"echo-server".to_owned()));
        assert!(names.contains(&"echo".to_owned()));
        let run = |index| {
            let mut table = base.clone();
            let mut draw = Draw::for_operation(42, index);
            for _ in 0..6 {
                mutate(&mut table, &mut draw, &names);
            }
            toml::to_string(&table).unwrap_or_default()
        };
        let mut changed = 0;
        for index in 0..200 {
            assert_eq!(run(index), run(index), "operation {index} replays");
            changed += usize::from(run(index) != toml::to_string(&base).unwrap());
        }
        assert!(changed > 150, "most operations change something: {changed}");
    }

    #[test]
    fn removing_by_path_reaches_nested_entries() {
        let mut table: Table = toml::from_str(SAMPLE).unwrap();
        remove(
            &mut table,
            &[
                Step::Key("component".into()),
                Step::Key("echo".into()),
                Step::Key("provides".into()),
                Step::Index(0),
            ],
        );
        assert_eq!(
            table["component"]["echo"]["provides"],
            Value::Array(Vec::new())
        );
        remove(&mut table, &[Step::Key("deployment".into())]);
        assert!(!table.contains_key("deployment"));
    }

    #[test]
    fn damage_changes_the_text() {
        let mut draw = Draw::for_operation(1, 1);
        let damaged = (0..20)
            .filter(|_| damage(SAMPLE, &mut draw) != SAMPLE)
            .count();
        assert!(damaged >= 18);
    }
}
