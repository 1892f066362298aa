"""What scripts/bench-load.py, scripts/bench-envoy.py and scripts/soak.py share: building,
pinning, h2load runs and their statistics. Loopback only; every process started here is stopped
by its caller."""

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def log(name, message):
    print(f"{name}: {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_bench_tools(*bins):
    """Builds programs of the bench tools crate (bench/) in release; returns their directory.
    Built apart from the sidecar: one cargo command for both would build the sidecar with the
    `test-util` feature the bench tools turn on."""
    command = ["cargo", "build", "--quiet", "--release", "--locked", "-p", "lattice-authz-bench"]
    for bin in bins:
        command += ["--bin", bin]
    subprocess.run(command, cwd=ROOT, check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    return (target if target.is_absolute() else ROOT / target) / "release"


def build(name):
    """Builds the release sidecar and the bench tools' programs; returns their paths."""
    log(name, "building release binaries")
    subprocess.run(["cargo", "build", "--quiet", "--release", "--locked", "-p", "lattice-authz",
                    "--bin", "lattice-authz"], cwd=ROOT, check=True)
    release = build_bench_tools("null_authz", "load_request", "serial_pairs")
    return {
        "sidecar": release / "lattice-authz",
        "null": release / "null_authz",
        "request": release / "load_request",
        "pairs": release / "serial_pairs",
    }


def ensure_h2load(name):
    if shutil.which("h2load"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log(name, "installing h2load (Debian nghttp2-client)")
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "nghttp2-client"],
            check=True,
            stdout=subprocess.DEVNULL,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        return
    sys.exit(f"{name}: h2load is missing: apt-get install nghttp2-client")


def pin(cpu):
    """The command prefix that pins a process to `cpu` (nothing when `cpu` is None)."""
    if cpu is None or not shutil.which("taskset"):
        return []
    return ["taskset", "-c", str(cpu)]


def wait_for(predicate, what, process=None, deadline=20.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if process is not None and process.poll() is not None:
            sys.exit(f"{what}: the process exited early with {process.returncode}")
        if predicate():
            return
        time.sleep(0.05)
    sys.exit(f"timed out after {deadline} s waiting for {what}")


def listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def cpu_seconds(pid):
    """User plus system CPU time of `pid` so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def h2load(name, label, url, extra, *, duration, warmup, concurrency, client_cpu, workdir,
           cpu_pids=()):
    """One timed h2load run after a warm-up run of its own. Every response must be 2xx. Returns
    throughput, p50/p99/p99.9 (µs, from h2load's per-request log) and CPU µs per request of
    `cpu_pids`, all over the measured run only: with h2load's `--warm-up-time` the requests of
    the warm-up are not counted but their CPU time would be."""
    log_file = workdir / f"h2load-{label}.tsv"
    base = pin(client_cpu) + [
        "h2load", "-c", str(concurrency[0]), "-m", str(concurrency[1]), "-t", "1",
    ] + extra
    if warmup > 0:
        subprocess.run(
            base + ["-D", str(warmup), url], check=True, capture_output=True,
            timeout=warmup + 60,
        )
    command = base + ["-D", str(duration), "--log-file", str(log_file), url]
    cpu_before = sum(cpu_seconds(p) for p in cpu_pids)
    out = subprocess.run(
        command, check=True, capture_output=True, text=True, timeout=duration + 60
    ).stdout
    cpu = sum(cpu_seconds(p) for p in cpu_pids) - cpu_before
    done = re.search(
        r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
        r"(\d+) errored", out)
    status = re.search(r"status codes: (\d+) 2xx", out)
    if not done or not status:
        sys.exit(f"{name}: cannot read h2load's output:\n{out}")
    total = int(done.group(3))
    if int(done.group(5)) or int(done.group(6)) or int(status.group(1)) != total:
        sys.exit(f"{name}: {label}: h2load saw failures or non-2xx answers:\n{out}")
    rows = []
    for line in log_file.read_text().splitlines():
        fields = line.split("\t")
        if len(fields) >= 3:
            rows.append((int(fields[0]), int(fields[2])))
    log_file.unlink()
    if not rows:
        sys.exit(f"{name}: {label}: h2load logged no requests")
    latencies = sorted(lat for _, lat in rows)
    span = (max(s for s, _ in rows) - min(s for s, _ in rows)) / 1e6
    return {
        "requests": len(latencies),
        "throughput": len(latencies) / span if span > 0 else float("nan"),
        "p50": percentile(latencies, 0.50),
        "p99": percentile(latencies, 0.99),
        "p999": percentile(latencies, 0.999),
        "cpu_us": cpu * 1e6 / total if total else float("nan"),
    }


def medians(results):
    keys = ("throughput", "p50", "p99", "p999", "cpu_us", "authorizer_cpu_us")
    return {k: statistics.median(r[k] for r in results) for k in keys if k in results[0]}


def stop(processes):
    import signal
    for p in processes:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in processes:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
