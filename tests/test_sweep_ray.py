"""Sweeps on a running Ray cluster: a local head node started (and stopped) by the test.

The head node runs with token authentication (``RAY_AUTH_MODE=token`` and a fresh
``RAY_AUTH_TOKEN``, the default of ``ray start`` in current Ray); the driver gets the same
two variables, which is all a user sets up besides the address. Every port the node opens is
chosen free, so the test does not collide with another Ray on the machine, and the node is
stopped by ending the process group of the ``ray start --block`` it started (``ray stop``
would end every Ray on the machine).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from alpaserve.sweep.cases import run_plan_case
from alpaserve.sweep.ray_backend import runtime_env
from alpaserve.sweep.runner import SweepGrid, read_results, run_sweep

sys.path.insert(0, str(Path(__file__).parent))
import contextlib

from _sweep_runner import failing_runner, synthetic_runner

pytestmark = pytest.mark.slow

GRID = SweepGrid(policies=("sr", "alpaserve"), devices=(1, 2), cv_scales=(1.0, 2.0),
                 seeds=(0, 1), settings={"models": "bert-1.3b:2", "rate": 4.0,
                                         "duration": 10.0})


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@pytest.fixture(scope="module")
def ray_head() -> Iterator[tuple[str, dict[str, str]]]:
    """The address of a fresh head node and the auth variables a driver needs."""
    ray_bin = Path(sys.executable).parent / "ray"
    if not ray_bin.exists():
        pytest.skip("the ray command line is not installed next to this Python")
    pytest.importorskip("ray")
    gcs, agent, agent_grpc, node, objects, env_agent, metrics = _free_ports(7)
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    for address in _head(ray_bin, gcs, [agent, agent_grpc, node, objects, env_agent, metrics],
                         {**os.environ, **auth, "RAY_USAGE_STATS_ENABLED": "0"}):
        yield address, auth


# The driver side runs in a fresh process: Ray reads its auth token once per process, and an
# earlier test may already have started Ray in this one. Ray also rewrites a loopback address
# to the machine's outward IP, where this head (started on the loopback) does not listen; the
# driver is kept on the loopback, as everything here is.
_DRIVER = """
import json, sys
sys.path[:0] = [{root!r}, {tests!r}]
import ray._private.services as services
services.get_node_ip_address = lambda address=None: "127.0.0.1"
from test_sweep_ray import GRID
from _sweep_runner import failing_runner
from alpaserve.sweep.cases import run_plan_case
from alpaserve.sweep.runner import run_sweep
ok = run_sweep(GRID, {ok!r}, runner=run_plan_case, ray_address={address!r})
bad = run_sweep(GRID, {bad!r}, runner=failing_runner, ray_address={address!r})
print(json.dumps({{"completed": ok.completed, "failed": bad.failed}}))
"""


def run_on_cluster(address: str, auth: dict[str, str], ok: Path, bad: Path) -> dict:
    code = _DRIVER.format(root=str(Path(__file__).resolve().parents[1]),
                          tests=str(Path(__file__).resolve().parent), ok=str(ok),
                          bad=str(bad), address=address)
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, **auth},
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _head(ray_bin: Path, gcs: int, ports: list[int], env: dict[str, str]) -> Iterator[str]:
    agent, agent_grpc, node, objects, env_agent, metrics = ports
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: unix socket paths are limited
    log = open(Path(temp) / "head.log", "w+")  # noqa: SIM115 (closed in the finally)
    proc = subprocess.Popen(
        [str(ray_bin), "start", "--head", f"--port={gcs}", "--num-cpus=2",
         "--include-dashboard=false", "--disable-usage-stats", "--block",
         f"--temp-dir={temp}",
         f"--dashboard-agent-listen-port={agent}", f"--dashboard-agent-grpc-port={agent_grpc}",
         f"--node-manager-port={node}", f"--object-manager-port={objects}",
         f"--runtime-env-agent-port={env_agent}", f"--metrics-export-port={metrics}",
         "--node-ip-address=127.0.0.1"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while "Ray runtime started" not in Path(log.name).read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ray start failed:\n{Path(log.name).read_text()[-3000:]}")
            time.sleep(0.5)
        yield f"127.0.0.1:{gcs}"
    finally:
        _stop(proc, temp)
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


def _stop(proc: subprocess.Popen, temp: str) -> None:
    """End the node this fixture started: its process group, then any of its processes
    (found by the node's own temp dir) that left the group."""
    for sig, wait_s in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait_s)
            break
        except subprocess.TimeoutExpired:
            continue
    time.sleep(1.0)
    for pid_dir in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (pid_dir / "cmdline").read_bytes()
        except OSError:
            continue
        if temp.encode() in cmdline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_dir.name), signal.SIGKILL)


def comparable(path: Path) -> list[dict]:
    rows = read_results(path)
    return sorted(({k: v for k, v in r.items() if k != "plan_wall_s"} for r in rows),
                  key=lambda r: r["case_id"])


def test_cluster_sweep_equals_the_local_pool(tmp_path: Path,
                                             ray_head: tuple[str, dict[str, str]]) -> None:
    address, auth = ray_head
    assert len(GRID.cases()) >= 16
    local = run_sweep(GRID, tmp_path / "local.csv", runner=run_plan_case, workers=2)
    # a runner from outside the packages is shipped too; failures are counted the same way
    failing_local = run_sweep(GRID, tmp_path / "fl.csv", runner=failing_runner)
    remote = run_on_cluster(address, auth, tmp_path / "ray.csv", tmp_path / "fr.csv")
    assert (local.completed, remote["completed"]) == (16, 16)
    assert comparable(tmp_path / "ray.csv") == comparable(tmp_path / "local.csv")
    assert remote["failed"] == failing_local.failed
    assert len(remote["failed"]) == 8
    assert comparable(tmp_path / "fr.csv") == comparable(tmp_path / "fl.csv")


def test_runtime_env_ships_the_packages_and_the_runner() -> None:
    env = runtime_env(synthetic_runner, num_cpus=1)
    names = sorted(Path(p).name for p in env["py_modules"])
    assert names == ["_sweep_runner.py", "alpaserve", "placement", "simulator", "workloads"]
    assert env["env_vars"]["NUMBA_NUM_THREADS"] == "1"
    import alpaserve

    assert str(Path(alpaserve.__file__).parent) in env["py_modules"]


def test_a_refused_connection_names_the_auth_variables(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from alpaserve.sweep.ray_backend import _connect
    from alpaserve.sweep.storage import SweepError

    class RefusingRay:
        def init(self, **kwargs: object) -> None:
            assert "include_dashboard" not in kwargs  # refused by Ray for an address
            raise ConnectionError("Failed to connect to Ray cluster at 10.0.0.1:6379")

    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    with pytest.raises(SweepError, match=r"cannot connect to the Ray cluster at '10\.0\.0\.1:"
                                         r"6379': Failed .* set RAY_AUTH_MODE=token and "
                                         r"RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH"):
        _connect(RefusingRay(), "10.0.0.1:6379", {})
