//! A world's load is bounded: more nodes than `max_world_nodes` or more bytes than
//! `max_world_bytes` are refused before the world is built, quickly and with one exact error
//! naming the limit and its setting, and a world of many invalid items lists a bounded number
//! of problems.

use std::time::{Duration, Instant};

use lattice_authz::config::{DEFAULT_MAX_WORLD_NODES, Settings};
use lattice_authz::store::{LoadError, Reload, Store};

use crate::support::test_time;

/// Far more than the refusals take (a few hundred milliseconds in a debug build); before the
/// node limit, the world of the first test took seconds and a problem per item.
const QUICKLY: Duration = Duration::from_secs(10);

/// `count` accounts, each a mapping of one key: 5 + 3 × `count` nodes in either syntax.
fn accounts(count: usize, json: bool) -> String {
    let ids = (0..count).map(|i| format!("{:012}", 100_000_000_000 + i));
    if json {
        let items: Vec<String> = ids.map(|id| format!("{{\"id\":\"{id}\"}}")).collect();
        format!(
            "{{\"region\":\"ap-northeast-1\",\"accounts\":[{}]}}",
            items.join(",")
        )
    } else {
        let items: String = ids.map(|id| format!("- {{id: '{id}'}}\n")).collect();
        format!("region: ap-northeast-1\naccounts:\n{items}")
    }
}

fn node_limit(limit: u64) -> String {
    format!(
        "the world has more than {limit} nodes (mappings, sequences and scalars, keys included, in all its files); `max_world_nodes` raises the limit"
    )
}

/// The errors of a failed load: (file, pointer, message) each.
fn errors(error: &LoadError) -> Vec<(Option<String>, String, String)> {
    error
        .errors()
        .map(|p| {
            (
                p.file.clone(),
                p.problem.pointer.clone(),
                p.problem.message.clone(),
            )
        })
        .collect()
}

#[test]
fn a_world_past_the_default_node_limit_is_refused_before_it_is_built() {
    let store = Store::new(Settings::default());
    let count = usize::try_from(DEFAULT_MAX_WORLD_NODES).unwrap() / 3;
    for json in [true, false] {
        let text = accounts(count, json);
        let started = Instant::now();
        let error = store
            .build_from_text("world", &text, test_time())
            .unwrap_err();
        let took = started.elapsed();
        assert_eq!(
            errors(&error),
            [(
                Some("world".to_owned()),
                String::new(),
                node_limit(DEFAULT_MAX_WORLD_NODES)
            )],
            "json: {json}"
        );
        assert!(took < QUICKLY, "json: {json}: {took:?}");
    }
}

#[test]
fn the_node_limit_counts_every_node_of_every_file() {
    // 5 + 3 × 100 = 305 nodes.
    for json in [true, false] {
        let text = accounts(100, json);
        let store = |limit| {
            Store::new(Settings {
                max_world_nodes: limit,
                ..Settings::default()
            })
        };
        let at = store(305).build_from_text("w", &text, test_time());
        assert!(
            at.as_ref()
                .is_err_and(|e| errors(e).iter().all(|(_, _, m)| *m != node_limit(305)))
                || at.is_ok(),
            "json: {json}: {at:?}"
        );
        let past = store(304)
            .build_from_text("w", &text, test_time())
            .unwrap_err();
        assert_eq!(
            errors(&past),
            [(Some("w".to_owned()), String::new(), node_limit(304))],
            "json: {json}"
        );
    }

    // Across the files of a directory: 305 + 305 nodes against a limit of 609.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), accounts(100, false)).unwrap();
    let second = accounts(100, true).replace("\"region\":\"ap-northeast-1\",", "");
    // Without `region`, the second file has two nodes fewer: 303.
    std::fs::write(dir.path().join("b.json"), second).unwrap();
    for (limit, refused) in [(607, true), (608, false)] {
        let store = Store::new(Settings {
            world: Some(dir.path().to_path_buf()),
            max_world_nodes: limit,
            ..Settings::default()
        });
        let Reload::Failed(error) = store.poll(test_time()) else {
            panic!("the accounts' ids are repeated: the world never loads");
        };
        let b = dir.path().join("b.json").display().to_string();
        let expected = [(Some(b), String::new(), node_limit(limit))];
        assert_eq!(errors(&error) == expected, refused, "{limit}: {error}");
    }
}

/// YAML aliases build copies of what they name: the copies count too.
#[test]
fn alias_copies_count_as_nodes() {
    let items = vec!["0"; 200].join(", ");
    let text = format!("region: ap-northeast-1\nx: &a [{items}]\ny: [*a, *a, *a, *a, *a]\n");
    // Read: the root, its 3 keys, region's value, x's list and its 200 items, y's list (207);
    // built besides: y's five copies of x's list, 201 nodes each (1,212 in all).
    let store = |limit| {
        Store::new(Settings {
            max_world_nodes: limit,
            ..Settings::default()
        })
    };
    let error = store(1_211)
        .build_from_text("w", &text, test_time())
        .unwrap_err();
    assert_eq!(
        errors(&error),
        [(Some("w".to_owned()), String::new(), node_limit(1_211))]
    );
    // Within the limit, the world is read, and refused for the keys it does not know.
    let error = store(1_212)
        .build_from_text("w", &text, test_time())
        .unwrap_err();
    assert!(
        errors(&error)
            .iter()
            .all(|(_, _, m)| m.starts_with("unknown field `x`")),
        "{error}"
    );
}

#[test]
fn a_world_past_its_byte_limit_is_refused_from_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let a = accounts(100, false);
    std::fs::write(dir.path().join("a.yaml"), &a).unwrap();
    std::fs::write(dir.path().join("b.yaml"), &a).unwrap();
    let len = a.len() as u64;
    let store = Store::new(Settings {
        world: Some(dir.path().to_path_buf()),
        max_world_bytes: 2 * len - 1,
        ..Settings::default()
    });
    let Reload::Failed(error) = store.poll(test_time()) else {
        panic!("loaded");
    };
    let b = dir.path().join("b.yaml").display().to_string();
    assert_eq!(
        errors(&error),
        [(
            Some(b),
            String::new(),
            format!(
                "the world is over its {}-byte limit: this file is {len} bytes, with {} left; `max_world_bytes` raises the limit",
                2 * len - 1,
                len - 1
            )
        )]
    );

    let store = Store::new(Settings {
        max_world_bytes: len - 1,
        ..Settings::default()
    });
    let error = store.build_from_text("w", &a, test_time()).unwrap_err();
    assert_eq!(
        errors(&error),
        [(
            Some("w".to_owned()),
            String::new(),
            format!(
                "the world is over its {}-byte limit: this file is {len} bytes, with {} left; `max_world_bytes` raises the limit",
                len - 1,
                len - 1
            )
        )]
    );
}

/// A world of many invalid items lists the first thousand problems and counts the others.
#[test]
fn problems_past_a_thousand_are_counted_not_listed() {
    let items: String = (0..1_500).map(|_| "- {id: ''}\n").collect();
    let text = format!("region: ap-northeast-1\naccounts:\n{items}");
    let error = Store::new(Settings::default())
        .build_from_text("w", &text, test_time())
        .unwrap_err();
    assert_eq!(error.problems.len(), 1_001);
    let first = &error.problems[0];
    assert_eq!(
        (first.file.as_deref(), first.problem.pointer.as_str()),
        (Some("w"), "/accounts/0/id")
    );
    let last = &error.problems[1_000];
    assert_eq!(
        (last.file.as_deref(), last.problem.pointer.as_str()),
        (None, "")
    );
    assert_eq!(
        last.problem.message,
        "500 more problems, not listed (only the first 1000 are)"
    );
    assert_eq!(
        last.problem.severity,
        lattice_authz::policy::Severity::Error
    );
}
