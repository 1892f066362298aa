//! Hot reload: a changed policy takes effect, an invalid change keeps the last good world and is
//! counted, and no check fails or answers wrongly while it happens. Also: an overrun deadline
//! never allows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use lattice_authz::authz::{AuthzService, Clock as _, FixedClock, SystemClock};
use lattice_authz::lattice::World;
use lattice_authz::store::{Reload, Store};

use crate::support::{self, Harness, HeaderMode, Summary, check_request};

/// Quoted: the policy's principal, not the user's own definition.
const USER: &str = "\"arn:aws:iam::917561075114:user/latticeuser\"";
const CLIENT: &str = "\"arn:aws:iam::917561075114:user/latticeclient\"";

#[test]
fn policy_change_invalid_change_and_back_under_concurrent_checks() {
    let harness = Harness::world(World::EXAMPLE_YAML);
    let world = harness.dir.path().join("world.yaml");
    let store = harness.store.clone();
    let service = Arc::new(harness.service);
    let user = support::signed("GET", support::NGINX_HOST, "/", &[], support::LATTICEUSER);
    let client = support::signed("GET", support::NGINX_HOST, "/", &[], support::LATTICECLIENT);
    let user_request = check_request("GET", "/", &user, "127.0.0.1", HeaderMode::Raw);
    let client_request = check_request("GET", "/", &client, "127.0.0.1", HeaderMode::Raw);

    // Background checks during every reload: each must be answered, never an error.
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (service, stop, answered, request) = (
                service.clone(),
                stop.clone(),
                answered.clone(),
                user_request.clone(),
            );
            std::thread::spawn(move || {
                let mut errors = 0;
                while !stop.load(Ordering::Relaxed) {
                    match service.check_request(&request) {
                        Ok(r) if matches!(Summary::of(&r).status, 200 | 403) => {}
                        _ => errors += 1,
                    }
                    answered.fetch_add(1, Ordering::Relaxed);
                }
                errors
            })
        })
        .collect();

    let status = |request| Summary::of(&service.check_request(request).unwrap()).status;
    assert_eq!((status(&user_request), status(&client_request)), (200, 403));

    // 1. Change the policy: latticeclient instead of latticeuser.
    std::fs::write(&world, World::EXAMPLE_YAML.replace(USER, CLIENT)).unwrap();
    let reload = store.poll(support::test_time());
    assert!(matches!(reload, Reload::Loaded(..)), "{reload:#?}");
    assert_eq!(store.current().unwrap().generation, 2);
    assert_eq!((status(&user_request), status(&client_request)), (403, 200));
    assert_eq!(
        store.last_cache_stats().misses,
        1,
        "only the changed policy is recompiled"
    );

    // 2. An invalid change (bad JSON in the policy) keeps generation 2 serving.
    std::fs::write(
        &world,
        World::EXAMPLE_YAML.replace(USER, CLIENT).replace(
            "\"Effect\": \"Allow\", \"Principal\": {",
            "\"Effect\": \"Allow\" \"Principal\": {",
        ),
    )
    .unwrap();
    let Reload::Failed(error) = store.poll(support::test_time()) else {
        panic!("invalid world loaded")
    };
    assert!(error.errors().count() >= 1, "{error:?}");
    assert_eq!(store.current().unwrap().generation, 2);
    assert_eq!((status(&user_request), status(&client_request)), (403, 200));

    // A truncated file and a deleted file change nothing either.
    // (Cut inside a quoted policy: a cut at a line boundary can leave a smaller valid world.)
    let cut = World::EXAMPLE_YAML.find("document: '{\"Version\"").unwrap() + 30;
    std::fs::write(&world, &World::EXAMPLE_YAML[..cut]).unwrap();
    assert!(matches!(
        store.poll(support::test_time()),
        Reload::Failed(_)
    ));
    std::fs::remove_file(&world).unwrap();
    let Reload::Failed(error) = store.poll(support::test_time()) else {
        panic!("a deleted world loaded")
    };
    assert!(
        error.to_string().contains("cannot read the world"),
        "{error}"
    );
    // Reported once, not at every poll, while the file stays away.
    assert!(matches!(
        store.poll(support::test_time()),
        Reload::Unchanged
    ));
    assert_eq!((status(&user_request), status(&client_request)), (403, 200));

    // 3. Back to the original.
    std::fs::write(&world, World::EXAMPLE_YAML).unwrap();
    assert!(matches!(
        store.poll(support::test_time()),
        Reload::Loaded(..)
    ));
    assert_eq!((status(&user_request), status(&client_request)), (200, 403));
    assert!(matches!(
        store.poll(support::test_time()),
        Reload::Unchanged
    ));

    stop.store(true, Ordering::Relaxed);
    let errors: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(errors, 0);
    assert!(answered.load(Ordering::Relaxed) > 0);
}

/// nginx's policy, allowing latticeuser, as a file beside the world.
const NGINX_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::917561075114:user/latticeuser"},"Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}"#;

/// A directory world: the example world with nginx's auth policy in `policies/nginx.json`
/// ([`NGINX_POLICY`]); the store that serves it; the policy file's path.
pub(crate) fn world_with_policy_file(dir: &std::path::Path) -> (Store, std::path::PathBuf) {
    std::fs::create_dir(dir.join("policies")).unwrap();
    let policy = dir.join("policies/nginx.json");
    std::fs::write(&policy, NGINX_POLICY).unwrap();
    let start = World::EXAMPLE_YAML
        .find("    authPolicy:\n      document: '{\"Version\"")
        .unwrap();
    let end = start + World::EXAMPLE_YAML[start..].find("}]}'\n").unwrap() + "}]}'\n".len();
    let yaml = format!(
        "{}    authPolicy:\n      documentFile: policies/nginx.json\n{}",
        &World::EXAMPLE_YAML[..start],
        &World::EXAMPLE_YAML[end..]
    );
    std::fs::write(dir.join("world.yaml"), yaml).unwrap();
    let store = Store::new(lattice_authz::config::Settings {
        world: Some(dir.to_path_buf()),
        ..Default::default()
    });
    (store, policy)
}

/// The reason the store's world gives a signed GET of nginx's `/` by `creds`.
fn reason(store: &Store, creds: support::Creds) -> &'static str {
    let snapshot = store.current().unwrap();
    let headers = support::signed("GET", support::NGINX_HOST, "/", &[], creds);
    let sigv4: Vec<_> = headers
        .iter()
        .map(|(k, v)| lattice_authz::sigv4::Header {
            name: k,
            value: v.as_bytes(),
        })
        .collect();
    let request = lattice_authz::lattice::Request {
        method: "GET",
        target: "/",
        authority: support::NGINX_HOST,
        scheme: "http",
        headers: &sigv4,
        body: None,
        source: "127.0.0.1".parse().unwrap(),
        destination: None,
        vpc_endpoint: None,
    };
    snapshot
        .world
        .authorize(
            &snapshot.verifier,
            &request,
            lattice_authz::lattice::Authentication::Verify,
            support::test_time(),
            &mut lattice_authz::lattice::Untimed,
        )
        .reason
        .as_str()
}

#[test]
fn a_policy_file_beside_the_world_reloads_when_edited() {
    let dir = tempfile::tempdir().unwrap();
    let (store, policy) = world_with_policy_file(dir.path());
    assert!(matches!(
        store.poll(support::test_time()),
        Reload::Loaded(..)
    ));
    assert_eq!(reason(&store, support::LATTICECLIENT), "no_service_policy");
    std::fs::write(&policy, NGINX_POLICY.replace(USER, CLIENT)).unwrap();
    assert!(
        matches!(store.poll(support::test_time()), Reload::Loaded(..)),
        "editing the referenced file reloads"
    );
    assert_eq!(reason(&store, support::LATTICECLIENT), "allowed");
}

#[test]
fn an_overrun_deadline_is_an_error_never_an_allow() {
    let harness = Harness::example();
    let metrics = Arc::new(lattice_authz::app::new_metrics("test"));
    let service = AuthzService::new(
        harness.store,
        metrics.clone(),
        Arc::new(FixedClock(support::test_time())),
        true,
        Duration::ZERO,
    );
    let allowed = support::signed("GET", support::NGINX_HOST, "/", &[], support::LATTICEUSER);
    let error = service
        .check_request(&check_request(
            "GET",
            "/",
            &allowed,
            "127.0.0.1",
            HeaderMode::Raw,
        ))
        .unwrap_err();
    assert_eq!(error.code(), tonic::Code::DeadlineExceeded);
    assert!(
        metrics.render().contains(
            r#"lattice_authz_checks_total{decision="error",reason="deadline_exceeded"} 1"#
        )
    );
}

#[test]
fn no_world_is_unavailable() {
    let store = Arc::new(Store::new(lattice_authz::config::Settings::default()));
    let metrics = Arc::new(lattice_authz::app::new_metrics("test"));
    let service = AuthzService::new(
        store,
        metrics,
        Arc::new(FixedClock(support::test_time())),
        true,
        Duration::from_secs(1),
    );
    let request = check_request(
        "GET",
        "/",
        &support::unsigned(support::HELLO_HOST, &[]),
        "127.0.0.1",
        HeaderMode::Raw,
    );
    assert_eq!(
        service.check_request(&request).unwrap_err().code(),
        tonic::Code::Unavailable
    );
}

#[test]
fn settled_files_are_not_read_again_and_a_same_size_edit_with_the_old_mtime_is_seen() {
    let dir = tempfile::tempdir().unwrap();
    let (store, policy_path) = world_with_policy_file(dir.path());
    let allowed = |store: &Store| reason(store, support::LATTICEUSER) == "allowed";
    let settle = || std::thread::sleep(Duration::from_millis(2_100));

    // Files written just now are read at every poll until their times are two seconds old.
    assert!(matches!(store.poll(SystemClock.now()), Reload::Loaded(..)));
    assert!(matches!(store.poll(SystemClock.now()), Reload::Unchanged));
    assert_eq!(store.source_reads(), 2);
    settle();
    assert!(matches!(store.poll(SystemClock.now()), Reload::Unchanged));
    assert_eq!(store.source_reads(), 3);
    // Settled: unchanged files are not read again.
    for _ in 0..3 {
        assert!(matches!(store.poll(SystemClock.now()), Reload::Unchanged));
    }
    assert_eq!(store.source_reads(), 3);
    assert!(allowed(&store));

    // The referenced file gets other content of the same size, and its old modification time
    // back: the status-change time still shows the write.
    let mtime = std::fs::metadata(&policy_path).unwrap().modified().unwrap();
    let edited = NGINX_POLICY.replace("user/latticeuser", "user/latticeusex");
    assert_eq!(edited.len(), NGINX_POLICY.len());
    std::fs::write(&policy_path, edited).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&policy_path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    assert!(matches!(store.poll(SystemClock.now()), Reload::Loaded(..)));
    assert!(!allowed(&store));
    settle();
    assert!(matches!(store.poll(SystemClock.now()), Reload::Unchanged));
    let reads = store.source_reads();
    assert!(matches!(store.poll(SystemClock.now()), Reload::Unchanged));
    assert_eq!(store.source_reads(), reads);
}
