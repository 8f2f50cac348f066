"""Where ``fks audit`` judges a large capture by default: a local Dask cluster pays where judging outweighs
dissection (feature sync dense in the capture), one process with its parallel tsharks where it does not (a
site: mostly calls, RTP and other packages). The benchmark behind the threshold is in the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer import cli
from analyzer.sources.slices import feature_sync_share
from peers.craft.synth import SynthOptions, synthesize


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("shapes")
    out = {}
    for shape in ("site", "dense"):
        out[shape] = folder / f"{shape}.pcap"
        synthesize(out[shape], SynthOptions(subscriptions=200, shape=shape, seed=5))
    return out


def test_the_share_of_feature_sync_records(shapes: dict[str, Path]) -> None:
    # dense: SUBSCRIBE, 200, NOTIFY, 200 per account; the package is named in the requests only
    assert feature_sync_share(shapes["dense"].read_bytes()) == 0.5
    assert feature_sync_share(shapes["site"].read_bytes()) < 0.05
    assert feature_sync_share(b"not a capture at all") is None
    assert feature_sync_share(shapes["site"].read_bytes()[:24]) == 0.0  # a header and no record


def test_only_large_dense_work_or_several_captures_start_a_cluster(shapes: dict[str, Path], monkeypatch) -> None:
    site, dense = str(shapes["site"]), str(shapes["dense"])
    assert not cli._worth_a_cluster([dense])  # small: the cluster's start would cost more than it gives
    monkeypatch.setattr(cli, "LOCAL_CLUSTER_BYTES", 1)
    assert cli._worth_a_cluster([dense])
    assert not cli._worth_a_cluster([site])
    assert cli._worth_a_cluster([site, site])  # captures side by side, one a worker
    assert cli._worth_a_cluster([str(Path(site).with_name("missing.pcap")), dense])
