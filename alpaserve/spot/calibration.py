"""How far the analytic LLM model (:mod:`alpaserve.cost.llm`) is from measured tables.

The SpotServe artifact's per-layer profiles (:class:`~alpaserve.cost.llm_profile.LLMProfile`)
are the reference: :func:`calibration_error` gives the relative error per tensor degree and
batch of the prefill, of one decode step and of a whole request. The efficiencies of
:func:`~alpaserve.spot.hardware.g4dn_hardware` were fitted against the T4-4x tables;
``benchmarks/bench_spotserve.py --calibration`` prints the result.
"""

from __future__ import annotations

from collections.abc import Sequence

from alpaserve.cost.llm import LLMConfig, decode_step_time, prefill_time, request_latency
from alpaserve.cost.llm_profile import LLMProfile
from alpaserve.model_spec import ModelSpec
from alpaserve.spot.hardware import SpotHardware


def calibration_error(model: ModelSpec, hardware: SpotHardware, profile: LLMProfile, *,
                      prompt_tokens: int = 512, output_tokens: int = 128,
                      tensor_degrees: Sequence[int] | None = None,
                      batches: Sequence[int] | None = None) -> list[dict[str, float]]:
    """Relative error of the analytic model (:mod:`alpaserve.cost.llm`) against ``profile``.

    Errors are ``analytic / measured - 1`` on one replica with ``pipeline = 1``: per-layer
    prefill of ``batch`` prompts, per-layer decode step, and the whole request (the
    profile's formula against the analytic prefill plus every decode step).

    Parameters
    ----------
    model : ModelSpec
        The profiled model.
    hardware : SpotHardware
        The hardware the analytic model assumes (e.g. ``g4dn_hardware()``).
    profile : LLMProfile
        The measured tables.
    prompt_tokens, output_tokens : int
        The request of the whole-request comparison.
    tensor_degrees, batches : sequence of int, optional
        What to compare (default: every tensor degree and batch the tables cover).

    Returns
    -------
    list of dict
        One row per (tensor, batch): ``tensor``, ``batch``, ``prefill``, ``decode``,
        ``request`` (relative errors) and ``measured_request_s``.

    Raises
    ------
    ProfileError
        The profile does not match ``model``.
    """
    profile.check_model(model)
    rows = []
    for tp in tensor_degrees or profile.tensor_degrees:
        for b in batches or sorted(profile.prefill[tp]):
            cfg = LLMConfig(data=1, pipeline=1, tensor=tp, batch=b)
            layers = model.num_layers
            pre = prefill_time(model, hardware, cfg, [prompt_tokens] * b) / layers
            dec = float(decode_step_time(model, hardware, cfg, active=b,
                                         context_tokens=b * (prompt_tokens
                                                             + output_tokens // 2))) / layers
            req = request_latency(model, hardware, cfg, prompt_tokens=prompt_tokens,
                                  output_tokens=output_tokens)
            meas = profile.request_latency(cfg, prompt_tokens=prompt_tokens,
                                           output_tokens=output_tokens)
            rows.append({"tensor": tp, "batch": b,
                         "prefill": pre / float(profile.layer_prefill(tp, b)) - 1,
                         "decode": dec / float(profile.layer_decode(tp, b)) - 1,
                         "request": req / meas - 1, "measured_request_s": meas})
    return rows
