//! The reports of a test run: text (one line per case, each failure with what differed and the
//! trace, a summary), one JSON object, and JUnit XML for CI. It must not run anything: it renders
//! [`Outcome`]s.

use std::fmt::Write as _;

use super::Outcome;

/// The text report: one line per case, then each failure with what differed and its trace, then
/// the summary.
pub fn text(outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    for o in outcomes {
        let mark = if o.passed() { "ok  " } else { "FAIL" };
        let _ = writeln!(out, "{mark}  {}: {}", o.file, o.name);
    }
    for o in outcomes.iter().filter(|o| !o.passed()) {
        let e = &o.explained;
        let _ = writeln!(out, "\n--- FAIL {}: {} ({})", o.file, o.name, o.caller);
        for d in &o.differences {
            let _ = writeln!(
                out,
                "  {}: expected `{}`, got `{}`",
                d.field, d.expected, d.actual
            );
        }
        let _ = writeln!(
            out,
            "  decided: {} {} reason {} at layer {}, principal {}",
            e.decision, e.status, e.reason, e.layer, e.principal
        );
        if !e.body.is_empty() {
            let _ = writeln!(out, "  body: {}", e.body);
        }
        let _ = writeln!(out, "  trace:");
        for t in &e.trace {
            let _ = writeln!(out, "    {:<16} {:<14} {}", t.layer, t.outcome, t.detail);
        }
    }
    let failed = outcomes.iter().filter(|o| !o.passed()).count();
    let _ = writeln!(
        out,
        "\n{} passed, {failed} failed, {} case(s)",
        outcomes.len() - failed,
        outcomes.len()
    );
    out
}

/// The JSON report: `{"passed", "failed", "cases": [{file, name, passed, differences, decision,
/// status, reason, layer, principal, body, trace}]}`.
pub fn json(outcomes: &[Outcome]) -> serde_json::Value {
    let failed = outcomes.iter().filter(|o| !o.passed()).count();
    let cases: Vec<serde_json::Value> = outcomes
        .iter()
        .map(|o| {
            let e = &o.explained;
            serde_json::json!({
                "file": o.file,
                "name": o.name,
                "passed": o.passed(),
                "differences": o.differences.iter().map(|d| serde_json::json!({
                    "field": d.field, "expected": d.expected, "actual": d.actual,
                })).collect::<Vec<_>>(),
                "decision": e.decision,
                "status": e.status,
                "reason": e.reason,
                "layer": e.layer,
                "principal": e.principal,
                "body": e.body,
                "trace": e.trace.iter().map(|t| serde_json::json!({
                    "layer": t.layer, "outcome": t.outcome, "detail": t.detail,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({
        "passed": outcomes.len() - failed,
        "failed": failed,
        "cases": cases,
    })
}

/// The JUnit XML report: one `testsuite` per file, one `testcase` per case, a `failure` with what
/// differed and the trace.
pub fn junit(outcomes: &[Outcome]) -> String {
    let mut files: Vec<&str> = Vec::new();
    for o in outcomes {
        if !files.contains(&o.file.as_str()) {
            files.push(&o.file);
        }
    }
    let failed = outcomes.iter().filter(|o| !o.passed()).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"lattice-authz test\" tests=\"{}\" failures=\"{failed}\">",
        outcomes.len()
    );
    for file in files {
        let cases: Vec<&Outcome> = outcomes.iter().filter(|o| o.file == file).collect();
        let failures = cases.iter().filter(|o| !o.passed()).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\">",
            escape(file),
            cases.len()
        );
        for o in cases {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\"",
                escape(file),
                escape(&o.name)
            );
            if o.passed() {
                out.push_str("/>\n");
                continue;
            }
            let message: Vec<String> = o
                .differences
                .iter()
                .map(|d| format!("{}: expected `{}`, got `{}`", d.field, d.expected, d.actual))
                .collect();
            let mut detail = message.join("\n");
            for t in &o.explained.trace {
                let _ = write!(detail, "\n{} {} {}", t.layer, t.outcome, t.detail);
            }
            let _ = writeln!(
                out,
                ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                escape(&message.join("; ")),
                escape(&detail)
            );
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Text for an XML attribute or element: markup escaped, and characters XML 1.0 cannot hold
/// replaced by `?`.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if u32::from(c) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_is_escaped() {
        assert_eq!(
            escape("a<b>&\"c\"'\u{1}\n"),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;?\n"
        );
    }
}
