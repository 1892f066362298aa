"""deploy/ is what the suite runs: Envoy accepts its config with the options that matter, the
Kubernetes manifests agree with it and with the world, the world's secret indirection works
through a real Envoy, the STS and the sample workload's manifests agree with the world and the
STS issues on it, and the Prometheus configs pass promtool."""

from __future__ import annotations

import json
import re
import subprocess

import boto3
import yaml
from botocore import UNSIGNED
from botocore.config import Config

from clients import curl
from conftest import start_stack, stop_stack
from harness import (ENVOY_CONFIG, REPO, Sts, envoy_binary, free_port, http_get,
                     prometheus_binary, render_envoy_config, sidecar_binary)
from oidc import Issuer
from rows import check, send
from world import HELLO_HOST, REGION, VPC_A, Caller

DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
EXT_AUTHZ = "envoy.filters.http.ext_authz"


def envoy_config() -> dict:
    return yaml.safe_load(ENVOY_CONFIG.read_text())


def listener(config: dict, name: str) -> dict:
    (found,) = [x for x in config["static_resources"]["listeners"] if x["name"] == name]
    return found


def cluster_port(config: dict, name: str) -> int:
    (found,) = [c for c in config["static_resources"]["clusters"] if c["name"] == name]
    (group,) = found["load_assignment"]["endpoints"]
    (endpoint,) = group["lb_endpoints"]
    return endpoint["endpoint"]["address"]["socket_address"]["port_value"]


def hcm(config: dict, name: str = "ingress") -> dict:
    (chain,) = listener(config, name)["filter_chains"]
    (f,) = chain["filters"]
    return f["typed_config"]


def test_envoy_accepts_the_deploy_config_and_the_rendered_one(workdir):
    rendered = workdir / "envoy.yaml"
    rendered.write_text(yaml.safe_dump(render_envoy_config(
        ENVOY_CONFIG, free_port(), free_port(), free_port())))
    for path in (ENVOY_CONFIG, rendered):
        run = subprocess.run([envoy_binary(), "--mode", "validate", "-c", path,
                              "--disable-hot-restart"], capture_output=True, timeout=60)
        assert run.returncode == 0, run.stderr.decode()[-2000:]


def test_envoy_config_keeps_the_options_that_matter():
    config = envoy_config()
    manager = hcm(config)
    # The caller's VPC comes from the TCP peer, not from X-Forwarded-For.
    assert manager["use_remote_address"] is True
    assert manager.get("xff_num_trusted_hops", 0) == 0
    # No rewriting of :path before ext_authz: it would break SigV4.
    assert manager.get("normalize_path", False) is False
    assert manager.get("merge_slashes", False) is False
    assert manager.get("path_with_escaped_slashes_action", "KEEP_UNCHANGED") == "KEEP_UNCHANGED"
    # ext_authz first, gRPC v3 to an HTTP/2 cluster, raw headers, fail closed, 250 ms.
    filters = manager["http_filters"]
    assert filters[0]["name"] == EXT_AUTHZ and filters[-1]["name"] == "envoy.filters.http.router"
    authz = filters[0]["typed_config"]
    assert authz["transport_api_version"] == "V3"
    assert authz["grpc_service"]["envoy_grpc"]["cluster_name"] == "lattice_authz"
    assert authz["grpc_service"]["timeout"] == "0.25s"
    assert authz["encode_raw_headers"] is True
    assert authz["failure_mode_allow"] is False
    assert "status_on_error" not in authz, "keep Envoy's default 403 for a sidecar that is down"
    assert "with_request_body" not in authz, "Lattice needs no body (UNSIGNED-PAYLOAD)"
    assert "allowed_headers" not in authz, "the sidecar needs every signed header"
    assert authz["stat_prefix"]
    (cluster,) = [c for c in config["static_resources"]["clusters"]
                  if c["name"] == "lattice_authz"]
    options = cluster["typed_extension_protocol_options"][
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
    assert "http2_protocol_options" in options["explicit_http_config"]
    (log,) = manager["access_log"]
    assert (f"%DYNAMIC_METADATA({EXT_AUTHZ})%"
            in log["typed_config"]["log_format"]["json_format"].values())
    # Envoy's admin stays on loopback.
    assert config["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"


def k8s_docs() -> dict[tuple[str, str], dict]:
    docs = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs[(doc["kind"], doc["metadata"]["name"])] = doc
    return docs


def container(pod: dict, name: str) -> dict:
    (found,) = [c for c in pod["containers"] if c["name"] == name]
    return found


def flag(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def ports(c: dict) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in c.get("ports", [])}


def test_kubernetes_manifests_agree_with_envoy_and_the_world():
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (DEPLOY / resource).is_file(), resource
    generated = {g["name"]: g for g in kustomization["configMapGenerator"]}
    for g in generated.values():
        for f in g["files"]:
            assert (DEPLOY / f).is_file(), f
    assert generated["lattice-authz-envoy"]["files"] == ["envoy/envoy.yaml"]
    # The example Secret's keys are public: it shows the Secret's shape and is never applied.
    assert "k8s/secret.example.yaml" not in kustomization["resources"]
    # The world ConfigMap is updated in place so the sidecar hot-reloads it.
    assert generated["lattice-authz-world"]["options"]["disableNameSuffixHash"] is True

    docs = k8s_docs()
    deployment = docs[("Deployment", "nginx-lattice")]
    pod = deployment["spec"]["template"]["spec"]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    envoy_c, sidecar, app = (container(pod, n) for n in ("envoy", "lattice-authz", "app"))
    config = envoy_config()

    # Ports: what Envoy listens on and dials is what the containers use.
    assert ports(envoy_c)["http"] == listener(config, "ingress")["address"]["socket_address"][
        "port_value"]
    assert ports(envoy_c)["envoy-stats"] == listener(config, "stats")["address"][
        "socket_address"]["port_value"]
    assert flag(sidecar["args"], "--listen") == f"127.0.0.1:{cluster_port(config, 'lattice_authz')}"
    metrics_port = int(flag(sidecar["args"], "--metrics-listen").rsplit(":", 1)[1])
    assert ports(sidecar)["metrics"] == metrics_port
    app_conf = (K8S / "app" / "default.conf").read_text()
    assert f"listen 127.0.0.1:{cluster_port(config, 'app')};" in app_conf

    # No built-in example world: the world must load at start-up.
    assert "--require-world" in sidecar["args"]

    # Probes and scrape annotations.
    assert sidecar["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert sidecar["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert envoy_c["readinessProbe"]["httpGet"]["port"] == "envoy-stats"
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(metrics_port)
    assert annotations["prometheus.io/path"] == "/metrics"

    # Non-root everywhere, read-only root file systems.
    assert pod["securityContext"]["runAsNonRoot"] is True
    for c in (envoy_c, sidecar, app):
        assert c["securityContext"]["readOnlyRootFilesystem"] is True, c["name"]
        assert c["securityContext"]["allowPrivilegeEscalation"] is False, c["name"]

    # The world: mounted where --config points; every secret it names comes from the Secret.
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in sidecar["volumeMounts"]}
    assert flag(sidecar["args"], "--config") == mounts["world"]
    assert volumes["world"]["configMap"]["name"] == "lattice-authz-world"
    assert volumes["envoy-config"]["configMap"]["name"] == "lattice-authz-envoy"
    secret = docs[("Secret", "lattice-authz-credentials")]
    world_text = (K8S / "world" / "world.yaml").read_text()
    env_refs = set(re.findall(r"\{env: ([A-Z0-9_]+)\}", world_text))
    file_refs = set(re.findall(r"\{file: ([^}]+)\}", world_text))
    assert env_refs and file_refs
    env = {e["name"]: e for e in sidecar["env"]}
    for name in env_refs:
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == secret["metadata"]["name"] and ref["key"] in secret["stringData"]
    check_file_refs(file_refs, volumes, mounts, secret)
    # No secret value is left in the world ConfigMap.
    for value in secret["stringData"].values():
        assert value not in world_text
    for value in session_keys_secret()["stringData"].values():
        assert value not in world_text


# The label Kubernetes (1.22+) sets on every namespace, and the namespace the manifests name as
# Prometheus's (docs/deploying.md says to replace it with yours).
PROMETHEUS_NAMESPACE = {"kubernetes.io/metadata.name": "monitoring"}


def prometheus_only(policy: dict) -> list[str]:
    """The ports of a NetworkPolicy's rules that admit Prometheus's namespace only; asserts that
    every rule naming a metrics port is such a rule."""
    ports = []
    for rule in policy["spec"]["ingress"]:
        named = [p["port"] for p in rule["ports"]]
        if rule.get("from") == [{"namespaceSelector": {"matchLabels": PROMETHEUS_NAMESPACE}}]:
            ports += named
        else:
            assert not {"metrics", "envoy-stats"} & set(named), rule
    return ports


def test_packaging_never_serves_the_example_world_or_opens_metrics_to_all():
    """The image requires a world; the pod's metrics ports admit Prometheus's namespace only."""
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "\nENV LATTICE_AUTHZ_REQUIRE_WORLD=true\n" in dockerfile
    (cmd,) = [line for line in dockerfile.splitlines() if line.startswith("CMD ")]
    assert json.loads(cmd.removeprefix("CMD "))[:2] == ["serve", "--require-world"]
    policy = k8s_docs()[("NetworkPolicy", "nginx-lattice")]
    assert prometheus_only(policy) == ["metrics", "envoy-stats"]
    # Envoy's listener stays open to all: it is what callers reach.
    assert {"ports": [{"port": "http", "protocol": "TCP"}]} in policy["spec"]["ingress"]


def test_the_sidecar_exits_69_without_its_world(workdir):
    """`--require-world` as the pods run it: a world that does not load stops the process before
    it binds anything, and no world at all is a settings error."""
    base = [sidecar_binary(), "serve", "--require-world", "--listen", f"127.0.0.1:{free_port()}",
            "--metrics-listen", f"127.0.0.1:{free_port()}"]
    env = {"PATH": "/usr/bin:/bin"}
    missing = subprocess.run(base + ["--config", workdir / "absent.yaml"], env=env,
                             capture_output=True, timeout=30)
    assert missing.returncode == 69, missing.stderr.decode()
    assert missing.stderr.decode() == (
        "lattice-authz: the world did not load at start-up and require_world is set\n")
    none = subprocess.run(base, env=env, capture_output=True, timeout=30)
    assert none.returncode == 64, none.stderr.decode()


def envoy_doc_route_snippet() -> list[dict]:
    """The routes of docs/envoy.md's "Health checks without a Check" section."""
    doc = (REPO / "docs" / "envoy.md").read_text()
    section = doc.split("### Health checks without a Check", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    return yaml.safe_load(block)["routes"]


def test_envoy_accepts_the_documented_health_check_route(workdir):
    routes = envoy_doc_route_snippet()
    health, catch_all = routes
    assert health["match"]["path"] == "/healthz" and "prefix" not in health["match"]
    per_route = health["typed_per_filter_config"][EXT_AUTHZ]
    assert per_route["@type"].endswith("ext_authz.v3.ExtAuthzPerRoute")
    assert per_route["disabled"] is True
    assert catch_all["match"] == {"prefix": "/"}
    config = render_envoy_config(ENVOY_CONFIG, free_port(), free_port(), free_port())
    (vhost,) = hcm(config)["route_config"]["virtual_hosts"]
    vhost["routes"] = routes
    path = workdir / "envoy-health-route.yaml"
    path.write_text(yaml.safe_dump(config))
    run = subprocess.run([envoy_binary(), "--mode", "validate", "-c", path,
                          "--disable-hot-restart"], capture_output=True, timeout=60)
    assert run.returncode == 0, run.stderr.decode()[-2000:]


def session_keys_secret() -> dict:
    """k8s/sts/secret.example.yaml: the shape of the session-key Secret (never applied)."""
    return yaml.safe_load((K8S / "sts" / "secret.example.yaml").read_text())


def check_file_refs(file_refs: set[str], volumes: dict, mounts: dict, secret: dict) -> None:
    """Every `{file: ...}` of the world is a file of a volume the container mounts: a listed item
    of the credentials Secret, a key of the session-key Secret, or the OIDC key set ConfigMap."""
    by_path = {path: name for name, path in mounts.items()}
    generated = {g["name"]: g for g in yaml.safe_load(
        (DEPLOY / "kustomization.yaml").read_text())["configMapGenerator"]}
    for path in file_refs:
        directory, name = path.rsplit("/", 1)
        volume = volumes[by_path[directory]]
        if volume.get("secret", {}).get("secretName") == secret["metadata"]["name"]:
            items = {i["path"]: i["key"] for i in volume["secret"]["items"]}
            assert items[name] in secret["stringData"], path
        elif "secret" in volume:
            keys = session_keys_secret()
            assert volume["secret"]["secretName"] == keys["metadata"]["name"], path
            assert "items" not in volume["secret"], "mounted whole: rotation adds keys"
            assert name in keys["stringData"], path
        else:
            files = generated[volume["configMap"]["name"]]["files"]
            assert name in [f.rsplit("/", 1)[-1] for f in files], path


def k8s_files(*paths: str) -> dict[tuple[str, str], dict]:
    docs = {}
    for path in paths:
        for doc in yaml.safe_load_all((K8S / path).read_text()):
            if doc:
                docs[(doc["kind"], doc["metadata"]["name"])] = doc
    return docs


def test_sts_and_workload_manifests_agree_with_the_world():
    """deploy/k8s/sts/ (the STS, two replicas) and deploy/k8s/app/workload.yaml (a pod using it
    the way IRSA pods use AWS STS) against the sidecar's pod, the world and each other."""
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    namespace = kustomization["namespace"]
    resources = kustomization["resources"]
    for path in ("k8s/sts/deployment.yaml", "k8s/sts/service.yaml", "k8s/sts/networkpolicy.yaml",
                 "k8s/app/workload.yaml"):
        assert path in resources, path
    assert "k8s/sts/secret.example.yaml" not in resources, "the session-key example is not applied"
    docs = k8s_files("sts/deployment.yaml", "sts/service.yaml", "sts/networkpolicy.yaml",
                     "app/workload.yaml")
    sidecar_pod = k8s_docs()[("Deployment", "nginx-lattice")]["spec"]["template"]["spec"]
    sidecar = container(sidecar_pod, "lattice-authz")

    # The STS: two replicas of `lattice-authz sts` on the sidecar's world, secrets and volumes.
    deployment = docs[("Deployment", "lattice-authz-sts")]
    assert deployment["spec"]["replicas"] == 2
    assert docs[("PodDisruptionBudget", "lattice-authz-sts")]["spec"]["minAvailable"] == 1
    pod = deployment["spec"]["template"]["spec"]
    (sts,) = pod["containers"]
    assert sts["image"] == sidecar["image"] == "lattice-authz"
    assert sts["args"][0] == "sts"
    assert flag(sts["args"], "--config") == flag(sidecar["args"], "--config")
    sts_port = int(flag(sts["args"], "--listen").rsplit(":", 1)[1])
    metrics_port = int(flag(sts["args"], "--metrics-listen").rsplit(":", 1)[1])
    assert ports(sts) == {"sts": sts_port, "metrics": metrics_port}
    assert deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == str(
        metrics_port)
    assert sts["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert sts["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert sts["securityContext"]["readOnlyRootFilesystem"] is True
    assert sts["securityContext"]["allowPrivilegeEscalation"] is False
    # The world loads the same in both: the same secret environment and the same volumes at the
    # same places (the sidecar opens what the STS seals).
    secret_env = [e for e in sidecar["env"] if "valueFrom" in e]
    assert [e for e in sts["env"] if "valueFrom" in e] == secret_env
    sidecar_volumes = {v["name"]: v for v in sidecar_pod["volumes"]}
    sts_volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in sts["volumeMounts"]:
        assert mount in sidecar["volumeMounts"], mount
        assert sts_volumes[mount["name"]] == sidecar_volumes[mount["name"]], mount["name"]
    world_text = (K8S / "world" / "world.yaml").read_text()
    check_file_refs(set(re.findall(r"\{file: ([^}]+)\}", world_text)), sts_volumes,
                    {m["name"]: m["mountPath"] for m in sts["volumeMounts"]},
                    k8s_docs()[("Secret", "lattice-authz-credentials")])

    # The Service and the NetworkPolicy.
    service = docs[("Service", "lattice-authz-sts")]
    (service_port,) = service["spec"]["ports"]
    assert service_port["targetPort"] == "sts"
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    policy = docs[("NetworkPolicy", "lattice-authz-sts")]
    assert policy["spec"]["podSelector"] == deployment["spec"]["selector"]
    allowed = [p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]]
    assert allowed == ["sts", "metrics"]
    assert prometheus_only(policy) == ["metrics"]
    assert "--require-world" in sts["args"]

    # The workload: a projected token for sts.amazonaws.com where AWS_WEB_IDENTITY_TOKEN_FILE
    # says, the STS Service in AWS_ENDPOINT_URL_STS, and the role's trust policy naming its
    # service account through the world's provider.
    account = docs[("ServiceAccount", "lattice-client")]
    workload = docs[("Deployment", "lattice-client")]["spec"]["template"]["spec"]
    assert workload["serviceAccountName"] == account["metadata"]["name"]
    assert workload["automountServiceAccountToken"] is False
    (client,) = workload["containers"]
    env = {e["name"]: e for e in client["env"]}
    assert {"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_SESSION_NAME",
            "AWS_ENDPOINT_URL_STS", "AWS_REGION", "AWS_DEFAULT_REGION"} <= set(env)
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} & set(env)
    assert env["AWS_ROLE_SESSION_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["AWS_ENDPOINT_URL_STS"]["value"] == (
        f"http://{service['metadata']['name']}.{namespace}.svc.cluster.local:{service_port['port']}")
    token_file = env["AWS_WEB_IDENTITY_TOKEN_FILE"]["value"]
    assert token_file == "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"
    directory, file_name = token_file.rsplit("/", 1)
    (mount,) = [m for m in client["volumeMounts"] if m["mountPath"] == directory]
    (volume,) = [v for v in workload["volumes"] if v["name"] == mount["name"]]
    (source,) = volume["projected"]["sources"]
    projection = source["serviceAccountToken"]
    assert projection["audience"] == "sts.amazonaws.com"
    assert projection["path"] == file_name
    assert 600 <= projection["expirationSeconds"] <= 86400

    world = yaml.safe_load(world_text)
    (provider,) = world["openIdConnectProviders"]
    assert projection["audience"] in provider["clientIdList"]
    (role,) = [r for r in world["roles"] if r["arn"] == env["AWS_ROLE_ARN"]["value"]]
    prefix = provider["url"].removeprefix("https://")
    (statement,) = role["assumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {
        "Federated": f"arn:aws:iam::{provider['accountId']}:oidc-provider/{prefix}"}
    assert statement["Condition"]["StringEquals"] == {
        f"{prefix}:aud": projection["audience"],
        f"{prefix}:sub": f"system:serviceaccount:{namespace}:{account['metadata']['name']}"}


def test_kubernetes_world_serves_the_rows_with_its_secrets(workdir):
    """The sidecar on deploy/k8s/world/world.yaml, its secrets from environment variables and
    files exactly as the pod provides them, behind Envoy: signed rows decide as in the example."""
    secret = k8s_docs()[("Secret", "lattice-authz-credentials")]["stringData"]
    secrets_dir = workdir / "secrets"
    secrets_dir.mkdir()
    env = {}
    world_text = (K8S / "world" / "world.yaml").read_text()
    for key, value in secret.items():
        if f"{{env: {key}}}" in world_text:
            env[key] = value
        else:
            (secrets_dir / key).write_text(value + "\n")  # as a mounted Secret file may end
    # The session keys as their Secret provides them; the OIDC key set replaced, as an operator
    # replaces it with the cluster's, by the key set of a test issuer with the world's issuer URL.
    keys_dir, oidc_dir = workdir / "session-keys", workdir / "oidc"
    keys_dir.mkdir()
    oidc_dir.mkdir()
    for key, value in session_keys_secret()["stringData"].items():
        (keys_dir / key).write_text(value + "\n")
    (provider,) = yaml.safe_load(world_text)["openIdConnectProviders"]
    issuer = Issuer(provider["url"])
    issuer.write_jwks(oidc_dir / "jwks.json")
    world = workdir / "world.yaml"
    world.write_text(world_text.replace("/etc/lattice-authz/secrets/", f"{secrets_dir}/")
                     .replace("/etc/lattice-authz/session-keys/", f"{keys_dir}/")
                     .replace("/etc/lattice-authz/oidc/", f"{oidc_dir}/"))

    validate = subprocess.run([sidecar_binary(), "validate", "--config", world],
                              env={"PATH": "/usr/bin:/bin", **env}, capture_output=True,
                              timeout=30)
    assert validate.returncode == 0, validate.stdout.decode() + validate.stderr.decode()

    stack = start_stack("k8s-world", world=world, sidecar_env=env)
    try:
        for client, number in (("curl --aws-sigv4", 2), ("curl --aws-sigv4", 3),
                               ("article2_post.py", 4), ("curl --aws-sigv4", 5), ("curl", 1)):
            row, resp = send(client, number, stack.envoy_port, stack.upstream.port)
            check(row, resp, method="POST" if client == "article2_post.py" else None)
        # The STS on the same world: the sample workload's token (k8s/app/workload.yaml) buys a
        # session of role app, which the sidecar accepts on the hello service.
        sts = Sts(workdir, world, env=env).start()
        try:
            token = issuer.service_account_token("lattice-authz", "lattice-client")
            answer = boto3.session.Session(region_name=REGION).client(
                "sts", endpoint_url=sts.url,
                config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}),
            ).assume_role_with_web_identity(RoleArn="arn:aws:iam::111122223333:role/app",
                                            RoleSessionName="lattice-client-6d9f7-x2x4q",
                                            WebIdentityToken=token)
        finally:
            sts.stop()
        arn = "arn:aws:sts::111122223333:assumed-role/app/lattice-client-6d9f7-x2x4q"
        assert answer["AssumedRoleUser"]["Arn"] == arn
        c = answer["Credentials"]
        caller = Caller("sts-session", arn, c["AccessKeyId"], c["SecretAccessKey"],
                        session_token=c["SessionToken"])
        resp = curl(stack.envoy_port, host=HELLO_HOST, source_ip=VPC_A.source_ip, caller=caller)
        assert resp.status == 200, resp
        identity = dict(resp.upstream_saw()["headers"])["x-amzn-lattice-identity"]
        assert identity.startswith(f"Principal={arn}; "), identity
    finally:
        stop_stack(stack)


def test_prometheus_configs_pass_promtool(workdir):
    promtool = prometheus_binary("promtool")
    local = DEPLOY / "prometheus" / "prometheus-local.yml"
    run = subprocess.run([promtool, "check", "config", local], capture_output=True, timeout=30)
    assert run.returncode == 0, run.stdout.decode() + run.stderr.decode()
    # Debian's Prometheus has no Kubernetes discovery: check everything else of the Kubernetes
    # config (relabel regexes, paths) with static targets in its place.
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    for job in config["scrape_configs"]:
        assert job.pop("kubernetes_sd_configs", None) == [{"role": "pod"}], job["job_name"]
        job["static_configs"] = [{"targets": ["127.0.0.1:9464"]}]
    swapped = workdir / "prometheus-k8s-static.yml"
    swapped.write_text(yaml.safe_dump(config))
    run = subprocess.run([promtool, "check", "config", swapped], capture_output=True, timeout=30)
    assert run.returncode == 0, run.stdout.decode() + run.stderr.decode()


def test_stats_listener_exposes_metrics_and_readiness_only(stack):
    """The stats listener (what the kubelet and Prometheus reach) is not the admin interface."""
    assert stack.envoy is not None
    base = f"http://127.0.0.1:{stack.envoy.stats_port}"
    assert http_get(f"{base}/ready")[0] == 200
    status, body = http_get(f"{base}/stats/prometheus")
    assert status == 200 and b"envoy_http_ext_authz_ok" in body
    for path in ("/quitquitquit", "/healthcheck/fail", "/config_dump", "/stats", "/"):
        assert http_get(f"{base}{path}")[0] == 404, path


def test_grafana_dashboard_panels_are_well_formed():
    """Every panel of the dashboard has a numeric grid position and size, and every stat panel
    a description and thresholds where Grafana reads them (a generator once put them in gridPos)."""
    dashboard = json.loads((REPO / "deploy" / "grafana" / "lattice-authz.json").read_text())
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert all(isinstance(grid[k], int) for k in ("x", "y", "w", "h")), panel["title"]
        if panel["type"] == "stat":
            assert isinstance(panel["description"], str), panel["title"]
            steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
            assert steps and steps[0]["value"] is None, panel["title"]
