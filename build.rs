//! Compiles the project's own protobuf API (`proto/`) with protox: no system `protoc` needed. Also
//! encodes the descriptors of Envoy's `envoy.service.auth.v3.Authorization` from the `.proto`
//! files `envoy-types` ships (it compiles them but exports no descriptor set), for gRPC
//! reflection.

use std::path::{Path, PathBuf};

use prost::Message as _;

/// The Envoy service reflection describes, and the file that declares it.
const ENVOY_AUTH_PROTO: &str = "envoy/service/auth/v3/external_auth.proto";
/// Where in `envoy-types`'s `proto/` directory the Authorization service's imports are found.
const ENVOY_INCLUDES: [&str; 4] = ["data-plane-api", "googleapis", "protoc-gen-validate", "xds"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    println!("cargo:rerun-if-changed=Cargo.lock");
    let files = protox::compile(["lattice_authz/v1/diagnostics.proto"], ["proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("diagnostics_descriptor.bin"),
        files.encode_to_vec(),
    )?;
    let envoy = envoy_types_protos()?;
    let includes = ENVOY_INCLUDES.map(|dir| envoy.join(dir));
    let envoy_files = protox::compile([ENVOY_AUTH_PROTO], includes)?;
    std::fs::write(
        out.join("envoy_auth_descriptor.bin"),
        envoy_files.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(files)?;
    // The crate denies `allow` attributes without a reason, and that lint cannot be silenced
    // from outside an `include!`: give the generated attributes their reason here.
    let generated = out.join("lattice_authz.v1.rs");
    let code = std::fs::read_to_string(&generated)?;
    std::fs::write(&generated, with_reasons(&code))?;
    Ok(())
}

/// Appends `reason = "generated code"` to every `#[allow(...)]` / `#![allow(...)]`.
fn with_reasons(code: &str) -> String {
    let mut out = String::with_capacity(code.len() + 1024);
    let mut rest = code;
    while let Some(at) = rest.find("allow(") {
        let (head, tail) = rest.split_at(at + "allow(".len());
        out.push_str(head);
        let attribute = head.trim_end_matches("allow(").ends_with('[');
        let Some(close) = tail.find(")]") else {
            out.push_str(tail);
            return out;
        };
        let (args, after) = tail.split_at(close);
        if attribute {
            out.push_str(args.trim_end().trim_end_matches(','));
            out.push_str(", reason = \"generated code\"");
        } else {
            out.push_str(args);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The `proto/` directory of the `envoy-types` this build uses, found with `cargo metadata` (the
/// crate declares no `links`, so Cargo passes its build scripts nothing about it).
fn envoy_types_protos() -> Result<PathBuf, Box<dyn std::error::Error>> {
    let cargo = std::env::var("CARGO")?;
    let manifest = Path::new(&std::env::var("CARGO_MANIFEST_DIR")?).join("Cargo.toml");
    let output = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--manifest-path",
        ])
        .arg(&manifest)
        .output()?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let packages = metadata
        .get("packages")
        .and_then(serde_json::Value::as_array)
        .ok_or("no packages in cargo metadata")?;
    let envoy_types = packages
        .iter()
        .find(|p| p.get("name").and_then(serde_json::Value::as_str) == Some("envoy-types"))
        .ok_or("envoy-types is not a dependency")?;
    let manifest_path = envoy_types
        .get("manifest_path")
        .and_then(serde_json::Value::as_str)
        .ok_or("envoy-types has no manifest path")?;
    let dir = Path::new(manifest_path)
        .parent()
        .ok_or("envoy-types's manifest has no directory")?
        .join("proto");
    println!("cargo:rerun-if-changed={}", dir.display());
    Ok(dir)
}
