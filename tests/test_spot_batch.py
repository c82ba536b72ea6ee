"""Static-batch timelines."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from alpaserve.cost.llm import LLMConfig, decode_step_time, prefill_time
from alpaserve.model_presets import model_preset
from alpaserve.spot.hardware import g4dn_hardware
from simulator.spot.batch import build_batch

MODEL, HW = model_preset("gpt-1.3b"), g4dn_hardware()
CFG = LLMConfig(data=1, pipeline=1, tensor=1, batch=8)


@given(st.lists(st.tuples(st.integers(1, 300), st.integers(0, 40), st.booleans()),
                min_size=1, max_size=6), st.floats(0.0, 5.0))
def test_timeline_invariants(reqs: list[tuple[int, int, bool]], probe: float) -> None:
    ctx = np.array([c for c, _, _ in reqs], dtype=np.int64)
    rem = np.array([r for _, r, _ in reqs], dtype=np.int64)
    pre = np.array([p for _, _, p in reqs], dtype=bool)
    b = build_batch(model=MODEL, hardware=HW, config=CFG, start=1.0, ids=np.arange(len(reqs)),
                    context=ctx, committed=np.zeros_like(rem), remaining=rem,
                    needs_prefill=pre)
    assert b.decode_start == 1.0 + prefill_time(MODEL, HW, CFG, ctx[pre])
    assert np.all(np.diff(b.step_end) > 0)
    assert b.end == b.finish.max()
    done = b.tokens_done(1.0 + probe)
    assert np.all((done >= 0) & (done <= rem))
    assert np.all(b.tokens_done(b.end) == rem)
    # tokens are committed in order: more time never means fewer tokens
    assert np.all(b.tokens_done(1.0 + probe + 0.5) >= done)
    if rem.max() > 0:
        first = decode_step_time(MODEL, HW, CFG, active=float((rem > 0).sum()),
                                 context_tokens=float((ctx[rem > 0] + 1).sum()))
        assert np.isclose(b.step_end[0] - b.decode_start, first)


def test_kv_tokens() -> None:
    b = build_batch(model=MODEL, hardware=HW, config=CFG, start=0.0, ids=np.array([0, 1]),
                    context=np.array([10, 20]), committed=np.array([0, 0]),
                    remaining=np.array([1, 3]), needs_prefill=np.array([True, True]))
    assert b.kv_tokens(0.0) == 0  # prefill still running
    t = float(b.step_end[0])
    assert b.kv_tokens(t) == 20 + 1  # request 0 finished; request 1 has one new token
