//! Validation corpus: `tests/data/policy/validation.json` has `invalid` documents (each with
//! the errors it must produce: pointer, code, words of the message, optional hint words and
//! exact count) and `valid` documents (with the warnings they must produce). A document is a
//! JSON value or, where the text itself matters (duplicate keys, bad JSON), a string.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "fixture loader: a malformed fixture must fail the test loudly"
)]

use lattice_authz::policy::{Diagnostic, ParseOptions, Policy, Severity};
use serde_json::Value as J;

fn options(case: &J) -> ParseOptions {
    let mut o = ParseOptions::new(super::policy_vectors::kind(case.get("kind")));
    if let Some(b) = case.get("bare_account_principal").and_then(J::as_bool) {
        o.bare_account_principal = b;
    }
    if let Some(n) = case.get("max_bytes").and_then(J::as_u64) {
        o.max_bytes = usize::try_from(n).unwrap();
    }
    o
}

fn text(case: &J) -> String {
    match &case["document"] {
        J::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other).unwrap(),
    }
}

/// Checks that some diagnostic of `severity` matches `want` (pointer, code, message words).
fn expect(
    name: &str,
    got: &[Diagnostic],
    severity: Severity,
    want: &J,
    failures: &mut Vec<String>,
) {
    let hit = got.iter().any(|d| {
        d.severity == severity
            && want
                .get("pointer")
                .is_none_or(|p| p.as_str() == Some(d.pointer.as_str()))
            && want.get("code").is_none_or(|c| c.as_str() == Some(d.code))
            && want
                .get("statement")
                .is_none_or(|s| s.as_u64() == d.statement.map(|i| i as u64))
            && d.message.contains(want["message"].as_str().unwrap())
            && want.get("hint").is_none_or(|h| {
                d.hint
                    .as_deref()
                    .is_some_and(|dh| dh.contains(h.as_str().unwrap()))
            })
    });
    if !hit {
        failures.push(format!(
            "{name}: no {severity:?} like {want}; got:\n{}",
            render(got)
        ));
    }
}

fn render(got: &[Diagnostic]) -> String {
    got.iter()
        .map(|d| format!("  {:?} {} {d} hint={:?}\n", d.severity, d.code, d.hint))
        .collect()
}

#[test]
fn validation_corpus() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/policy/validation.json"
    );
    let corpus: J = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let invalid = corpus["invalid"].as_array().unwrap();
    let valid = corpus["valid"].as_array().unwrap();
    assert!(invalid.len() >= 40 && valid.len() >= 20, "corpus too small");
    let mut failures = Vec::new();
    for case in invalid {
        let name = case["name"].as_str().unwrap();
        let Err(errors) = Policy::compile(&text(case), &options(case)) else {
            failures.push(format!("{name}: accepted, should be rejected"));
            continue;
        };
        for want in case["errors"].as_array().unwrap() {
            expect(name, &errors, Severity::Error, want, &mut failures);
        }
        if let Some(n) = case.get("count").and_then(J::as_u64) {
            let count = errors.iter().filter(|d| d.is_error()).count() as u64;
            if count != n {
                failures.push(format!(
                    "{name}: {count} errors, want {n}\n{}",
                    render(&errors)
                ));
            }
        }
    }
    for case in valid {
        let name = case["name"].as_str().unwrap();
        let compiled = match Policy::compile(&text(case), &options(case)) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{name}: rejected:\n{}", render(&e)));
                continue;
            }
        };
        for want in case
            .get("warnings")
            .and_then(J::as_array)
            .into_iter()
            .flatten()
        {
            expect(
                name,
                &compiled.warnings,
                Severity::Warning,
                want,
                &mut failures,
            );
        }
        if case.get("no_warnings").and_then(J::as_bool) == Some(true)
            && !compiled.warnings.is_empty()
        {
            failures.push(format!(
                "{name}: unexpected warnings\n{}",
                render(&compiled.warnings)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
