"""Subscriptions kept as compressed JSON text (``analyzer.spilled``): read back in report order whatever order
they were judged in, across blocks, shares and pickling, their verdict words counted without reading them."""

from __future__ import annotations

import json
import pickle
import random

from analyzer import spilled
from analyzer.spilled import Spilled


def text(first: int) -> str:
    verdicts = [{"rule": f"FKS-R-{k}", "verdict": "pass", "frames": [first, first + 1]} for k in range(27)]
    return json.dumps({"aor": f"sip:{first}@example.test", "first": first, "verdicts": verdicts}, indent=2)


def test_texts_come_back_in_frame_order_across_blocks() -> None:
    firsts = list(range(0, 40_000, 4))
    random.Random(7).shuffle(firsts)  # judged in another order than the frames
    kept = Spilled()
    for first in firsts:
        kept.add(first, text(first), ["pass"] * 26 + ["fail"])
    kept.seal()
    assert len(kept) == 10_000 and len(kept._blocks) > 10  # several blocks, read out of order
    assert [json.loads(t)["first"] for t in kept.texts()] == sorted(firsts)
    assert kept.counts == {"pass": 260_000, "fail": 10_000}
    assert [s["first"] for s in kept][:3] == [0, 4, 8]  # the other writers get dicts
    # the point of it: far smaller than the texts themselves
    assert kept.compressed_bytes * 10 < sum(len(text(f)) for f in firsts)


def test_a_merge_of_shares_interleaves_them_and_survives_pickling(monkeypatch) -> None:
    monkeypatch.setattr(spilled, "BLOCK", 2048)
    shares = [Spilled(), Spilled(), Spilled()]
    for first in range(300):
        shares[first % 3].add(first, text(first), ["warn"])
    travelled = [pickle.loads(pickle.dumps(s)) for s in shares]  # a Dask worker's share, open block and all
    whole = Spilled.merge(travelled)
    assert [json.loads(t)["first"] for t in whole.texts()] == list(range(300))
    assert len(whole) == 300 and whole.counts == {"warn": 300}


def test_an_empty_one_reads_as_nothing() -> None:
    empty = Spilled()
    assert len(empty) == 0 and list(empty.texts()) == [] and list(empty) == [] and not empty.counts
    assert len(Spilled.merge([empty, pickle.loads(pickle.dumps(empty))])) == 0
