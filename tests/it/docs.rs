//! The documentation's lists that must match the code: `docs/condition-keys.md` names every
//! condition key the request context sets, and none of the keys it says are never set.

use lattice_authz::lattice::KNOWN_KEYS;

/// The backticked key names in the table rows of the section headed `heading` (up to the next
/// `## `), lower-cased and without their `/PARAM` part; or, for the never-set section, every
/// backticked name of its paragraphs.
fn keys_in_section(doc: &str, heading: &str) -> Vec<String> {
    let start = doc
        .find(heading)
        .unwrap_or_else(|| panic!("no `{heading}` in the doc"));
    let section = &doc[start..];
    // The heading line itself may name a namespace: start below it.
    let section = &section[section.find('\n').unwrap_or(section.len())..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let mut keys = Vec::new();
    for line in section.lines() {
        let cell = if line.starts_with('|') {
            line.split('|').nth(1).unwrap_or_default()
        } else {
            line
        };
        for (i, piece) in cell.split('`').enumerate() {
            if i % 2 == 1 && piece.contains(':') {
                let base = piece.split('/').next().unwrap_or_default();
                keys.push(base.to_ascii_lowercase());
            }
        }
    }
    keys
}

#[test]
fn condition_keys_doc_lists_exactly_the_keys_the_context_sets() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/condition-keys.md"
    ))
    .unwrap();
    let mut set = keys_in_section(&doc, "## Lattice's own keys");
    set.extend(keys_in_section(&doc, "## Global keys"));
    let never = keys_in_section(&doc, "## Keys it never sets");
    assert!(!never.is_empty());
    let mut documented = set.clone();
    documented.sort();
    documented.dedup();
    let mut known: Vec<String> = KNOWN_KEYS.iter().map(|k| (*k).to_owned()).collect();
    known.sort();
    assert_eq!(documented, known, "the set keys in docs/condition-keys.md");
    for key in &never {
        assert!(
            !known.contains(key),
            "`{key}` is said never to be set, but it is"
        );
    }
}

/// Each metric family of the table under `## Metrics` in `docs/observability.md`, with its type
/// (the first word of the type cell) and its label names (the backticked names of the labels
/// cell), sorted.
fn documented_metrics(doc: &str) -> Vec<(String, String, Vec<String>)> {
    let start = doc.find("## Metrics").expect("no `## Metrics` in the doc");
    let section = &doc[start..];
    let section = &section[..section[2..].find("\n## ").map_or(section.len(), |i| i + 2)];
    let backticked = |cell: &str| -> Vec<String> {
        cell.split('`')
            .enumerate()
            .filter(|(i, _)| i % 2 == 1)
            .map(|(_, piece)| piece.to_owned())
            .collect()
    };
    let mut metrics = Vec::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').collect();
        let name = backticked(cells[1]).remove(0);
        let kind = cells[2].split_whitespace().next().unwrap().to_owned();
        let mut labels = backticked(cells[3]);
        labels.sort();
        metrics.push((name, kind, labels));
    }
    metrics.sort();
    metrics
}

/// Each family of a Prometheus text exposition, with its type and the label names its samples
/// carry (without a histogram's `le`), sorted.
fn scraped_metrics(text: &str) -> Vec<(String, String, Vec<String>)> {
    let mut families: Vec<(String, String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        if let Some(typed) = line.strip_prefix("# TYPE ") {
            let (name, kind) = typed.split_once(' ').unwrap();
            families.push((name.to_owned(), kind.to_owned(), Vec::new()));
        } else if !line.starts_with('#') && !line.is_empty() {
            let (sample, labels) = match line.split_once('{') {
                Some((sample, rest)) => (sample, rest.split_once('}').unwrap().0),
                None => (line.split_once(' ').unwrap().0, ""),
            };
            let family = families
                .iter_mut()
                .rfind(|(name, _, _)| sample.starts_with(name.as_str()))
                .unwrap_or_else(|| panic!("`{sample}` has no TYPE line before it"));
            for pair in labels.split(',').filter(|p| !p.is_empty()) {
                let label = pair.split_once('=').unwrap().0.to_owned();
                if label != "le" && !family.2.contains(&label) {
                    family.2.push(label);
                }
            }
        }
    }
    for family in &mut families {
        family.2.sort();
    }
    families.sort();
    families
}

#[test]
fn observability_doc_lists_exactly_the_metrics_a_scrape_exports() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/observability.md"
    ))
    .unwrap();
    let metrics = lattice_authz::app::new_metrics("test");
    // As `lattice-authz sts` registers them: the label names are what the table gives.
    metrics.register_sts(&["AssumeRole"], &["ok"]);
    let scrape = metrics.render();
    let scraped = scraped_metrics(&scrape);
    assert!(
        scraped
            .iter()
            .any(|(name, _, _)| name == "process_open_fds"),
        "{scrape}"
    );
    assert_eq!(documented_metrics(&doc), scraped, "{scrape}");
}
