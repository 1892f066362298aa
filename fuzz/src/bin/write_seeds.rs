//! Writes the seeds that need more than a file copy (`seed.sh` copies the rest):
//!
//! - `check_request/`: real `CheckRequest`s, protobuf-encoded;
//! - `policy_json/`: every policy document of `tests/data/policy/validation.json` and
//!   `tests/data/policy/vectors/*.json`;
//! - `world/`: the YAML worlds rendered as JSON (the JSON parser's path).
//!
//! Usage: `write_seeds CORPUS_DIR REPO_ROOT`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use prost::Message;
use serde_json::Value;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(name);
    std::fs::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// A policy as the text a service would be given: strings as they are, anything else as JSON.
fn policy_text(document: &Value) -> String {
    match document {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn run(corpus: &Path, root: &Path) -> Result<(), String> {
    let dir = corpus.join("check_request");
    for (name, request) in lattice_authz_fuzz::seed_requests() {
        write(&dir, &format!("{name}.pb"), &request.encode_to_vec())?;
    }

    let dir = corpus.join("policy_json");
    let data = root.join("tests/data/policy");
    let validation = read_json(&data.join("validation.json"))?;
    for group in ["valid", "invalid"] {
        let cases = validation.get(group).and_then(Value::as_array);
        for (i, case) in cases.into_iter().flatten().enumerate() {
            if let Some(document) = case.get("document") {
                write(
                    &dir,
                    &format!("validation-{group}-{i}.json"),
                    policy_text(document).as_bytes(),
                )?;
            }
        }
    }
    let vectors = data.join("vectors");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&vectors)
        .map_err(|e| format!("cannot list {}: {e}", vectors.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    for file in files {
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("vector")
            .to_owned();
        let vectors = read_json(&file)?;
        for (i, vector) in vectors.as_array().into_iter().flatten().enumerate() {
            if let Some(policy) = vector.get("policy") {
                write(
                    &dir,
                    &format!("{stem}-{i}.json"),
                    policy_text(policy).as_bytes(),
                )?;
            }
        }
    }

    let dir = corpus.join("world");
    let worlds = [
        (
            "example_world",
            lattice_authz::lattice::World::EXAMPLE_YAML.to_owned(),
        ),
        (
            "workshop",
            read_text(&root.join("tests/data/worlds/workshop.yaml"))?,
        ),
        (
            "table_world",
            read_text(&root.join("tests/data/decisions/table_world.yaml"))?,
        ),
    ];
    for (name, yaml) in worlds {
        let world: Value = serde_saphyr::from_str(&yaml).map_err(|e| format!("{name}: {e}"))?;
        let json = serde_json::to_string_pretty(&world).map_err(|e| format!("{name}: {e}"))?;
        write(&dir, &format!("{name}.json"), json.as_bytes())?;
    }
    Ok(())
}

fn read_text(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let (Some(corpus), Some(root), None) = (args.next(), args.next(), args.next()) else {
        eprintln!("usage: write_seeds CORPUS_DIR REPO_ROOT");
        return ExitCode::from(2);
    };
    match run(&corpus, &root) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("write_seeds: {e}");
            ExitCode::FAILURE
        }
    }
}
