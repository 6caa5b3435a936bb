//! Call cycles between components.

use std::collections::VecDeque;

use tessera_boot_plan::GrantKind;

use super::Info;
use super::partitions::RouteCall;
use crate::error::Report;
use crate::error::check::*;

/// Calls between components must not form a cycle. A manager's route
/// capabilities (`route_calls`) count as calls: it calls the route targets
/// through them.
pub(super) fn check_cycles(infos: &[Info<'_>], route_calls: &[RouteCall], report: &mut Report<'_>) {
    let n = infos.len();
    let index = |name: &str| infos.iter().position(|i| i.name == name);
    // edges[c]: (server, connects index) for each call connection of c,
    // and (server, ROUTE_BASE + r) for route call r of a manager c.
    const ROUTE_BASE: usize = usize::MAX / 2;
    let mut edges: Vec<Vec<(usize, usize)>> = infos
        .iter()
        .map(|info| {
            info.connections
                .iter()
                .enumerate()
                .filter_map(|(j, c)| {
                    let c = c.as_ref()?;
                    (c.kind == GrantKind::Call)
                        .then(|| index(&c.server).map(|s| (s, j)))
                        .flatten()
                })
                .collect()
        })
        .collect();
    for (r, call) in route_calls.iter().enumerate() {
        if let Some(from) = edges.get_mut(call.manager) {
            from.push((call.server, ROUTE_BASE + r));
        }
    }
    let reach = |from: usize| {
        let mut seen = vec![false; n];
        let mut queue = VecDeque::from([from]);
        while let Some(c) = queue.pop_front() {
            for &(s, _) in &edges[c] {
                if !seen[s] {
                    seen[s] = true;
                    queue.push_back(s);
                }
            }
        }
        seen
    };
    let reachable: Vec<Vec<bool>> = (0..n).map(reach).collect();
    let mut reported = vec![false; n];
    for start in 0..n {
        if reported[start] || !reachable[start][start] {
            continue;
        }
        // The strongly connected component of `start`.
        let scc: Vec<bool> = (0..n)
            .map(|c| reachable[start][c] && reachable[c][start])
            .collect();
        for (c, inside) in scc.iter().enumerate() {
            reported[c] |= *inside;
        }
        // Shortest cycle through `start`, by breadth-first search within it.
        let mut previous: Vec<Option<(usize, usize)>> = vec![None; n];
        let mut queue = VecDeque::from([start]);
        'search: while let Some(c) = queue.pop_front() {
            for &(s, j) in &edges[c] {
                if !scc[s] || previous[s].is_some() {
                    continue;
                }
                previous[s] = Some((c, j));
                if s == start {
                    break 'search;
                }
                queue.push_back(s);
            }
        }
        let mut path = vec![start];
        let mut first_edge = 0;
        let mut at = start;
        while let Some((p, j)) = previous[at] {
            path.push(p);
            first_edge = j;
            at = p;
            if at == start || path.len() > n + 1 {
                break;
            }
        }
        path.reverse();
        let names: Vec<&str> = path.iter().map(|&c| infos[c].name).collect();
        let info = &infos[start];
        let (entry, at) = match first_edge.checked_sub(ROUTE_BASE) {
            Some(r) => (route_calls[r].entry.clone(), route_calls[r].span.clone()),
            None => (
                format!("component.{}.connects[{first_edge}]", info.name),
                info.raw
                    .connects
                    .get(first_edge)
                    .map_or(Some(info.span.clone()), |c| Some(c.span())),
            ),
        };
        report.push(
            CALL_CYCLE,
            entry,
            at,
            format!(
                "calls form a cycle: {}; components blocked in calls around it can wait on each other forever",
                names.join(" → ")
            ),
            "make calls go one way: remove one of these connections (a partition manager calls \
             its partitions' route targets), turn one into a notification, or move the shared \
             work into a component that both call",
        );
    }
}
