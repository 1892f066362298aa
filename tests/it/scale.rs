//! A generated large world (`test_util::scale_world`): it loads, the example world's requests
//! decide as before, generated principals and services decide by their own policies, and a
//! reload that changes one policy recompiles exactly that one. The full-size figures (10,000
//! services, 100,000 principals) are `cargo bench --bench scale`; this is the same path at a size
//! the test suite can afford.

use lattice_authz::config::Settings;
use lattice_authz::store::{CacheStats, Reload};
use lattice_authz::test_util::{
    Scale, scale_access_key, scale_secret, scale_service_id, scale_world, sign_lattice,
};

use crate::support::{self, Harness, HeaderMode, check_request, test_time};

const SCALE: Scale = Scale {
    services: 400,
    networks: 40,
    principals: 2_000,
};

fn generated(user: usize, service: usize, path: &str) -> Vec<(String, String)> {
    let (key, secret) = (scale_access_key(user), scale_secret(user));
    sign_lattice(
        "GET",
        &format!("svc{service}.scale.vpc-lattice-svcs.ap-northeast-1.on.aws"),
        path,
        &[],
        (&key, &secret, None),
        "ap-northeast-1",
        test_time(),
    )
}

#[test]
fn a_large_world_decides_like_the_example_and_reloads_one_policy() {
    let harness = Harness::with(Some(&scale_world(SCALE, 0)), Settings::default());
    // 400 service policies, 40 network policies, and the example world's 6: its 4 (with the
    // managed one), latticeuser's inline policy and role app's trust policy.
    let policies = 400 + 40 + 6;
    assert_eq!(
        harness.store.last_cache_stats(),
        CacheStats {
            hits: 0,
            misses: policies
        }
    );

    // The example world's headline row is unchanged.
    let user = support::signed("GET", support::NGINX_HOST, "/", &[], support::LATTICEUSER);
    let summary = harness.check(&check_request(
        "GET",
        "/",
        &user,
        "127.0.0.1",
        HeaderMode::Raw,
    ));
    assert_eq!((summary.status, summary.reason.as_str()), (200, "allowed"));

    // Service 17 is in network 1 (10 services each), whose VPC is 10.128.1.0/24; its policy
    // allows user 17 under /s17/.
    let allowed = check_request(
        "GET",
        "/s17/items",
        &generated(17, 17, "/s17/items"),
        "10.128.1.5",
        HeaderMode::Raw,
    );
    let summary = harness.check(&allowed);
    assert_eq!((summary.status, summary.reason.as_str()), (200, "allowed"));
    assert_eq!(
        summary
            .headers
            .get("x-amzn-lattice-identity")
            .map(String::as_str),
        Some(
            "Principal=arn:aws:iam::917561075114:user/u17; PrincipalOrgID=o-a1b2c3d4e5; \
             PrincipalOrgPath=o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/; Type=AWS_IAM"
        )
    );
    let other_user = check_request(
        "GET",
        "/s17/items",
        &generated(18, 17, "/s17/items"),
        "10.128.1.5",
        HeaderMode::Raw,
    );
    let summary = harness.check(&other_user);
    assert_eq!(summary.status, 403);
    assert_eq!(
        summary.body,
        format!(
            "AccessDeniedException: User: arn:aws:iam::917561075114:user/u18 is not authorized to perform: vpc-lattice-svcs:Invoke on resource: arn:aws:vpc-lattice:ap-northeast-1:917561075114:service/{}/s17/items because no service-based policy allows the vpc-lattice-svcs:Invoke action",
            scale_service_id(17)
        )
    );
    // From another network's VPC the service is not reachable at all.
    let summary = harness.check(&check_request(
        "GET",
        "/s17/items",
        &generated(17, 17, "/s17/items"),
        "10.128.2.5",
        HeaderMode::Raw,
    ));
    assert_eq!(summary.status, 403);

    // A reload that changes service 0's policy compiles that policy and reuses every other.
    let path = harness.dir.path().join("world.yaml");
    std::fs::write(&path, scale_world(SCALE, 1)).unwrap();
    assert!(matches!(
        harness.store.poll(test_time()),
        Reload::Loaded(..)
    ));
    assert_eq!(
        harness.store.last_cache_stats(),
        CacheStats {
            hits: policies - 1,
            misses: 1
        }
    );
    // And decides with it: /s0/r1/ is allowed for user 0, /s0/r0/ no longer is.
    let status = |path: &str| {
        harness
            .check(&check_request(
                "GET",
                path,
                &generated(0, 0, path),
                "10.128.0.5",
                HeaderMode::Raw,
            ))
            .status
    };
    assert_eq!((status("/s0/r1/a"), status("/s0/r0/a")), (200, 403));
}
