"""The ``fks`` command line (a stable interface: tests, scripts and users rely on it).

``fks audit`` exit status: 0 = no ``fail``, 1 = at least one ``fail``, 2 = unusable input or arguments
(one line on stderr, never a traceback; the other files of the call are still reported).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from analyzer import __version__
from analyzer.audit import audit_file, document, unusable
from analyzer.fac import DEFAULT_FACS, parse_facs
from analyzer.fleet.cluster import cores
from analyzer.fleet.graph import SLICE_RECORDS
from analyzer.judging import AuditSettings
from analyzer.progress import Progress
from analyzer.provisioning import ProvisioningError, parse_provisioning
from analyzer.report import RENDERERS
from analyzer.report.allure import write_allure
from analyzer.report.html import write_html
from analyzer.rules.base import Options

EXIT_OK, EXIT_FAIL, EXIT_UNUSABLE = 0, 1, 2


class UsageError(Exception):
    """Bad arguments or an unusable input file: reported as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one line and exit status 2 (``UsageError``), for every fks command."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1: {text!r}")
    return value


REPORT_FORMATS = (*sorted(RENDERERS), "html", "allure")


def _report(text: str) -> tuple[str, str]:
    """``FORMAT=PATH`` of ``--report``."""
    fmt, sep, path = text.partition("=")
    if not sep or not path:
        raise argparse.ArgumentTypeError(f"expected FORMAT=PATH, not {text!r}")
    if fmt not in REPORT_FORMATS:
        raise argparse.ArgumentTypeError(f"unknown report format {fmt!r} (one of {', '.join(REPORT_FORMATS)})")
    return fmt, path


def on_off(text: str) -> bool:
    if text.lower() in ("on", "1", "yes", "true"):
        return True
    if text.lower() in ("off", "0", "no", "false"):
        return False
    raise argparse.ArgumentTypeError(f"expected on or off, not {text!r}")


def add_judging_options(parser: argparse.ArgumentParser) -> None:
    """The options that say how traffic is read and judged, shared by ``fks audit`` and ``fks monitor``."""
    parser.add_argument("--provisioning", metavar="FILE", help="Gigaset provisioning file (enables FKS-PRV-*)")
    parser.add_argument("--model", choices=["N610", "N670", "N870", "N870E"], help="base model, if not in the file")
    parser.add_argument("--internal-telephony", type=on_off, metavar="on|off", help="internal telephony setting")
    parser.add_argument(
        "--decode-as",
        action="append",
        default=[],
        metavar="SPEC",
        help="tshark decode-as, e.g. udp.port==5072,sip",
    )
    parser.add_argument("--keylog", metavar="FILE", help="TLS key log file for SIP over TLS")
    parser.add_argument("--notify-timeout", type=_positive, default=5.0, metavar="S", help="T_notify (default 5)")
    parser.add_argument("--subscribe-timeout", type=_positive, default=5.0, metavar="S", help="T_subscribe (default 5)")
    parser.add_argument("--final-timeout", type=_positive, default=32.0, metavar="S", help="T_final (default 32)")
    parser.add_argument(
        "--fac",
        metavar="TABLE",
        help="feature access codes, e.g. '*78=DND:on,*79=DND:off' (default: *78/*79 DND on/off, *72/*73 CFA, "
        "*90/*91 CFB, *92/*93 CFNA; see docs/protocol.md)",
    )
    parser.add_argument(
        "--reader",
        choices=["fields", "pyshark"],
        default="fields",
        help="how tshark's dissection is read: its fields (fast, default) or pyshark's JSON",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="fks", description="Feature Key Synchronization (as-feature-event) conformance kit")
    parser.add_argument("--version", action="version", version=f"fks {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    audit = commands.add_parser("audit", help="judge captures against the conformance catalogue")
    audit.add_argument("pcaps", nargs="+", metavar="PCAP", help="pcap or pcapng files")
    add_judging_options(audit)
    audit.add_argument("--format", choices=[*sorted(RENDERERS), "allure"], default="text")
    audit.add_argument("--output", metavar="FILE", help="write the report here instead of stdout (allure: a folder)")
    audit.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report with ladder diagrams")
    audit.add_argument(
        "--report",
        action="append",
        default=[],
        type=_report,
        metavar="FORMAT=PATH",
        help="also write this report from the same audit (text, json, junit, html; allure=DIR); repeatable",
    )
    audit.add_argument(
        "--jobs",
        type=_count,
        default=cores(),
        metavar="N",
        help=f"worker processes of the local Dask cluster started for large work (default: the cores, {cores()})",
    )
    audit.add_argument(
        "--scheduler", metavar="ADDRESS", help="run on an existing Dask cluster, e.g. tcp://host:8786 (README)"
    )
    audit.add_argument(
        "--send-captures",
        action="store_true",
        help="send the captures' bytes to the Dask workers instead of their paths (no shared storage)",
    )
    audit.add_argument(
        "--slice-records",
        type=_count,
        default=SLICE_RECORDS,
        metavar="N",
        help=f"records per slice of a large capture on a Dask cluster (default {SLICE_RECORDS:,})",
    )
    rules = commands.add_parser("rules", help="print the conformance catalogue, or one rule in full")
    rules.add_argument("rule", nargs="?", metavar="ID", help="a rule ID, e.g. FKS-NTF-2: its requirement in full")
    rules.add_argument("--markdown", action="store_true", help="the whole rulebook as Markdown (docs/rules.md)")
    return parser


def settings_of(args: argparse.Namespace) -> AuditSettings:
    try:
        facs = parse_facs(args.fac) if args.fac else dict(DEFAULT_FACS)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    provisioning = None
    if args.provisioning:
        try:
            data = Path(args.provisioning).read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read provisioning file {args.provisioning}: {exc.strerror}") from None
        try:
            provisioning = parse_provisioning(data, model=args.model, internal_telephony=args.internal_telephony)
        except ProvisioningError as exc:
            raise UsageError(f"{args.provisioning}: {exc}") from None
    options = Options(
        notify_timeout=args.notify_timeout,
        subscribe_timeout=args.subscribe_timeout,
        final_timeout=args.final_timeout,
        facs=facs,
        model=args.model,
        internal_telephony=args.internal_telephony,
    )
    if args.keylog and not Path(args.keylog).is_file():
        raise UsageError(f"cannot read key log file {args.keylog}")
    return AuditSettings(options, provisioning, tuple(args.decode_as), args.keylog, args.reader)


def _audit_one(
    path: str, settings: AuditSettings, messages: bool = False, progress: Progress | None = None
) -> tuple[dict[str, Any], str | None]:
    """Audit one file in this process; an unusable file becomes an entry with its reason, never an exception."""
    from analyzer.fleet.tasks import as_source, copy_key, drop_copies, localise
    from analyzer.sources import CaptureError

    source = as_source(path, uuid.uuid4().hex)
    try:
        local = localise(source)
        entry = audit_file(local, settings, messages, progress.watch if progress else None, lean=True)
        entry["file"] = path
        return entry, None
    except CaptureError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else "unreadable capture"
    except Exception as exc:  # a defect of ours must not lose the other files' results
        reason = f"internal error while auditing: {type(exc).__name__}: {exc}".splitlines()[0]
    finally:
        if progress is not None:
            progress.file_done()
        key = copy_key(source)
        if key is not None:
            drop_copies([key])  # the local copy of a URL
    return unusable(path, reason), reason


LOCAL_CLUSTER_BYTES = 32 << 20  # from this much capture on, a local Dask cluster pays for its start
DENSE_SHARE = 0.25  # a capture with this share of feature-sync records is judged faster on a cluster


def _dense(path: str) -> bool:
    """Whether judging outweighs dissection in this capture (a share of feature-sync records of at least
    ``DENSE_SHARE`` among its first ones). A cluster spreads the judging over the cores; the tsharks of one
    process already spread the dissection, so a site's capture, mostly calls and RTP, is faster in one
    process (README, "Performance"). A file this cannot look into counts as dense, as before."""
    from analyzer.sources.slices import feature_sync_share
    from analyzer.sources.tshark_runs import map_file

    try:
        with Path(path).open("rb") as fh:
            buffer = map_file(fh)
            if buffer is None:
                return True
            with buffer:
                share = feature_sync_share(buffer)
    except OSError:
        return True  # the reader will say what is wrong with it
    return share is None or share >= DENSE_SHARE


def _worth_a_cluster(paths: list[str]) -> bool:
    """Large work: several captures (audited side by side), or one large capture dense with feature sync."""
    if _total_size(paths) < LOCAL_CLUSTER_BYTES:
        return False
    return len(paths) > 1 or _dense(paths[0])


def _total_size(paths: list[str]) -> int:
    total = 0
    for path in paths:
        with contextlib.suppress(OSError):
            total += Path(path).stat().st_size  # a URL counts nothing: the reader says what is wrong
    return total


def _audit_all(
    args: argparse.Namespace, settings: AuditSettings, messages: bool
) -> tuple[list[tuple[dict[str, Any], str | None]], dict[str, Any]]:
    """Every file's entry (and reason, when unusable) and where they were audited: on the cluster of
    ``--scheduler``, on a local Dask cluster of ``--jobs`` processes for large work (``_worth_a_cluster``),
    else in this process."""
    from analyzer.fleet import cluster

    with Progress(len(args.pcaps)) as progress:
        if not args.scheduler and (args.jobs < 2 or not _worth_a_cluster(args.pcaps)):
            return [_audit_one(p, settings, messages, progress) for p in args.pcaps], dict(cluster.IN_PROCESS)
        from analyzer.fleet.graph import audit_on

        try:
            engine = cluster.connect(args.scheduler) if args.scheduler else cluster.start_local(args.jobs)
        except cluster.EngineError as exc:
            raise UsageError(str(exc)) from None
        try:
            where = engine.describe()
            link = engine.dashboard() if progress.enabled else None  # a terminal's user may open it
            if link:
                print(f"fks: Dask dashboard at {link}", file=sys.stderr)
            outcomes = audit_on(
                engine, args.pcaps, settings, messages, progress, args.slice_records, args.send_captures
            )
            return outcomes, where
        finally:
            engine.close()


def audit(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    for path in args.pcaps:
        if Path(path).is_dir():
            raise UsageError(f"{path} is a directory, not a capture")
    if args.format == "allure" and not args.output:
        raise UsageError("--format allure needs --output DIR (the allure-results folder)")
    reports = [(args.format, args.output), *args.report]
    if args.html:
        reports.append(("html", args.html))
    drawn = any(fmt in ("html", "allure") for fmt, _ in reports)  # ladders need each subscription's messages
    _collect_rarely()
    outcomes, where = _audit_all(args, settings, messages=drawn)
    doc = document([entry for entry, _ in outcomes], where)
    try:
        _write_reports(doc, reports)
    except BrokenPipeError:
        raise  # a reader that stopped early (``| head``): not an error (``guarded``)
    except OSError as exc:
        raise UsageError(f"cannot write {exc.filename or 'the report'}: {exc.strerror}") from None
    reasons = [f"{entry['file']}: {reason}" for entry, reason in outcomes if reason]
    for reason in reasons:
        print(f"fks: {reason}", file=sys.stderr)
    if reasons:
        return EXIT_UNUSABLE
    return EXIT_FAIL if doc["summary"]["fail"] else EXIT_OK


def _collect_rarely() -> None:
    """An audit makes millions of objects and almost no reference cycles: the cyclic collector's default
    pace (every 700 allocations, the whole heap now and then) cost about a fifth of a dense capture's audit.
    The objects of the imported modules are set aside for good, and collections run less often."""
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


def _write_reports(doc: dict[str, Any], reports: list[tuple[str, str | None]]) -> None:
    """Every report of one audit: the ones drawing ladders first (they read the messages), then the others
    (``path`` None: stdout)."""
    for fmt, path in reports:
        if fmt == "html" and path:
            with Path(path).open("wb") as page:
                write_html(doc, page)
        elif fmt == "allure" and path:
            write_allure(doc, path)
    _strip_messages(doc)
    for fmt, path in reports:
        if fmt in ("html", "allure"):
            continue
        pieces = RENDERERS[fmt](doc)
        if path:
            with Path(path).open("w", encoding="utf-8") as out:
                out.writelines(pieces)
        else:
            sys.stdout.writelines(pieces)


def show_rules(args: argparse.Namespace) -> int:
    """``fks rules [ID] [--markdown]``: the rulebook, from the rule objects."""
    from analyzer.report import rulebook

    if args.markdown and args.rule:
        raise UsageError("--markdown prints the whole rulebook: give no rule ID with it")
    if args.markdown:
        sys.stdout.write(rulebook.markdown())
    elif args.rule:
        try:
            sys.stdout.write(rulebook.requirement_text(args.rule))
        except rulebook.UnknownRule as exc:
            raise UsageError(str(exc)) from None
    else:
        sys.stdout.write(rulebook.catalogue_text())
    return EXIT_OK


def _strip_messages(doc: dict[str, Any]) -> None:
    """The messages kept for ladders are not part of the stable JSON output."""
    for cap in doc["captures"]:
        if not isinstance(cap["subscriptions"], list):
            continue  # spilled texts never carry messages
        for sub in cap["subscriptions"]:
            if isinstance(sub, dict):
                sub.pop("messages", None)
                sub.pop("messages_truncated", None)


def guarded(command: Callable[[], int]) -> int:
    """Run one fks command the way every fks command ends: a usage error is one line and exit status 2, an
    interrupt exit 130, a closed pipe (``| head``) a quiet success."""
    try:
        return command()
    except UsageError as exc:
        print(f"fks: error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except KeyboardInterrupt:
        print("fks: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # what is still buffered for the closed pipe would fail again when Python flushes it at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    def run() -> int:
        args = build_parser().parse_args(argv)
        if args.command == "audit":
            return audit(args)
        if args.command == "rules":
            return show_rules(args)
        raise UsageError(f"unknown command {args.command}")

    return guarded(run)


if __name__ == "__main__":
    sys.exit(main())
