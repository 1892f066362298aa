//! The `lattice-authz` command line: `serve` (the default), `check`, `validate`, `test`,
//! `example-world`. Logging setup and exit codes live here; everything else is in the library.
//!
//! Exit codes: 0 success / allow, 1 `validate` found errors or a `test` case failed, 3 `check`
//! denied, 64 bad usage or settings (EX_USAGE), 65 unreadable request or test file (EX_DATAERR),
//! 69 cannot listen, or no world loaded at start-up with `--require-world` (EX_UNAVAILABLE).

use std::io::Read as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

// glibc's allocator spends much of a large world's load in `malloc_consolidate` and friends;
// mimalloc loads the large world of `benches/scale.rs` in well under half the time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use lattice_authz::authz::{self, Clock as _, FixedClock, SystemClock};
use lattice_authz::config::{Flags, LogFormat, ProcessEnv, RawSettings, Settings};
use lattice_authz::lattice::{self, Effect};
use lattice_authz::logging;
use lattice_authz::store::Store;
use lattice_authz::{app, sigv4};

const EX_USAGE: u8 = 64;
const EX_DATAERR: u8 = 65;
const EX_UNAVAILABLE: u8 = 69;

/// An Envoy ext_authz sidecar that authorizes requests exactly the way Amazon VPC Lattice does.
#[derive(Debug, Parser)]
#[command(name = "lattice-authz", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve ext_authz over gRPC (the default). Without --config: the built-in example world.
    Serve(ServeArgs),
    /// Decide one raw HTTP/1.1 request offline and explain the decision.
    Check(CheckArgs),
    /// Report every problem of a world at once, errors and warnings.
    Validate(ValidateArgs),
    /// Run policy test suites: files of requests, callers and expected decisions.
    Test(TestArgs),
    /// Print the built-in example world (YAML).
    ExampleWorld,
    /// Serve an STS endpoint for the world's roles: AssumeRoleWithWebIdentity, AssumeRole and
    /// GetCallerIdentity, as AWS STS answers them (Query protocol).
    Sts(StsArgs),
    /// Print a new random session key for the world's `sessionKeys`.
    SessionKey(SessionKeyArgs),
}

#[derive(Debug, Args)]
struct StsArgs {
    /// World file or directory (YAML/JSON); watched and hot-reloaded. Without it: the built-in
    /// example world.
    #[arg(long, value_name = "PATH")]
    config: Option<String>,
    /// Process settings file (YAML/JSON).
    #[arg(long, value_name = "FILE", env = "LATTICE_AUTHZ_SETTINGS")]
    settings: Option<PathBuf>,
    /// STS listen address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9192")]
    listen: String,
    /// Metrics and health listen address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9465")]
    metrics_listen: String,
    /// Log filter (info, debug, lattice_authz=debug).
    #[arg(long, value_name = "LEVEL")]
    log_level: Option<String>,
    /// Refuse the built-in example world, and exit (69) if the world cannot be loaded at
    /// start-up instead of waiting for it.
    #[arg(long)]
    require_world: bool,
}

#[derive(Debug, Args)]
struct SessionKeyArgs {
    /// The key's id, written in clear in every token it seals [default: key-YYYYMMDD-HHMMSS].
    #[arg(long, value_name = "ID")]
    id: Option<String>,
}

#[derive(Debug, Args, Default)]
struct ServeArgs {
    /// World file or directory (YAML/JSON); watched and hot-reloaded.
    #[arg(long, value_name = "PATH")]
    config: Option<String>,
    /// Process settings file (YAML/JSON).
    #[arg(long, value_name = "FILE", env = "LATTICE_AUTHZ_SETTINGS")]
    settings: Option<PathBuf>,
    /// gRPC listen address [default: 127.0.0.1:9191].
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Metrics and health listen address [default: 127.0.0.1:9464].
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<String>,
    /// Log filter (info, debug, lattice_authz=debug).
    #[arg(long, value_name = "LEVEL")]
    log_level: Option<String>,
    /// Refuse the built-in example world, and exit (69) if the world cannot be loaded at
    /// start-up instead of waiting for it.
    #[arg(long)]
    require_world: bool,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// World file or directory; default: the built-in example world.
    #[arg(long, value_name = "PATH")]
    config: Option<String>,
    /// Process settings file.
    #[arg(long, value_name = "FILE", env = "LATTICE_AUTHZ_SETTINGS")]
    settings: Option<PathBuf>,
    /// The client's address (decides its VPC).
    #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
    source_ip: IpAddr,
    /// The address the client connected to (a VPC endpoint's address routes through it).
    #[arg(long, value_name = "IP")]
    destination_ip: Option<IpAddr>,
    /// Decide as of this time (RFC 3339), e.g. the request's own signing time.
    #[arg(long, value_name = "RFC3339")]
    now: Option<String>,
    /// Decide as this caller instead of verifying the request's signature: a principal ARN of the
    /// world (a user, a role: decided as its session `asserted`, an assumed-role session ARN of
    /// one of its roles) or `anonymous`. The trace says the caller was asserted.
    #[arg(long = "as", value_name = "PRINCIPAL")]
    as_principal: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// The request file (request line, headers, blank line, optional body); `-` or none: stdin.
    #[arg(value_name = "FILE")]
    request: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct TestArgs {
    /// World file or directory; default: the built-in example world.
    #[arg(long, value_name = "PATH")]
    config: Option<String>,
    /// Process settings file.
    #[arg(long, value_name = "FILE", env = "LATTICE_AUTHZ_SETTINGS")]
    settings: Option<PathBuf>,
    /// Print one JSON object instead of the text report.
    #[arg(long)]
    json: bool,
    /// Also write a JUnit XML report to this file.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Test files (YAML, or JSON when named `*.json`).
    #[arg(value_name = "TESTFILE", required = true)]
    files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
struct ValidateArgs {
    /// World file or directory; default: the built-in example world.
    #[arg(long, value_name = "PATH")]
    config: Option<String>,
    /// Process settings file.
    #[arg(long, value_name = "FILE", env = "LATTICE_AUTHZ_SETTINGS")]
    settings: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// Settings from the file, the environment and `flags`; on a problem, says so on stderr and
/// gives the exit code (64).
fn settings(file: Option<&PathBuf>, flags: &Flags) -> Result<Settings, ExitCode> {
    let read = || -> Result<Settings, String> {
        let raw = match file {
            None => None,
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read settings file {}: {e}", path.display()))?;
                Some(RawSettings::from_text(&text).map_err(|e| e.to_string())?)
            }
        };
        Settings::resolve(raw, &ProcessEnv, flags).map_err(|e| e.to_string())
    };
    read().map_err(|e| {
        eprintln!("lattice-authz: {e}");
        ExitCode::from(EX_USAGE)
    })
}

fn init_logging(settings: &Settings) -> logging::FlushGuard {
    let (stdout, guard) = logging::Stdout::start();
    let filter = tracing_subscriber::EnvFilter::builder().parse_lossy(&settings.log_level);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(stdout.clone());
    match settings.log_format {
        LogFormat::Json => {
            if builder.event_format(logging::JsonLines).try_init().is_ok() {
                // Decision lines skip `tracing` and go straight into the same batches.
                logging::install_direct(stdout);
            }
        }
        LogFormat::Text => {
            // Colour codes only for a person at a terminal, never into a file or a collector.
            let _ = builder
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
                .try_init();
        }
    }
    guard
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => serve(&cli.serve),
        Some(Command::Serve(args)) => serve(&args),
        Some(Command::Check(args)) => check(&args),
        Some(Command::Validate(args)) => validate(&args),
        Some(Command::Test(args)) => test(&args),
        Some(Command::ExampleWorld) => {
            print!("{}", lattice::World::EXAMPLE_YAML);
            ExitCode::SUCCESS
        }
        Some(Command::Sts(args)) => sts(&args),
        Some(Command::SessionKey(args)) => session_key(&args),
    }
}

fn serve(args: &ServeArgs) -> ExitCode {
    let flags = Flags {
        listen: args.listen.clone(),
        metrics_listen: args.metrics_listen.clone(),
        world: args.config.clone(),
        log_level: args.log_level.clone(),
        require_world: args.require_world,
    };
    match settings(args.settings.as_ref(), &flags) {
        Ok(settings) => run(
            settings,
            tokio::runtime::Builder::new_current_thread(),
            "Server failed.",
            |s| app::serve(s, Arc::new(SystemClock), shutdown_signal()),
        ),
        Err(code) => code,
    }
}

fn sts(args: &StsArgs) -> ExitCode {
    // The STS's own addresses come from its flags, so that it can share a settings file with
    // `serve` on the same host.
    let flags = Flags {
        listen: Some(args.listen.clone()),
        metrics_listen: Some(args.metrics_listen.clone()),
        world: args.config.clone(),
        log_level: args.log_level.clone(),
        require_world: args.require_world,
    };
    match settings(args.settings.as_ref(), &flags) {
        Ok(settings) => run(
            settings,
            tokio::runtime::Builder::new_multi_thread(),
            "STS failed.",
            |s| app::serve_sts(s, Arc::new(SystemClock), shutdown_signal()),
        ),
        Err(code) => code,
    }
}

/// Runs a server until it ends, with the logging `settings` ask for, on a runtime from
/// `builder`; a failure is logged as `failed` and printed, and exits 69.
fn run<F>(
    settings: Settings,
    mut builder: tokio::runtime::Builder,
    failed: &'static str,
    server: impl FnOnce(Settings) -> F,
) -> ExitCode
where
    F: std::future::Future<Output = Result<(), app::AppError>>,
{
    let _log_writer = init_logging(&settings);
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lattice-authz: cannot start the runtime: {e}");
            return ExitCode::from(EX_UNAVAILABLE);
        }
    };
    match runtime.block_on(server(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let chain = lattice::error_chain(&e);
            tracing::error!(message = failed, error = %chain);
            eprintln!("lattice-authz: {chain}");
            ExitCode::from(EX_UNAVAILABLE)
        }
    }
}

fn session_key(args: &SessionKeyArgs) -> ExitCode {
    let id = args.id.clone().unwrap_or_else(|| {
        let now = humantime::format_rfc3339_seconds(SystemClock.now()).to_string();
        let digits: String = now.chars().filter(char::is_ascii_digit).collect();
        format!(
            "key-{}-{}",
            digits.get(..8).unwrap_or_default(),
            digits.get(8..14).unwrap_or_default()
        )
    });
    match lattice_authz::tokens::SessionKey::generate(&id) {
        Ok((_, secret)) => {
            println!("# Add first under `sessionKeys` to seal new sessions with it; keep the");
            println!(
                "# old key listed for one maximum session duration so its sessions still open."
            );
            println!("- id: {id}");
            println!("  secret: {secret}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lattice-authz: {e}");
            ExitCode::from(EX_USAGE)
        }
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = term => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

fn check(args: &CheckArgs) -> ExitCode {
    let flags = Flags {
        world: args.config.clone(),
        ..Flags::default()
    };
    let settings = match settings(args.settings.as_ref(), &flags) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let now = match &args.now {
        None => SystemClock.now(),
        Some(t) => match humantime::parse_rfc3339_weak(t) {
            Ok(t) => FixedClock(t).now(),
            Err(_) => {
                eprintln!(
                    "lattice-authz: --now `{t}` is not an RFC 3339 time (e.g. 2026-01-01T00:00:00Z)"
                );
                return ExitCode::from(EX_USAGE);
            }
        },
    };
    let mut bytes = Vec::new();
    // One byte more than the limit, so that a larger request is refused, not cut short.
    let most = u64::try_from(authz::MAX_RAW_REQUEST_BYTES)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let read = match args.request.as_ref().filter(|p| p.as_os_str() != "-") {
        Some(path) => std::fs::File::open(path).and_then(|f| f.take(most).read_to_end(&mut bytes)),
        None => std::io::stdin().take(most).read_to_end(&mut bytes),
    };
    if let Err(e) = read {
        eprintln!("lattice-authz: cannot read the request: {e}");
        return ExitCode::from(EX_DATAERR);
    }
    let raw = match authz::RawRequest::parse(&bytes) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lattice-authz: unreadable request: {e}");
            return ExitCode::from(EX_DATAERR);
        }
    };
    let store = Store::new(settings);
    let snapshot = match store.build_once(now) {
        Ok((snapshot, _)) => snapshot,
        Err(e) => {
            eprintln!("lattice-authz: the world does not load:");
            for p in &e.problems {
                eprintln!("  {p}");
            }
            return ExitCode::from(EX_USAGE);
        }
    };
    let asserted = match args
        .as_principal
        .as_deref()
        .map(|p| snapshot.world.asserted(p))
    {
        None => None,
        Some(Ok(asserted)) => Some(asserted),
        Some(Err(e)) => {
            eprintln!("lattice-authz: --as: {e}");
            return ExitCode::from(EX_USAGE);
        }
    };
    let authentication = asserted.as_ref().map_or(
        lattice::Authentication::Verify,
        lattice::Authentication::Assert,
    );
    let headers: Vec<sigv4::Header<'_>> = raw
        .headers
        .iter()
        .map(|(n, v)| sigv4::Header { name: n, value: v })
        .collect();
    let authority = raw.host().unwrap_or("");
    if authority.is_empty() {
        eprintln!("lattice-authz: unreadable request: no Host header");
        return ExitCode::from(EX_DATAERR);
    }
    // The bounds the service holds every request to: an offline decision is the decision.
    let explained = match authz::check_bounds(&headers, &raw.target) {
        Err(invalid) => authz::explain_refused(&invalid),
        Ok(()) => {
            let request = lattice::Request {
                method: &raw.method,
                target: &raw.target,
                authority,
                scheme: "http",
                headers: &headers,
                body: (!raw.body.is_empty()).then_some(&raw.body[..]),
                source: args.source_ip,
                destination: args.destination_ip,
                vpc_endpoint: None,
            };
            let decision = snapshot.world.authorize(
                &snapshot.verifier,
                &request,
                authentication,
                now,
                &mut lattice::Untimed,
            );
            authz::explain(&decision)
        }
    };
    if args.json {
        let headers: serde_json::Map<String, serde_json::Value> = explained
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.clone(),
                    serde_json::Value::String(String::from_utf8_lossy(&h.value).into_owned()),
                )
            })
            .collect();
        let out = serde_json::json!({
            "decision": explained.decision,
            "status": explained.status,
            "body": explained.body,
            "principal": explained.principal,
            "reason": explained.reason,
            "layer": explained.layer,
            "headers": headers,
            "trace": explained.trace.iter().map(|t| serde_json::json!({"layer": t.layer, "outcome": t.outcome, "detail": t.detail})).collect::<Vec<_>>(),
        });
        println!("{out}");
    } else {
        println!("decision:  {}", explained.decision);
        println!("status:    {}", explained.status);
        if !explained.body.is_empty() {
            println!("body:      {}", explained.body);
        }
        println!("principal: {}", explained.principal);
        println!("reason:    {}", explained.reason);
        println!("layer:     {}", explained.layer);
        if !explained.headers.is_empty() {
            println!("headers:");
            for h in &explained.headers {
                println!("  {}: {}", h.name, String::from_utf8_lossy(&h.value));
            }
        }
        println!("trace:");
        for t in &explained.trace {
            println!("  {:<16} {:<14} {}", t.layer, t.outcome, t.detail);
        }
    }
    if explained.decision == Effect::Allow.as_str() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    }
}

fn validate(args: &ValidateArgs) -> ExitCode {
    let flags = Flags {
        world: args.config.clone(),
        ..Flags::default()
    };
    let settings = match settings(args.settings.as_ref(), &flags) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let store = Store::new(settings);
    let problems = match store.build_once(SystemClock.now()) {
        Ok((_, warnings)) => warnings,
        Err(e) => e.problems,
    };
    let errors = problems
        .iter()
        .filter(|p| p.problem.severity == lattice_authz::policy::Severity::Error)
        .count();
    let warnings = problems.len() - errors;
    if args.json {
        let list: Vec<_> = problems
            .iter()
            .map(|p| {
                serde_json::json!({
                    "severity": if p.problem.severity == lattice_authz::policy::Severity::Error { "error" } else { "warning" },
                    "file": p.file,
                    "pointer": p.problem.pointer,
                    "message": p.problem.message,
                    "hint": p.problem.hint,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({"valid": errors == 0, "errors": errors, "warnings": warnings, "problems": list})
        );
    } else {
        for p in &problems {
            println!("{p}");
        }
        println!("{errors} error(s), {warnings} warning(s)");
    }
    if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn test(args: &TestArgs) -> ExitCode {
    use lattice_authz::suite::{self, Suite};
    let flags = Flags {
        world: args.config.clone(),
        ..Flags::default()
    };
    let settings = match settings(args.settings.as_ref(), &flags) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut suites = Vec::with_capacity(args.files.len());
    for path in &args.files {
        let name = path.display().to_string();
        let mut bytes = Vec::new();
        let most = u64::try_from(suite::MAX_SUITE_BYTES)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        if let Err(e) = std::fs::File::open(path).and_then(|f| f.take(most).read_to_end(&mut bytes))
        {
            eprintln!("lattice-authz: cannot read {name}: {e}");
            return ExitCode::from(EX_DATAERR);
        }
        if bytes.len() > suite::MAX_SUITE_BYTES {
            eprintln!(
                "lattice-authz: {name}: larger than the {} bytes a test file may hold",
                suite::MAX_SUITE_BYTES
            );
            return ExitCode::from(EX_DATAERR);
        }
        let Ok(text) = String::from_utf8(bytes) else {
            eprintln!("lattice-authz: {name}: not UTF-8 text");
            return ExitCode::from(EX_DATAERR);
        };
        match Suite::parse(&name, &text) {
            Ok(s) => suites.push(s),
            Err(e) => {
                eprintln!("lattice-authz: {e}");
                return ExitCode::from(EX_DATAERR);
            }
        }
    }
    let now = SystemClock.now();
    let store = Store::new(settings);
    let snapshot = match store.build_once(now) {
        Ok((snapshot, _)) => snapshot,
        Err(e) => {
            eprintln!("lattice-authz: the world does not load:");
            for p in &e.problems {
                eprintln!("  {p}");
            }
            return ExitCode::from(EX_USAGE);
        }
    };
    let outcomes = match suite::run(&suites, &snapshot.world, &snapshot.verifier, now) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("lattice-authz: {e}");
            return ExitCode::from(EX_DATAERR);
        }
    };
    // A reader that stops early (`| head`) is no error of the run.
    let report = if args.json {
        format!("{}\n", suite::json(&outcomes))
    } else {
        suite::text(&outcomes)
    };
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), report.as_bytes());
    if let Some(path) = &args.junit
        && let Err(e) = std::fs::write(path, suite::junit(&outcomes))
    {
        eprintln!("lattice-authz: cannot write {}: {e}", path.display());
        return ExitCode::from(EX_USAGE);
    }
    if outcomes.iter().all(suite::Outcome::passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
