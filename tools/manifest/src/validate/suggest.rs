//! "Did you mean" suggestions for misspelt names.

/// The candidate closest to `wanted` (by edit distance, at most 2), if any.
pub(super) fn suggest<'a>(
    wanted: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .map(|c| (distance(wanted, c), c))
        .filter(|&(d, _)| d <= 2 && d < wanted.len().max(1))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Levenshtein distance between two short names.
pub(super) fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance() {
        assert_eq!(distance("echo", "echo"), 0);
        assert_eq!(distance("ecoh", "echo"), 2);
        assert_eq!(distance("eco", "echo"), 1);
        assert_eq!(distance("", "ab"), 2);
        assert_eq!(
            suggest("ehco", ["echo", "client"].into_iter()),
            Some("echo")
        );
        assert_eq!(suggest("zzz", ["echo"].into_iter()), None);
    }
}
