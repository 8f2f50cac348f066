"""The ``fks`` command line: the emulators and generators here, the audit delegated to ``analyzer.cli``.

``fks audit`` and ``fks rules`` are the analyzer's own commands (options, help and exit status are its);
``fks as``, ``fks base`` (``--storm`` for a subscription storm) and ``fks synth`` run the peers; ``fks monitor``
judges live traffic (``peers.monitor``). Exit status:
0 = fine, 1 = a failure (the storm lost subscriptions), 2 = unusable arguments (one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from analyzer import __version__
from analyzer import cli as audit_cli
from analyzer.cli import EXIT_FAIL, EXIT_OK, Parser, UsageError, add_judging_options, guarded, on_off
from analyzer.observation import Endpoint
from peers.io import LOG_RATE
from peers.sansio.profiles import PROFILES

if TYPE_CHECKING:
    from peers.io.tls import TlsOptions

AUDIT_COMMANDS = ("audit", "rules")  # parsed and run by analyzer.cli
MODELS = ["N610", "N670", "N870", "N870E"]


def _endpoint(text: str) -> Endpoint:
    try:
        return Endpoint.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="fks", description="Feature Key Synchronization (as-feature-event) conformance kit")
    parser.add_argument("--version", action="version", version=f"fks {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    # listed here for ``fks --help``; their arguments are analyzer.cli's (main hands them over unparsed)
    commands.add_parser("audit", help="judge captures against the conformance catalogue", add_help=False)
    commands.add_parser("rules", help="print the conformance catalogue, or one rule in full", add_help=False)
    server = commands.add_parser("as", help="run the BroadWorks-like AS emulator (UDP) until Ctrl-C")
    server.add_argument("--listen", type=_endpoint, metavar="HOST:PORT", help="default 127.0.0.1:5070 (TLS: 5061)")
    server.add_argument("--users", metavar="FILE", help="JSON users file: passwords (enables digest) and states")
    server.add_argument("--max-expires", type=int, default=3600, metavar="S", help="cap on granted Expires")
    server.add_argument("--profile", default="broadworks", choices=sorted(PROFILES), help="server behaviour to play")
    server.add_argument("--portal", type=_endpoint, metavar="HOST:PORT", help="serve the Xsi-style portal here")
    server.add_argument("--portal-token", metavar="TOKEN", help="bearer token (required beyond loopback)")
    server.add_argument("--transport", choices=["udp", "tcp", "tls"], default="udp")
    server.add_argument(
        "--workers", type=int, default=1, metavar="N", help="N processes share the UDP port, each holding some users"
    )
    _tls_arguments(server, server_side=True)
    server.add_argument(
        "--digest", default="MD5", metavar="ALGS", help="digest algorithms offered, preferred first (MD5,SHA-256)"
    )
    _log_rate_argument(server)
    synth = commands.add_parser("synth", help="write a large realistic capture (deterministic from --seed)")
    synth.add_argument(
        "--subscriptions", type=int, default=1000, metavar="N", help="handset accounts with feature sync"
    )
    synth.add_argument("--messages", type=int, metavar="M", help="aim at about M SIP messages instead of N accounts")
    synth.add_argument("--bases", type=int, metavar="M", help="bases (default: 250 accounts per base)")
    synth.add_argument("--noise", type=float, default=3.0, metavar="X", help="other SIP messages per feature-sync one")
    synth.add_argument("--rtp", type=int, default=20, metavar="N", help="RTP packets per call")
    synth.add_argument("--tcp-share", type=float, default=0.2, metavar="F", help="share of bases on TCP")
    synth.add_argument("--seed", type=int, default=1)
    synth.add_argument(
        "--shape",
        choices=["site", "dense"],
        default="site",
        help="site: feature sync among calls, RTP and other SIP; dense: only SUBSCRIBE/200/NOTIFY/200 over UDP",
    )
    synth.add_argument("--output", required=True, metavar="FILE", help="the pcap to write")
    base = commands.add_parser("base", help="run the Gigaset-like base emulator (UDP) until Ctrl-C")
    base.add_argument("--as", dest="server", type=_endpoint, required=True, metavar="HOST:PORT")
    base.add_argument("--provisioning", metavar="FILE", help="Gigaset provisioning file (required but for --storm)")
    base.add_argument("--storm", type=int, metavar="N", help="N accounts subscribe at --rate, refresh once, then stop")
    base.add_argument("--rate", type=float, default=500.0, metavar="R", help="storm SUBSCRIBEs per second")
    base.add_argument("--listen", type=_endpoint, default=Endpoint("127.0.0.1", 0), metavar="HOST:PORT")
    base.add_argument("--model", choices=MODELS, help="base model")
    base.add_argument("--internal-telephony", type=on_off, metavar="on|off", help="internal telephony setting")
    base.add_argument("--transport", choices=["udp", "tcp", "tls"], default="udp")
    _tls_arguments(base, server_side=False)
    base.add_argument("--expires", type=int, default=3600, metavar="S", help="Expires the handsets ask for")
    base.add_argument(
        "--no-register", dest="register", action="store_false", help="subscribe without registering first"
    )
    base.add_argument("--menu", metavar="FILE", help="file or FIFO of handset-menu commands (e.g. 'dnd 1001 on')")
    _log_rate_argument(base)
    _monitor_parser(commands)
    return parser


def _lines_a_second(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {text!r}")
    return value


def _log_rate_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-rate",
        type=_lines_a_second,
        default=LOG_RATE,
        metavar="N",
        help=f"per-message log lines a second at most, the rest counted (default {LOG_RATE}; 0: no cap)",
    )


def _tls_arguments(parser: argparse.ArgumentParser, server_side: bool) -> None:
    tls = parser.add_argument_group("TLS (--transport tls)")
    mine = "our certificate (PEM)" if server_side else "a client certificate to present (PEM)"
    tls.add_argument("--cert", metavar="FILE", help=mine + (", required" if server_side else ""))
    tls.add_argument("--key", metavar="FILE", help="the certificate's private key (PEM; default: in --cert)")
    checked = "the client's certificate (asked for when given)" if server_side else "the AS's certificate"
    tls.add_argument("--ca", metavar="FILE", help=f"CA certificates {checked} must chain to")
    if not server_side:
        tls.add_argument("--insecure", action="store_true", help="do not check the AS's certificate (logged)")
    tls.add_argument("--keylog", metavar="FILE", help="append the TLS session secrets here (SSLKEYLOGFILE format)")


def _tls(args: argparse.Namespace, server_side: bool) -> TlsOptions | None:
    """The TLS options, or None when the transport is not TLS (where giving them is a usage error)."""
    from peers.io.tls import TlsOptions

    given = [f"--{n}" for n in ("cert", "key", "ca", "insecure", "keylog") if getattr(args, n, None)]
    if args.transport != "tls":
        if given:
            raise UsageError(f"{', '.join(given)}: only with --transport tls")
        return None
    if server_side and not args.cert:
        raise UsageError("--transport tls needs --cert FILE (and --key FILE unless the key is in it)")
    if args.key and not args.cert:
        raise UsageError("--key needs --cert")
    return TlsOptions(args.cert, args.key, args.ca, getattr(args, "insecure", False), args.keylog)


def _monitor_parser(commands: argparse._SubParsersAction[Parser]) -> None:
    monitor = commands.add_parser("monitor", help="judge live traffic (HEP or an interface) as subscriptions settle")
    source = monitor.add_mutually_exclusive_group(required=True)
    source.add_argument("--hep", type=_endpoint, metavar="HOST:PORT", help="receive HEPv2/v3 over UDP and TCP here")
    source.add_argument("-i", dest="iface", metavar="IFACE", help="capture on this interface (dumpcap ring buffer)")
    source.add_argument("--once", metavar="PCAP", help="replay a capture through the monitor path, then exit")
    monitor.add_argument("--filter", metavar="BPF", help="capture filter for -i, e.g. 'port 5060'")
    add_judging_options(monitor)
    monitor.add_argument("--output", metavar="FILE", help="JSON lines to this file (rotated) instead of stdout")
    monitor.add_argument("--rotate-mb", type=float, default=50.0, metavar="MB", help="rotate --output at this size")
    monitor.add_argument("--keep", type=int, default=5, metavar="N", help="rotated files kept (FILE.1 .. FILE.N)")
    monitor.add_argument("--metrics", type=_endpoint, metavar="HOST:PORT", help="serve Prometheus /metrics here")
    monitor.add_argument(
        "--window",
        type=float,
        metavar="S",
        help="capture-scope rules' window (default 300 live, the whole --once file)",
    )
    monitor.add_argument(
        "--reorder", type=float, default=0.5, metavar="S", help="hold messages this long to restore time order"
    )
    monitor.add_argument("--duration", type=float, metavar="S", help="stop after S seconds (default: at SIGINT/TERM)")
    monitor.add_argument(
        "--linger", type=float, default=0.0, metavar="S", help="keep serving --metrics S seconds after stopping"
    )


def run_monitor(args: argparse.Namespace) -> int:
    from peers.monitor.run import MonitorOptions, run_monitor, run_once

    if args.filter and not args.iface:
        raise UsageError("--filter is a capture filter for -i IFACE")
    for name in ("window", "duration", "rotate_mb"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be positive")
    if args.reorder < 0 or args.keep < 0 or args.linger < 0:
        raise UsageError("--reorder, --keep and --linger must not be negative")
    opts = MonitorOptions(
        audit_cli.settings_of(args),
        hep=args.hep,
        iface=args.iface,
        capture_filter=args.filter,
        output=args.output,
        metrics=args.metrics,
        window=args.window,
        reorder=args.reorder,
        duration=args.duration,
        rotate_bytes=int(args.rotate_mb * (1 << 20)),
        keep=args.keep,
        linger=args.linger,
    )
    try:
        if args.once:
            return run_once(args.once, opts)
        return run_monitor(opts)
    except BrokenPipeError:
        raise  # a reader that went away (| head): a quiet end, as for every fks command
    except OSError as exc:
        raise UsageError(f"cannot write {exc.filename or 'the output'}: {exc.strerror}") from None


def run_as(args: argparse.Namespace) -> int:
    from peers.io.serve import AsOptions, run_as

    digest = tuple(a.strip().upper() for a in args.digest.split(","))
    if not set(digest) <= {"MD5", "SHA-256"}:
        raise UsageError(f"--digest: unknown algorithm in {args.digest!r} (MD5, SHA-256)")
    tls = _tls(args, server_side=True)
    listen = args.listen or Endpoint("127.0.0.1", 5061 if tls else 5070)
    options = AsOptions(
        listen,
        args.users,
        args.max_expires,
        PROFILES[args.profile],
        args.portal,
        args.portal_token,
        args.transport,
        digest,
        tls,
        args.log_rate,
    )
    if not 1 <= args.workers <= 64:
        raise UsageError("--workers: 1 to 64 processes")
    if args.workers > 1:
        from peers.io.workers import run_as_workers

        return run_as_workers(options, args.workers)
    return run_as(options)


def run_base(args: argparse.Namespace) -> int:
    from peers.io.serve import BaseOptions, run_base

    if args.storm is not None:
        if args.transport != "udp":
            raise UsageError("--storm runs over UDP only")
        return run_storm(args)
    if not args.provisioning:
        raise UsageError("fks base needs --provisioning FILE (or --storm N)")
    tls = _tls(args, server_side=False)
    options = BaseOptions(
        args.server,
        args.provisioning,
        args.listen,
        args.model,
        args.internal_telephony,
        args.transport,
        args.register,
        args.expires,
        args.menu,
        tls,
        args.log_rate,
    )
    return run_base(options)


def run_storm(args: argparse.Namespace) -> int:
    from peers.io import loops
    from peers.io.serve import os_reason
    from peers.io.storm import storm

    if args.storm < 1 or args.rate <= 0:
        raise UsageError("--storm and --rate must be positive")
    expires = args.expires if args.expires != 3600 else 600
    try:
        result = loops.run(storm(args.server, args.storm, args.rate, expires=expires, host=args.listen.host))
    except OSError as exc:
        raise UsageError(f"cannot run the storm from {args.listen}: {os_reason(exc)}") from None
    print(result.line(), flush=True)
    return EXIT_OK if result.failed == 0 else EXIT_FAIL


def synth(args: argparse.Namespace) -> int:
    from peers.craft.synth import SHAPES, SynthOptions, synthesize

    if args.subscriptions < 1 or (args.messages is not None and args.messages < 1) or args.noise < 0:
        raise UsageError("--subscriptions, --messages and --noise must be positive")
    subscriptions = args.subscriptions
    if args.messages is not None:  # so many feature-sync messages per account, plus the noise around them
        noise = args.noise if args.shape == "site" else 0.0
        subscriptions = max(1, round(args.messages / (SHAPES[args.shape] * (1 + noise))))
    opts = SynthOptions(subscriptions, args.bases, args.noise, args.rtp, args.tcp_share, args.seed, shape=args.shape)
    try:
        stats = synthesize(args.output, opts)
    except OSError as exc:
        raise UsageError(f"cannot write {args.output}: {exc.strerror}") from None
    print(
        f"{args.output}: {stats.packets} packets, {stats.sip_messages} SIP messages "
        f"({stats.feature_sync_messages} feature sync), {stats.subscriptions} subscriptions"
    )
    return EXIT_OK


COMMANDS = {"as": run_as, "base": run_base, "synth": synth, "monitor": run_monitor}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in AUDIT_COMMANDS:
        return audit_cli.main(argv)

    def run() -> int:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)

    return guarded(run)


if __name__ == "__main__":
    sys.exit(main())
