from __future__ import annotations

from pathlib import Path

import pytest

from alpaserve.cluster_spec import homogeneous_cluster
from alpaserve.model_presets import model_preset
from alpaserve.parallel.cache import CACHE_ENV, cache_key, cached_search, default_cache_dir
from alpaserve.parallel.search import ConfigSearchOptions

SPEC = model_preset("bert-1.3b")
OPTS = ConfigSearchOptions(batch_sizes=(1,))


def test_miss_then_hit(tmp_path: Path) -> None:
    cluster = homogeneous_cluster(2)
    first = cached_search(SPEC, cluster, options=OPTS, cache_dir=tmp_path)
    again = cached_search(SPEC, cluster, options=OPTS, cache_dir=tmp_path)
    assert (first.extra["cache"], again.extra["cache"]) == ("miss", "hit")
    assert first == again
    assert first.profile_db() == again.profile_db()
    assert len(list(tmp_path.glob("configs-bert-1.3b-*.json"))) == 1
    other = cached_search(SPEC, cluster, options=ConfigSearchOptions(batch_sizes=(2,)),
                          cache_dir=tmp_path)
    assert other.extra["cache"] == "miss"
    assert cached_search(SPEC, cluster, options=OPTS, cache_dir=tmp_path,
                         refresh=True).extra["cache"] == "miss"


def test_key_depends_on_spec_and_cluster() -> None:
    base = cache_key(SPEC, homogeneous_cluster(2), 2, OPTS)
    assert base == cache_key(SPEC, homogeneous_cluster(2), 2, OPTS)
    assert base != cache_key(SPEC.renamed("x"), homogeneous_cluster(2), 2, OPTS)
    assert base != cache_key(SPEC, homogeneous_cluster(2, "a100-40gb"), 2, OPTS)
    assert base != cache_key(SPEC, homogeneous_cluster(2), 1, OPTS)


def test_corrupt_file_is_recomputed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cluster = homogeneous_cluster(1)
    cached_search(SPEC, cluster, options=OPTS, cache_dir=tmp_path)
    (path,) = tmp_path.glob("configs-*.json")
    path.write_text("{not json")
    res = cached_search(SPEC, cluster, options=OPTS, cache_dir=tmp_path)
    assert res.extra["cache"] == "miss"
    assert "unreadable" in caplog.text
    assert cached_search(SPEC, cluster, options=OPTS, cache_dir=tmp_path).extra["cache"] \
        == "hit"


def test_default_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.chdir(tmp_path)
    assert default_cache_dir() == tmp_path / ".alpaserve_cache"
