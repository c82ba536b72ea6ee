"""Compiled placement tables: the padded candidate rows and their batch-1 latencies."""

from __future__ import annotations

import numpy as np

from simulator import compile_placement
from tests._fixtures_simulator import random_scenario


def test_padded_candidates_and_their_latencies() -> None:
    for seed in range(20):
        sc = random_scenario(seed)
        tables = compile_placement(sc.placement, sc.profiles, sc.workload.model_names)
        cands, ncand = tables.padded_candidates
        lat1, latc = tables.batch1_latencies
        assert lat1.flags.c_contiguous
        assert latc.flags.c_contiguous
        for m in range(len(tables.model_names)):
            hosts = tables.cand_groups[tables.cand_ptr[m]:tables.cand_ptr[m + 1]]
            assert ncand[m] == hosts.size
            if hosts.size:  # real hosts first, then the first one again
                assert cands[m, :hosts.size].tolist() == hosts.tolist()
                assert set(cands[m, hosts.size:].tolist()) <= {int(hosts[0])}
            for c in range(cands.shape[1]):
                np.testing.assert_array_equal(latc[m, c], tables.lat[cands[m, c], m, 0])
        np.testing.assert_array_equal(lat1, tables.lat[:, :, 0, :])
