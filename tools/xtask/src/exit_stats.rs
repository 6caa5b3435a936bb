//! `cargo xtask run --stats`: the kernel's exit statistics, as a table per
//! partition in the manner of `perf kvm stat`.
//!
//! With `exit-stats=on` on its command line the kernel logs, at the end of
//! the deployment, a block of lines (`kernel/src/vm/exit_stats.rs`,
//! `tessera_vcpu::exit_stats`):
//!
//! ```text
//! exit-stats: begin
//! exit-stats: partition=NAME exit=REASON outcome=OUTCOME count=N
//! exit-stats: partition=NAME injected=KIND count=N
//! exit-stats: partition=NAME route=KIND:FIRST-LAST forwarded=N
//! exit-stats: end
//! ```
//!
//! [`parse`] reads it back and [`table`] lays it out.
use std::collections::BTreeMap;

/// What the kernel command line needs for the block.
pub const KERNEL_OPTION: &str = "exit-stats=on";

/// The outcomes, in the kernel's order: the table's columns.
pub const OUTCOMES: [&str; 4] = ["kernel-fast", "kernel", "forwarded", "left"];

/// One partition's statistics.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PartitionStats {
    pub name: String,
    /// Exit reason → outcome → count, in the order the kernel logged them.
    pub exits: Vec<(String, BTreeMap<String, u64>)>,
    pub injected: Vec<(String, u64)>,
    /// Route (`KIND:FIRST-LAST`) → forwarded exits.
    pub routes: Vec<(String, u64)>,
}

impl PartitionStats {
    /// Exits of `reason` with `outcome` (0 if none were logged).
    pub fn count(&self, reason: &str, outcome: &str) -> u64 {
        self.exits
            .iter()
            .find(|(r, _)| r == reason)
            .and_then(|(_, outcomes)| outcomes.get(outcome).copied())
            .unwrap_or(0)
    }

    /// Every exit counted.
    pub fn total(&self) -> u64 {
        self.exits.iter().flat_map(|(_, o)| o.values()).sum()
    }
}

/// The `key=value` words after `exit-stats: `, or `None` for a line that
/// is not part of the block.
fn fields(line: &str) -> Option<BTreeMap<&str, &str>> {
    let rest = &line[line.find("exit-stats: ")? + "exit-stats: ".len()..];
    Some(
        rest.split_whitespace()
            .filter_map(|word| word.split_once('='))
            .collect(),
    )
}

/// The partitions of the block in `log`, in its order; an error if the
/// block is missing or unfinished (the kernel was not asked, or the run
/// did not reach its end).
pub fn parse(log: &str) -> Result<Vec<PartitionStats>, String> {
    let begin = log
        .lines()
        .position(|l| l.trim_end().ends_with("exit-stats: begin"))
        .ok_or("the log has no exit statistics (the kernel prints them with exit-stats=on, at the end of a deployment)")?;
    let mut partitions: Vec<PartitionStats> = Vec::new();
    for line in log.lines().skip(begin + 1) {
        if line.trim_end().ends_with("exit-stats: end") {
            return Ok(partitions);
        }
        let Some(fields) = fields(line) else {
            continue;
        };
        let (Some(name), Some(count)) = (
            fields.get("partition"),
            fields.get("count").or(fields.get("forwarded")),
        ) else {
            return Err(format!(
                "an exit statistics line without partition and count: {line:?}"
            ));
        };
        let count: u64 = count
            .parse()
            .map_err(|_| format!("a count that is not a number: {line:?}"))?;
        let index = match partitions.iter().position(|p| p.name == *name) {
            Some(index) => index,
            None => {
                partitions.push(PartitionStats {
                    name: name.to_string(),
                    ..Default::default()
                });
                partitions.len() - 1
            }
        };
        let partition = &mut partitions[index];
        if let (Some(exit), Some(outcome)) = (fields.get("exit"), fields.get("outcome")) {
            let row = match partition.exits.iter().position(|(r, _)| r == exit) {
                Some(row) => row,
                None => {
                    partition.exits.push((exit.to_string(), BTreeMap::new()));
                    partition.exits.len() - 1
                }
            };
            *partition.exits[row]
                .1
                .entry(outcome.to_string())
                .or_default() += count;
        } else if let Some(kind) = fields.get("injected") {
            partition.injected.push((kind.to_string(), count));
        } else if let Some(route) = fields.get("route") {
            partition.routes.push((route.to_string(), count));
        } else {
            return Err(format!(
                "an exit statistics line of no known kind: {line:?}"
            ));
        }
    }
    Err("the exit statistics block has no end line (the run was cut short)".into())
}

/// The table: per partition, a row per exit reason with its count by
/// outcome, its total and its share of the partition's exits; then the
/// injected events and the forwarded exits by route.
pub fn table(partitions: &[PartitionStats]) -> String {
    let mut out = String::new();
    if partitions.is_empty() {
        out.push_str("exit statistics: no partition ran\n");
    }
    for partition in partitions {
        let total = partition.total();
        out.push_str(&format!(
            "exit statistics: partition {} ({total} exits)\n",
            partition.name
        ));
        out.push_str(&format!("  {:<18}", "exit"));
        for outcome in OUTCOMES {
            out.push_str(&format!(" {outcome:>11}"));
        }
        out.push_str(&format!(" {:>11} {:>7}\n", "total", "share"));
        let mut rows: Vec<_> = partition.exits.iter().collect();
        rows.sort_by_key(|(_, outcomes)| std::cmp::Reverse(outcomes.values().sum::<u64>()));
        for (reason, outcomes) in rows {
            let row_total: u64 = outcomes.values().sum();
            out.push_str(&format!("  {reason:<18}"));
            for outcome in OUTCOMES {
                out.push_str(&format!(
                    " {:>11}",
                    outcomes.get(outcome).copied().unwrap_or(0)
                ));
            }
            let share = 100.0 * row_total as f64 / total.max(1) as f64;
            out.push_str(&format!(" {row_total:>11} {share:>6.1}%\n"));
        }
        if !partition.injected.is_empty() {
            let injected: Vec<_> = partition
                .injected
                .iter()
                .map(|(kind, count)| format!("{kind} {count}"))
                .collect();
            out.push_str(&format!("  injected: {}\n", injected.join(", ")));
        }
        for (route, count) in &partition.routes {
            out.push_str(&format!("  forwarded to route {route}: {count}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
[kernel cpu0 INFO] deployment verdict from partition-manager
[kernel cpu0 INFO] exit-stats: begin
[kernel cpu0 INFO] exit-stats: partition=bench exit=cpuid outcome=kernel-fast count=6000
[kernel cpu0 INFO] exit-stats: partition=bench exit=cpuid outcome=forwarded count=2000
[kernel cpu0 INFO] exit-stats: partition=bench exit=host-interrupt outcome=kernel count=12
[kernel cpu0 INFO] exit-stats: partition=bench exit=host-interrupt outcome=left count=4
[kernel cpu0 INFO] exit-stats: partition=bench injected=interrupt count=3
[kernel cpu0 INFO] exit-stats: partition=bench route=cpuid:0x4c000000-0x4c0000ff forwarded=2000
[kernel cpu1 INFO] exit-stats: partition=gone exit=hlt outcome=left count=1
[kernel cpu0 INFO] exit-stats: end
[kernel cpu0 INFO] kernel audit: ok
";

    #[test]
    fn the_block_is_read_per_partition_reason_and_outcome() {
        let partitions = parse(LOG).unwrap();
        assert_eq!(partitions.len(), 2);
        let bench = &partitions[0];
        assert_eq!(bench.name, "bench");
        assert_eq!(bench.count("cpuid", "kernel-fast"), 6000);
        assert_eq!(bench.count("cpuid", "forwarded"), 2000);
        assert_eq!(bench.count("cpuid", "left"), 0);
        assert_eq!(bench.count("host-interrupt", "left"), 4);
        assert_eq!(bench.total(), 8016);
        assert_eq!(bench.injected, [("interrupt".to_string(), 3)]);
        assert_eq!(
            bench.routes,
            [("cpuid:0x4c000000-0x4c0000ff".to_string(), 2000)]
        );
        assert_eq!(partitions[1].count("hlt", "left"), 1);
    }

    #[test]
    fn the_table_has_a_row_per_reason_busiest_first_with_its_share() {
        let table = table(&parse(LOG).unwrap());
        assert!(
            table.starts_with("exit statistics: partition bench (8016 exits)\n"),
            "{table}"
        );
        assert!(
            table.contains(
                "  cpuid                     6000           0        2000           0        8000   99.8%\n"
            ),
            "{table}"
        );
        let cpuid = table.find("  cpuid").unwrap();
        let interrupts = table.find("  host-interrupt").unwrap();
        assert!(cpuid < interrupts, "{table}");
        assert!(table.contains("  injected: interrupt 3\n"), "{table}");
        assert!(
            table.contains("  forwarded to route cpuid:0x4c000000-0x4c0000ff: 2000\n"),
            "{table}"
        );
        assert!(
            table.contains("exit statistics: partition gone (1 exits)\n"),
            "{table}"
        );
    }

    #[test]
    fn a_missing_or_cut_or_garbled_block_is_an_error() {
        assert!(parse("[kernel cpu0 INFO] tessera: verdict pass\n").is_err());
        let cut = LOG.replace("[kernel cpu0 INFO] exit-stats: end\n", "");
        assert!(parse(&cut).unwrap_err().contains("no end line"));
        let garbled = LOG.replace("count=6000", "count=many");
        assert!(parse(&garbled).unwrap_err().contains("not a number"));
        let odd = LOG.replace("injected=interrupt", "mystery=interrupt");
        assert!(parse(&odd).unwrap_err().contains("no known kind"));
        // Lines of the block's words outside it are not read.
        let before =
            "[x] exit-stats: partition=x exit=cpuid outcome=kernel count=1\n".to_string() + LOG;
        assert_eq!(parse(&before).unwrap(), parse(LOG).unwrap());
    }

    #[test]
    fn no_partition_is_said_so() {
        let log = "exit-stats: begin\nexit-stats: end\n";
        assert_eq!(parse(log).unwrap(), []);
        assert_eq!(table(&[]), "exit statistics: no partition ran\n");
    }
}
