//! Hostile file systems: a world, policy or secret path that holds a named pipe or a device
//! instead of a regular file, or a file over its limit, is refused without blocking and without
//! reading more than the limit; the last good world keeps serving and later reloads work.

use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use lattice_authz::app;
use lattice_authz::authz::FixedClock;
use lattice_authz::config::Settings;
use lattice_authz::lattice::World;
use lattice_authz::store::{Reload, Store};

use crate::grpc_check::{http_get, loopback_settings, metric};
use crate::support::{self, Harness};

/// latticeuser's secret in the example world, which the secret tests move into a file.
const USER_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// The secret file's name, relative to the world's directory.
const SECRET_FILE: &str = "secrets/user.key";

/// How long a poll may take before the test calls it blocked.
const BLOCKED_AFTER: Duration = Duration::from_secs(5);

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

/// Puts `make`'s file at `path` in one rename, as a deployment replaces a file: the poller never
/// sees the path missing.
fn replace(path: &Path, make: impl FnOnce(&Path)) {
    let staged = path.with_file_name(".staged");
    make(&staged);
    std::fs::rename(&staged, path).unwrap();
}

/// Opens `fifo` for writing and closes it, if a reader is blocked in `open()` on it: the reader
/// then gets end-of-file. Without a reader it fails at once (`O_NONBLOCK`) instead of waiting.
fn release_reader(fifo: &Path) {
    drop(
        std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(fifo),
    );
}

/// Polls `store` on another thread and fails if the poll blocks: then it releases the readers
/// blocked on `fifo` until the poll returns, so that no thread is left behind.
fn poll_without_blocking(store: &Arc<Store>, fifo: &Path) -> Reload {
    let (tx, rx) = mpsc::channel();
    let polling = store.clone();
    let thread = std::thread::spawn(move || tx.send(polling.poll(support::test_time())));
    if let Ok(reload) = rx.recv_timeout(BLOCKED_AFTER) {
        thread.join().unwrap().unwrap();
        return reload;
    }
    for _ in 0..200 {
        release_reader(fifo);
        if rx.recv_timeout(Duration::from_millis(50)).is_ok() {
            break;
        }
    }
    panic!("the poll blocked on the named pipe `{}`", fifo.display());
}

/// The one error of a failed poll: (its file, its message).
fn failure(reload: Reload) -> (Option<String>, String) {
    let Reload::Failed(error) = reload else {
        panic!("loaded: {reload:#?}");
    };
    let errors: Vec<_> = error.errors().collect();
    assert_eq!(errors.len(), 1, "{error:#?}");
    (errors[0].file.clone(), errors[0].problem.message.clone())
}

/// The example world with latticeuser's secret read from [`SECRET_FILE`], in `dir`, and the
/// store serving it; the secret file's path.
fn world_with_secret_file(dir: &Path) -> (Arc<Store>, PathBuf) {
    std::fs::create_dir(dir.join("secrets")).unwrap();
    let secret = dir.join(SECRET_FILE);
    std::fs::write(&secret, format!("{USER_SECRET}\n")).unwrap();
    let inline = format!("secretAccessKey: {USER_SECRET}");
    assert!(World::EXAMPLE_YAML.contains(&inline));
    let yaml = World::EXAMPLE_YAML.replace(
        &inline,
        &format!("secretAccessKey: {{file: {SECRET_FILE}}}"),
    );
    std::fs::write(dir.join("world.yaml"), yaml).unwrap();
    let store = Arc::new(Store::new(Settings {
        world: Some(dir.join("world.yaml")),
        ..Settings::default()
    }));
    assert!(matches!(
        store.poll(support::test_time()),
        Reload::Loaded(..)
    ));
    (store, secret)
}

#[test]
fn a_named_pipe_at_the_world_path_is_refused_without_blocking() {
    let harness = Harness::world(World::EXAMPLE_YAML);
    let world = harness.dir.path().join("world.yaml");
    replace(&world, mkfifo);

    let (file, message) = failure(poll_without_blocking(&harness.store, &world));
    assert_eq!(file, Some(world.display().to_string()));
    assert_eq!(message, "file is a named pipe, not a regular file");
    assert_eq!(harness.store.current().unwrap().generation, 1);
    // Reported once while it stays.
    assert!(matches!(
        poll_without_blocking(&harness.store, &world),
        Reload::Unchanged
    ));

    // The next world loads.
    replace(&world, |p| std::fs::write(p, World::EXAMPLE_YAML).unwrap());
    assert!(matches!(
        harness.store.poll(support::test_time()),
        Reload::Loaded(..)
    ));
    assert_eq!(harness.store.current().unwrap().generation, 2);
}

#[test]
fn dev_zero_as_the_world_is_refused_before_reading() {
    let harness = Harness::world(World::EXAMPLE_YAML);
    let world = harness.dir.path().join("world.yaml");
    replace(&world, |p| {
        std::os::unix::fs::symlink("/dev/zero", p).unwrap()
    });

    let (file, message) = failure(harness.store.poll(support::test_time()));
    assert_eq!(file, Some(world.display().to_string()));
    assert_eq!(message, "file is a character device, not a regular file");
    assert_eq!(harness.store.current().unwrap().generation, 1);

    replace(&world, |p| std::fs::write(p, World::EXAMPLE_YAML).unwrap());
    assert!(matches!(
        harness.store.poll(support::test_time()),
        Reload::Loaded(..)
    ));
}

#[test]
fn a_named_pipe_as_a_policy_file_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let (store, policy) = super::reload::world_with_policy_file(dir.path());
    let store = Arc::new(store);
    assert!(matches!(
        store.poll(support::test_time()),
        Reload::Loaded(..)
    ));

    replace(&policy, mkfifo);
    let (_, message) = failure(poll_without_blocking(&store, &policy));
    assert_eq!(
        message,
        format!(
            "policy file `{}`: file is a named pipe, not a regular file",
            policy.display()
        )
    );
    assert_eq!(store.current().unwrap().generation, 1);
}

#[test]
fn a_named_pipe_as_a_secret_file_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let (store, secret) = world_with_secret_file(dir.path());
    replace(&secret, mkfifo);
    let (_, message) = failure(poll_without_blocking(&store, &secret));
    assert_eq!(
        message,
        format!(
            "secret file `{}`: file is a named pipe, not a regular file",
            secret.display()
        )
    );
    assert_eq!(store.current().unwrap().generation, 1);
}

#[test]
fn dev_zero_as_a_secret_file_is_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let (store, secret) = world_with_secret_file(dir.path());
    replace(&secret, |p| {
        std::os::unix::fs::symlink("/dev/zero", p).unwrap();
    });
    let (_, message) = failure(store.poll(support::test_time()));
    assert_eq!(
        message,
        format!(
            "secret file `{}`: file is a character device, not a regular file",
            secret.display()
        )
    );
    assert_eq!(store.current().unwrap().generation, 1);
}

#[test]
fn a_secret_file_over_its_limit_is_refused_without_quoting_it() {
    let dir = tempfile::tempdir().unwrap();
    let (store, secret) = world_with_secret_file(dir.path());
    // A real secret, then more than the limit: the message must not show any of it.
    let mut text = format!("{USER_SECRET}\n");
    text.push_str(&"S".repeat(64 * 1024));
    replace(&secret, |p| std::fs::write(p, &text).unwrap());
    let Reload::Failed(error) = store.poll(support::test_time()) else {
        panic!("an oversized secret file loaded");
    };
    let problem = error.errors().next().unwrap();
    assert_eq!(
        problem.problem.message,
        format!(
            "secret file `{}`: file is {} bytes, over the 65536-byte limit",
            secret.display(),
            text.len()
        )
    );
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(USER_SECRET) && !shown.contains("SSSS"));
    assert_eq!(store.current().unwrap().generation, 1);

    // Back to a secret of ordinary size.
    replace(&secret, |p| std::fs::write(p, USER_SECRET).unwrap());
    assert!(matches!(
        store.poll(support::test_time()),
        Reload::Loaded(..)
    ));
}

#[test]
fn a_named_pipe_in_a_world_directory_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("world.yaml"), World::EXAMPLE_YAML).unwrap();
    let fifo = dir.path().join("zz.yaml");
    mkfifo(&fifo);
    let store = Arc::new(Store::new(Settings {
        world: Some(dir.path().to_path_buf()),
        ..Settings::default()
    }));
    assert!(matches!(
        poll_without_blocking(&store, &fifo),
        Reload::Loaded(..)
    ));
}

/// The reload loop of the running sidecar: a named pipe swapped in for the world is a counted
/// failure, the last good world keeps serving, and the next world loads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reload_loop_counts_a_named_pipe_and_loads_the_next_world() {
    let dir = tempfile::tempdir().unwrap();
    let world = dir.path().join("world.yaml");
    std::fs::write(&world, World::EXAMPLE_YAML).unwrap();
    let settings = Settings {
        world: Some(world.clone()),
        reload_interval: Duration::from_millis(50),
        ..loopback_settings()
    };
    let running = app::start(settings, Arc::new(FixedClock(support::test_time())))
        .await
        .unwrap();
    let reloads = |result: &str| {
        let (_, text) = http_get(running.metrics_addr, "/metrics");
        metric(
            &text,
            &format!("lattice_authz_reloads_total{{result=\"{result}\"}}"),
        )
        .unwrap_or(0.0)
    };
    let wait_for = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            if Instant::now() > deadline {
                // Let a reload blocked on the pipe finish, so the runtime can stop.
                for _ in 0..100 {
                    release_reader(&world);
                    std::thread::sleep(Duration::from_millis(20));
                }
                panic!("{what} within 10 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    assert_eq!(reloads("success"), 1.0);

    replace(&world, mkfifo);
    wait_for("the named pipe counted as a failed reload", &|| {
        reloads("failure") == 1.0
    });
    assert_eq!(http_get(running.metrics_addr, "/readyz").0, 200);

    replace(&world, |p| {
        std::fs::write(p, format!("{}# the next world\n", World::EXAMPLE_YAML)).unwrap();
    });
    wait_for("the next world loaded", &|| reloads("success") == 2.0);
    assert_eq!(reloads("failure"), 1.0);
    running.stop().await.unwrap();
}
