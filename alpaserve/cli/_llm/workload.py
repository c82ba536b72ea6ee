"""LLM workloads for ``alpaserve llm``: a trace or a synthetic stream, split across models,
fitted to their contexts and cut into training and test parts.

The steps, each recorded in the plan file's workload spec so ``llm simulate`` rebuilds
the same requests:

1. *requests*: a trace (Azure LLM 2023/2024 token counts, or the generic CSV with
   ``prompt_tokens`` and ``output_tokens`` columns) cut to ``--window a:b`` seconds after its
   first request and sped up ``--rate-scale`` times; or, without a trace, Gamma arrivals
   (``--rate``, ``--cv``, ``--duration``) with token counts drawn from
   :data:`workloads.llm_requests.SMALL_TOKEN_PAIRS`;
2. *split*: a single stream goes to the models by a power law (model ``k`` with probability
   proportional to ``(k + 1) ** -alpha``, ``--alpha``, ``--seed``); a CSV's model column
   (``--split column``) keeps its names, which must be the plan's models;
3. *context*: each request is fitted to its model's context (output at most half of it,
   prompt clipped), counted per model and reported;
4. *parts*: the first ``--train-fraction`` of the span trains the plan, the rest tests it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from alpaserve.cli._trace_args import TraceParts
from alpaserve.errors import SpecError

TRACE_FORMATS = ("auto", "azure-llm", "csv")
SPLITS = ("power-law", "column")


def trace_spec(*, path: str, fmt: str, window: tuple[float, float | None], rate_scale: float,
               split: str | None, alpha: float, seed: int, train_fraction: float,
               model_names: tuple[str, ...]) -> dict[str, Any]:
    """The workload spec of a trace (as the plan file keeps it).

    Parameters
    ----------
    path, fmt
        The trace file and its format (``auto`` is detected from the header now).
    window
        Seconds after the first request, ``(start, end)``; ``end`` None for the end.
    rate_scale
        Speed-up (> 0).
    split
        ``"power-law"`` or ``"column"``; None picks ``column`` for a CSV, else power-law.
    alpha, seed
        The power law's exponent and draw.
    train_fraction
        The early part that trains the plan, in (0, 1).
    model_names
        The plan's models.

    Returns
    -------
    dict
        ``{"kind": "trace", ...}`` with the file's SHA-256.
    """
    from alpaserve.cli.trace_cmd import detect_format
    from alpaserve.plan_file import file_sha256

    resolved = detect_format(Path(path)) if fmt == "auto" else fmt
    if resolved not in ("azure-llm", "csv"):
        raise SpecError(f"trace {path!r} is {resolved}, which has no token counts; `alpaserve "
                        "llm` reads Azure LLM 2023/2024 traces and the generic CSV with "
                        "prompt_tokens and output_tokens")
    if split is None:
        split = "column" if resolved == "csv" else "power-law"
    if split == "column" and resolved != "csv":
        raise SpecError("--split column needs a CSV with a model column; an Azure LLM trace "
                        "is one stream: use --split power-law")
    return {"kind": "trace", "path": str(path), "sha256": file_sha256(path),
            "format": resolved, "window": [window[0], window[1]], "rate_scale": rate_scale,
            "split": split, "alpha": alpha, "seed": seed, "train_fraction": train_fraction,
            "model_names": list(model_names)}


def synthetic_spec(*, rate: float, cv: float, duration: float, alpha: float, seed: int,
                   train_fraction: float, model_names: tuple[str, ...]) -> dict[str, Any]:
    """The workload spec of a synthetic Gamma stream.

    Parameters
    ----------
    rate, cv, duration
        Total requests per second, inter-arrival CV and seconds (all > 0).
    alpha, seed
        The power law's exponent and the random seed.
    train_fraction
        The early part that trains the plan, in (0, 1).
    model_names
        The plan's models.

    Returns
    -------
    dict
        ``{"kind": "synthetic", ..., "tokens": "small"}``.
    """
    return {"kind": "synthetic", "rate": rate, "cv": cv, "duration": duration, "alpha": alpha,
            "seed": seed, "train_fraction": train_fraction, "model_names": list(model_names),
            "tokens": "small"}


def _read_trace(spec: Mapping[str, Any]) -> tuple[Any, int]:
    from workloads.traces import read_azure_llm, read_generic_csv

    path = Path(spec["path"])
    if not path.is_file():
        raise SpecError(f"the trace {str(path)!r} is gone; give --trace FILE")
    result = read_azure_llm(path) if spec["format"] == "azure-llm" else read_generic_csv(path)
    w = result.workload
    if w.prompt_tokens is None or w.output_tokens is None:
        raise SpecError(f"trace {str(path)!r} has no token counts: a CSV needs "
                        "prompt_tokens and output_tokens columns")
    return w, int(result.rows)


def _window(raw: Any, spec: Mapping[str, Any]) -> tuple[Any, float]:
    """Cut to the window, rebase to 0 and speed up; the span in scaled seconds."""
    from workloads.rescale import scale_time

    start, end = spec["window"]
    if len(raw) < 2:
        raise SpecError(f"trace {spec['path']!r} holds {len(raw)} request(s); at least 2 are "
                        "needed")
    t0 = float(raw.arrival[0])
    last = float(raw.arrival[-1]) - t0
    if not last > 0:
        raise SpecError(f"all {len(raw)} requests of {spec['path']!r} arrive at the same "
                        "instant: no span to split into training and test parts")
    if end is None:  # up to just after the last request, in absolute time: t0 + a tiny
        abs_stop = math.nextafter(float(raw.arrival[-1]), math.inf)  # stop may round it away
        stop = abs_stop - t0
    else:
        stop = float(end)
        abs_stop = t0 + stop
    if stop <= start:
        raise SpecError(f"--window starts at {start:g} s, past the trace's last request "
                        f"({last:g} s after its first)")
    window = raw.window(t0 + start, abs_stop, rebase=True)
    if len(window) < 2:
        raise SpecError(f"the window [{start:g}, {stop:g}) s of {spec['path']!r} holds "
                        f"{len(window)} request(s); at least 2 are needed")
    scale = float(spec["rate_scale"])
    if scale != 1.0:
        window = scale_time(window, 1.0 / scale)
    return window, (stop - start) / scale


def _split(raw: Any, spec: Mapping[str, Any]) -> Any:
    from workloads.mapping import StreamMapping, map_requests

    names = tuple(spec["model_names"])
    if spec.get("split", "power-law") == "column":
        present = [n for n, c in raw.counts_by_model().items() if c > 0]
        unknown = sorted(set(present) - set(names))
        if unknown:
            raise SpecError(f"the trace's model column names {unknown[:5]}, which are not "
                            f"among --models {list(names)}; use --split power-law to spread "
                            "its requests over the models instead")
        return map_requests(raw, StreamMapping(model_names=names, policy="auto"))
    return map_requests(raw, StreamMapping(model_names=names, policy="power-law",
                                           alpha=float(spec["alpha"]), seed=int(spec["seed"])))


def fit_contexts(workload: Any, contexts: Mapping[str, int]) -> tuple[Any, dict[str, int]]:
    """Fit every request into its model's context: the output at most half of it, the
    prompt clipped so that ``prompt + output`` fits (as
    :func:`workloads.llm_requests.clip_to_context`, per model).

    Parameters
    ----------
    workload : Workload
        Requests with token counts, on the models of ``contexts``.
    contexts : mapping of str to int
        Context window (tokens, >= 2) of each model.

    Returns
    -------
    tuple of (Workload, dict)
        The fitted requests and how many were changed per model (zeros included).

    Examples
    --------
    >>> from workloads.workload import Workload
    >>> w = Workload.from_arrays(arrival=[0.0, 1.0], model=["a", "b"],
    ...                          prompt_tokens=[3000, 3000], output_tokens=[10, 10])
    >>> out, clipped = fit_contexts(w, {"a": 4096, "b": 2048})
    >>> out.prompt_tokens.tolist(), clipped
    ([3000, 2038], {'a': 0, 'b': 1})
    """
    from workloads.workload import Workload

    names = list(workload.model_names)
    ctx = np.array([int(contexts[n]) for n in names], dtype=np.int64)[workload.model_codes]
    prompt = np.asarray(workload.prompt_tokens, dtype=np.int64)
    output = np.asarray(workload.output_tokens, dtype=np.int64)
    new_output = np.minimum(output, ctx // 2)
    new_prompt = np.minimum(prompt, ctx - new_output)
    changed = (new_prompt != prompt) | (new_output != output)
    per = np.bincount(workload.model_codes[changed], minlength=len(names))
    clipped = {n: int(per[k]) for k, n in enumerate(names)}
    fitted = Workload.from_arrays(arrival=workload.arrival, model=workload.model_codes,
                                  model_names=workload.model_names, prompt_tokens=new_prompt,
                                  output_tokens=new_output, slo=workload.slo)
    return fitted, clipped


def build_workload(spec: Mapping[str, Any], contexts: Mapping[str, int]) -> TraceParts:
    """The workload a spec describes, split into training and test parts.

    Parameters
    ----------
    spec : mapping
        A workload spec (:func:`trace_spec` or :func:`synthetic_spec`).
    contexts : mapping of str to int
        Context window of each of the spec's models.

    Returns
    -------
    TraceParts
        The requests, the parts and a report.

    Raises
    ------
    SpecError
        A trace that is gone or changed, a window without requests, or model column
        names that are not the plan's models.
    """
    from workloads.llm_requests import SMALL_TOKEN_PAIRS, gamma_arrivals, llm_workload

    if spec["kind"] == "trace":
        raw, rows = _read_trace(spec)
        raw, span = _window(raw, spec)
    else:
        rng = np.random.default_rng(int(spec["seed"]))
        span = float(spec["duration"])
        arrivals = gamma_arrivals(rate=float(spec["rate"]), cv=float(spec["cv"]), start=0.0,
                                  end=span, seed=rng)
        if arrivals.size < 2:
            raise SpecError(f"--rate {spec['rate']:g} over --duration {span:g} s drew "
                            f"{arrivals.size} request(s); at least 2 are needed")
        raw = llm_workload(arrivals=arrivals, seed=rng, model="stream",
                           token_pairs=SMALL_TOKEN_PAIRS)
        rows = len(raw)
    mapping = _split(raw, spec)
    workload, clipped = fit_contexts(mapping.workload, contexts)
    cut = float(spec["train_fraction"]) * span
    train = workload.window(0.0, cut)
    test = workload.window(cut, math.nextafter(span, math.inf))
    if len(train) == 0 or len(test) == 0:
        raise SpecError(f"the training part [0, {cut:.6g}) s holds {len(train)} requests and "
                        f"the test part [{cut:.6g}, {span:.6g}] s {len(test)}; both need some "
                        "(a longer window or another --train-fraction)")
    report = {**spec, "rows_read": rows, "requests": len(workload),
              "split_used": mapping.policy, "requests_per_model": mapping.requests_per_model,
              "clipped_per_model": clipped, "clipped": sum(clipped.values()),
              "train_span": [0.0, cut], "test_span": [cut, span],
              "train_requests": len(train), "test_requests": len(test)}
    return TraceParts(workload=workload, train=train, test=test, report=report)


def check_trace_unchanged(spec: Mapping[str, Any]) -> str | None:
    """A warning when the plan's trace file changed since planning, else None.

    Parameters
    ----------
    spec : mapping
        A trace workload spec with its ``sha256``.

    Returns
    -------
    str or None
        The warning text.
    """
    from alpaserve.plan_file import file_sha256

    path = Path(spec["path"])
    if spec.get("sha256") and path.is_file() and file_sha256(path) != spec["sha256"]:
        return (f"the trace {str(path)!r} changed since it was planned for (SHA-256 differs); "
                "the replayed requests are not the planned ones")
    return None


def describe(report: Mapping[str, Any], part: str) -> str:
    """One line naming the requests replayed.

    Parameters
    ----------
    report : mapping
        :attr:`~alpaserve.cli._trace_args.TraceParts.report`.
    part : str
        ``"test"``, ``"train"`` or ``"all"``.

    Returns
    -------
    str
        The line.

    Examples
    --------
    >>> describe({"kind": "synthetic", "rate": 2.0, "cv": 1.0, "duration": 60.0,
    ...           "split_used": "power-law", "alpha": 1.0, "train_span": [0.0, 30.0],
    ...           "test_span": [30.0, 60.0], "train_requests": 55, "test_requests": 61,
    ...           "requests": 116, "clipped": 0}, "test").split(": ")[1]
    'tested on [30, 60] s (61 requests; trained on 55)'
    """
    if report["kind"] == "trace":
        a, b = report["window"]
        head = (f"trace {report['path']} [{a:g}, {'end' if b is None else f'{b:g}'}) s at "
                f"{report['rate_scale']:g}x rate")
    else:
        head = f"synthetic Gamma stream at {report['rate']:g} req/s, CV {report['cv']:g}"
    split = report["split_used"]
    head += f", split {split}" + (f" (alpha {report['alpha']:g})" if split == "power-law"
                                  else "")
    (a, b), (c, d) = report["train_span"], report["test_span"]
    if part == "test":
        body = (f"tested on [{c:.6g}, {d:.6g}] s ({report['test_requests']} requests; "
                f"trained on {report['train_requests']})")
    elif part == "train":
        body = f"the training part [{a:.6g}, {b:.6g}] s ({report['train_requests']} requests)"
    else:
        body = f"the whole window ({report['requests']} requests)"
    clipped = f"; {report['clipped']} clipped to their context" if report["clipped"] else ""
    return f"{head}: {body}{clipped}"
