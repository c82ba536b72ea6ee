"""Running sweep cases as Ray tasks, on a local Ray or an existing cluster.

What a task gets:

* **Code.** The driver's own copies of ``alpaserve``, ``simulator``, ``placement`` and
  ``workloads`` (and the runner's module when it lives outside them and outside
  site-packages) travel in the job's ``runtime_env`` as ``py_modules``, so the cluster runs
  exactly the code the driver runs, whatever version its nodes have installed. The cluster
  only needs the same Python version and the third-party dependencies.
* **CPUs.** ``num_cpus`` per task (default 1); Ray runs as many tasks at once as the
  cluster has CPUs. The task's compiled code uses that many threads (``NUMBA_NUM_THREADS``
  and the BLAS variables in ``runtime_env.env_vars``), and the plan runner simulates on one
  thread, so tasks do not oversubscribe a node.
* **Failures.** A case whose runner raises is counted in the report's ``failed`` mapping as
  ``"ErrorType: message"`` exactly as in the local pool; a lost worker is retried by Ray,
  and if it is lost for good the sweep stops with a :class:`SweepError` (as a dead pool
  process does), keeping every row written so far for the rerun.

Authentication: Ray clusters started with ``ray start`` use token authentication by default
in recent Ray releases. The driver then needs ``RAY_AUTH_MODE=token`` and the cluster's token
(``RAY_AUTH_TOKEN``, or the file named by ``RAY_AUTH_TOKEN_PATH``, default
``~/.ray/auth_token``) in its environment; a failed connection names these variables.
"""

from __future__ import annotations

import logging
import os
import sys
import sysconfig
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from alpaserve.sweep.pool import failure
from alpaserve.sweep.storage import SweepError

logger = logging.getLogger(__name__)

PACKAGES = ("alpaserve", "simulator", "placement", "workloads")
_EXCLUDES = ["__pycache__", "*.pyc", "*.nbi", "*.nbc"]


def runtime_env(runner: Callable[..., Any], *, num_cpus: float = 1.0) -> dict[str, Any]:
    """The ``runtime_env`` that ships this process's code to the cluster's workers.

    Parameters
    ----------
    runner
        The sweep runner; its module is shipped too when it is not part of the packages
        or of an installed distribution.
    num_cpus
        CPUs per task, which is also the threads its compiled code may use.

    Returns
    -------
    dict
        ``py_modules``, ``excludes`` and ``env_vars``.

    Examples
    --------
    >>> from alpaserve.sweep.cases import run_plan_case
    >>> env = runtime_env(run_plan_case, num_cpus=2)
    >>> sorted(Path(p).name for p in env["py_modules"]), env["env_vars"]["NUMBA_NUM_THREADS"]
    (['alpaserve', 'placement', 'simulator', 'workloads'], '2')
    """
    modules = [str(Path(sys.modules[name].__file__ or "").parent) for name in PACKAGES
               if _imported(name)]
    extra = _runner_module_file(runner)
    if extra is not None:
        modules.append(extra)
    threads = str(max(1, int(num_cpus)))
    env_vars = {var: threads for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS",
                                         "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    return {"py_modules": modules, "excludes": list(_EXCLUDES), "env_vars": env_vars}


def _imported(name: str) -> bool:
    if name not in sys.modules:
        __import__(name)
    return getattr(sys.modules[name], "__file__", None) is not None


def _runner_module_file(runner: Callable[..., Any]) -> str | None:
    name = getattr(runner, "__module__", None) or ""
    module = sys.modules.get(name)
    file = getattr(module, "__file__", None)
    if not file or name.split(".")[0] in PACKAGES or name == "__main__":
        return None
    installed = {sysconfig.get_paths()[k] for k in ("purelib", "platlib", "stdlib")}
    if any(Path(file).resolve().is_relative_to(Path(p).resolve()) for p in installed):
        return None
    if "." in name:  # a package of the user's: ship its top-level directory
        top = sys.modules.get(name.split(".")[0])
        top_file = getattr(top, "__file__", None)
        return str(Path(top_file).parent) if top_file else None
    return file


def run_on_ray(todo: Sequence[Any], runner: Callable[..., Any], *, address: str | None,
               num_cpus: float, execute: Callable[..., dict[str, Any]], args: tuple[Any, ...],
               record: Callable[[dict[str, Any]], None], failed: dict[str, str],
               bar: Any) -> None:
    """Run ``execute(runner, case, *args)`` for every case as a Ray task, recording rows as
    they finish.

    Parameters
    ----------
    todo
        The cases to run.
    runner
        The sweep runner.
    address
        A cluster address (``host:port`` or ``ray://...``); ``None`` uses Ray's default
        (``RAY_ADDRESS``, a cluster on this machine, or a new local one). If Ray is already
        initialised in this process, that connection is used and left open, and the code
        the workers run is what its ``runtime_env`` ships (see :func:`runtime_env`).
    num_cpus
        CPUs per task.
    execute, args
        The per-case function of :func:`alpaserve.sweep.runner.run_sweep` and its extra
        arguments.
    record
        Called with each finished row.
    failed
        Receives ``case_id -> "ErrorType: message"`` for each failed case.
    bar
        A progress bar (``update(n)``).

    Returns
    -------
    None

    Examples
    --------
    >>> run_on_ray([], print, address=None, num_cpus=1, execute=print, args=(),
    ...            record=print, failed={}, bar=None)
    """
    if not todo:
        return
    if not num_cpus > 0:
        raise SweepError(f"Ray tasks need a positive CPU count, got num_cpus={num_cpus!r}")
    import ray

    started_here = not ray.is_initialized()
    if started_here:
        _connect(ray, address, runtime_env(runner, num_cpus=num_cpus))
    else:
        # Ray ships local code only at the job level, which the caller has fixed.
        logger.info("Ray was initialised by the caller: the workers run the code of its "
                    "runtime_env (pass runtime_env(runner) to ray.init to ship this one)")
    try:
        remote = ray.remote(execute).options(num_cpus=num_cpus)
        refs = {remote.remote(runner, case, *args): case for case in todo}
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                try:
                    row = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:
                    cause = exc.cause if isinstance(exc.cause, BaseException) else exc
                    failed[refs[ref].case_id] = failure(cause)
                except ray.exceptions.RayError as exc:  # a lost worker, after Ray's retries
                    raise SweepError(f"a Ray worker died ({type(exc).__name__}); rerun the "
                                     "same command to resume") from exc
                else:
                    record(row)
                bar.update(1)
    finally:
        if started_here:
            ray.shutdown()


def _connect(ray: Any, address: str | None, env: dict[str, Any]) -> None:
    # Options such as include_dashboard are refused when joining an existing cluster.
    local = {} if address else {"include_dashboard": False}
    try:
        ray.init(address=address, runtime_env=env, log_to_driver=False,
                 logging_level=logging.WARNING, **local)
    except (ConnectionError, RuntimeError) as exc:
        hint = ""
        if address and os.environ.get("RAY_AUTH_MODE", "").lower() != "token":
            hint = ("; if the cluster uses token authentication (the default of `ray start`), "
                    "set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH")
        raise SweepError(f"cannot connect to the Ray cluster at {address or 'a local Ray'!r}: "
                         f"{' '.join(str(exc).split())}{hint}") from exc
