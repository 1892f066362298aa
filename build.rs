//! Compiles the project's own protobuf API (`proto/`) with protox: no system `protoc` needed.

use prost::Message as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let files = protox::compile(["lattice_authz/v1/diagnostics.proto"], ["proto"])?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("diagnostics_descriptor.bin"),
        files.encode_to_vec(),
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
