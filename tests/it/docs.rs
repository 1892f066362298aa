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
