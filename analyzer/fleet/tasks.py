"""What runs on a Dask worker: plain functions of picklable arguments, each one job of one capture.

A capture is named by a path the workers share or an fsspec URL (``file://``, and what fsspec's installed
backends read: ``s3://``, ``http://`` ...), copied once to the worker's local disk for tshark. ``survey``
cuts it into slices (``analyzer/sources/slices.py``) or, when it is small or cannot be cut, audits it
whole; ``dissect`` runs tshark over one slice and shares its messages out by subscriber
(``analyzer.shuffle``); ``judge`` judges one share of every slice; ``count`` counts the frames.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.audit import Kept, audit_file
from analyzer.dialogs.packed import squeeze, stretch
from analyzer.judging import AuditSettings
from analyzer.observation import Observation
from analyzer.shuffle import Report, judge_share, split
from analyzer.sources import CaptureError, FieldsReader, slices
from analyzer.sources.tshark import FrameCount, Unread, check_file
from analyzer.sources.tshark_runs import Outcome, forget, map_file

_COPY = 4 << 20


@dataclass(frozen=True)
class Remote:
    """A capture named by an fsspec URL, fetched by each worker that reads it. ``audit`` names the audit, so
    that audits running at once on one machine keep their copies apart."""

    url: str
    audit: str


@dataclass(frozen=True)
class Shipped:
    """A capture's bytes sent by the command (``--send-captures``: workers without the shared storage)."""

    name: str
    audit: str
    data: bytes


Source = str | Remote | Shipped


def as_source(name: str, audit: str) -> Source:
    """A capture as the command line names it: a URL becomes a ``Remote`` of this audit, a path stays."""
    return Remote(name, audit) if "://" in name else name


def receive(shipped: Shipped) -> Shipped:
    """The task that holds a shipped capture on a worker; the scheduler keeps its argument, so a worker that
    dies with it costs a new copy, not the capture."""
    return shipped


def name_of(source: Source) -> str:
    if isinstance(source, Remote):
        return source.url
    return source.name if isinstance(source, Shipped) else source


def _cache(key: str, name: str) -> Path:
    return Path(tempfile.gettempdir()) / "fks-fleet" / key[:16] / (name or "capture")


def copy_key(source: Source) -> str | None:
    """What names a worker's local copy of a capture (None for a plain path: nothing is copied)."""
    if isinstance(source, str):
        return None
    return hashlib.sha1(f"{source.audit}\0{name_of(source)}".encode()).hexdigest()[:16]


def drop_copies(keys: list[str]) -> int:
    """Remove the local copies of these captures (run on every worker when an audit ends): a day's fleet
    would otherwise fill the disk. Returns how many were there."""
    removed = 0
    for key in keys:
        folder = _cache(key, "x").parent
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def localise(source: Source) -> Path:
    """A local path to the capture: the path itself, or a copy of what a URL names (or of the bytes shipped)
    in the worker's temporary folder, made once per worker and audit (``drop_copies`` removes it)."""
    if isinstance(source, str):
        return Path(source)
    key = copy_key(source)
    assert key is not None
    if isinstance(source, Shipped):
        local = _cache(key, Path(source.name).name)
        if not local.exists():
            local.parent.mkdir(parents=True, exist_ok=True)
            partial = local.parent / f".{os.getpid()}.part"
            partial.write_bytes(source.data)
            partial.replace(local)
        return local
    import fsspec  # a dependency of dask

    try:
        fs, path = fsspec.core.url_to_fs(source.url)
    except (ImportError, ValueError) as exc:
        raise CaptureError(f"cannot open {source.url}: {exc}".splitlines()[0]) from None
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    if "file" in protocols or "local" in protocols:
        return Path(path)
    local = _cache(key, Path(path).name)
    if local.exists():
        return local
    local.parent.mkdir(parents=True, exist_ok=True)
    partial = local.parent / f".{os.getpid()}.part"
    try:
        fs.get_file(path, str(partial))
        partial.replace(local)
    except (OSError, ValueError) as exc:
        partial.unlink(missing_ok=True)
        raise CaptureError(f"cannot fetch {source.url}: {exc}".splitlines()[0]) from None
    return local


@dataclass(frozen=True)
class Plan:
    """A capture cut into slices (``slices.plan``), to be read by as many ``dissect`` tasks."""

    parts: tuple[slices.Slice, ...]


def survey(
    source: Source, settings: AuditSettings, messages: bool, slice_records: int, overlap: int
) -> Plan | dict[str, Any]:
    """The slices of a capture worth cutting, or the capture's whole audit (its report entry) when it holds
    fewer than two slices' worth of records, is in a framing the slicer does not follow, or needs pyshark."""
    path = localise(source)
    check_file(path)
    plan = None
    if not settings.keylog and settings.reader == "fields":
        with path.open("rb") as fh:
            buffer = map_file(fh)
            if buffer is not None:
                try:
                    plan = slices.plan(buffer, slice_records, overlap, lambda _: forget(buffer))
                finally:
                    buffer.close()
    if plan is not None:
        return Plan(tuple(plan))
    return audit_file(path, settings, messages, lean=True)  # the command puts the name it was given


@dataclass
class Reading:
    """What reading one slice gave besides its messages: for the capture's counters and errors."""

    outcome: Outcome
    unread: Unread
    sip_messages: int
    end_time: float | None


@dataclass
class Dissected:
    """One slice's messages in shares (``shuffle.split``), each packed (``squeeze``: about a twelfth of the memory,
    where it waits for its judge, and on the wire to it), and how its reading went."""

    shares: list[bytes] = field(default_factory=list)
    reading: Reading | None = None


def unpacked(pieces: list[bytes]) -> Iterator[Observation]:
    """The observations of packed shares in order, one share unpacked at a time."""
    for piece in pieces:
        yield from stretch(piece)


def dissect(source: Source, part: slices.Slice, settings: AuditSettings, shares: int) -> Dissected:
    """tshark over one slice's records (copied into a file of their own), its messages shared out."""
    path = localise(source)
    with tempfile.TemporaryDirectory(prefix="fks-slice-") as folder:
        piece = Path(folder) / f"{part.base}.pcap"
        with path.open("rb") as src, piece.open("wb") as out:
            out.write(src.read(part.header))
            src.seek(part.start)
            left = part.end - part.start
            while left > 0:
                chunk = src.read(min(_COPY, left))
                if not chunk:
                    break
                out.write(chunk)
                left -= len(chunk)
        reader = FieldsReader(piece, decode_as=settings.decode_as)
        outcome = Outcome()
        split_up, end_time = split(reader.read_slice(piece, part, outcome), shares)
    packed = [squeeze(observations, level=1) for observations in split_up]
    return Dissected(packed, Reading(outcome, reader.unread, reader.sip_messages, end_time))


def share(dissected: Dissected, k: int) -> bytes:
    """Share ``k`` of a dissected slice (run where the slice is, so only that share travels)."""
    return dissected.shares[k]


def reading(dissected: Dissected) -> Reading:
    assert dissected.reading is not None
    return dissected.reading


def judge(settings: AuditSettings, messages: bool, readings: list[Reading], pieces: list[bytes]) -> Report:
    """Judge one share: its messages from every slice, in slice order (so in capture order), each slice's
    unpacked only while it is fed."""
    ends = [r.end_time for r in readings if r.end_time is not None]
    return judge_share(unpacked(pieces), settings, Kept(True, messages), max(ends) if ends else None)


def count(source: Source) -> tuple[int | None, str | None]:
    """The capture's frames and damage, by capinfos over the whole file (``FrameCount``)."""
    path = localise(source)
    reader = FieldsReader(path)
    if not reader.tshark_path:
        raise CaptureError("tshark not found (install the tshark package)")
    return FrameCount(path, reader.tshark_path).result()


def conclude(source: Source, readings: list[Reading], counted: tuple[int | None, str | None]) -> dict[str, Any]:
    """The capture's packet count, SIP message count and errors from its slices' readings, as one reader
    over the whole file would report them (``FieldsReader.conclude``)."""
    outcome, unread = Outcome(), Unread()
    for r in readings:
        outcome.last_frame = max(outcome.last_frame, r.outcome.last_frame)
        if r.outcome.returncode:
            outcome.returncode = r.outcome.returncode
        outcome.complaint = outcome.complaint or r.outcome.complaint
        unread.merge(r.unread)
    reader = FieldsReader(name_of(source))
    with contextlib.suppress(OSError):  # only a capture without one readable frame looks at the file
        reader.conclude(outcome, counted, unread)
    return {
        "packets": reader.packets,
        "sip_messages": sum(r.sip_messages for r in readings),
        "errors": list(reader.errors),
    }
