"""``scuba-magic serve``: the command-line front of the emulator.

``add_serve_arguments(parser)`` declares the options on an argparse parser (the ``serve``
sub-command of :mod:`scuba_magic.cli`) and ``run_serve(args)`` starts the emulator, prints where
it listens and how to point the client at it, and serves until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from datetime import datetime, timezone
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from scuba_magic.emulator import Emulator

DEFAULT_PORT = 8765


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``serve`` options on ``parser``."""
    data = parser.add_argument_group("data")
    data.add_argument(
        "--demo",
        action="store_true",
        help="serve the seeded demo table foreverMusic (alias music); the default when no "
        "--table is given",
    )
    data.add_argument(
        "--demo-events",
        type=_non_negative_int,
        default=1_000_000,
        metavar="N",
        help="number of demo events (default: %(default)s)",
    )
    data.add_argument(
        "--table",
        action="append",
        default=[],
        metavar="NAME=PATH",
        type=_table_spec,
        help="serve a Parquet, CSV or JSON-lines file as table NAME (repeatable)",
    )
    data.add_argument(
        "--time-column",
        default="time",
        metavar="C",
        help="the event time column of --table files: a timestamp, or epoch seconds or "
        "milliseconds (default: %(default)s)",
    )
    data.add_argument(
        "--actor",
        action="append",
        default=[],
        metavar="C",
        help="an actor (Actor<C>) column of --table files (repeatable)",
    )
    data.add_argument(
        "--now",
        type=_iso_datetime,
        metavar="ISO8601",
        help="pin the time BQL's 'now' means, e.g. 2024-06-01T00:00:00Z (naive = UTC); the demo "
        "data ends there. Default: the clock",
    )
    net = parser.add_argument_group("network and access")
    net.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: %(default)s, this machine only)",
    )
    net.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help="TCP port, 0 for any free one (default: %(default)s)",
    )
    net.add_argument(
        "--allow-remote",
        action="store_true",
        help="permit a --host other than loopback (other machines can then query the data and "
        "open explorer pages)",
    )
    net.add_argument(
        "--token",
        action="append",
        default=[],
        metavar="T",
        help="an API token to accept (repeatable); default: generate one and print it. Prefer "
        "SCUBA_EMULATOR_TOKEN in the environment over the command line, which other users "
        "of the machine can see",
    )
    net.add_argument(
        "--rate-limit",
        type=_rate,
        metavar="N/s",
        help="requests allowed per token, e.g. 5/s, 100/min or 1000/day; beyond it the answer "
        "is 429 with Retry-After (default: no limit)",
    )
    run = parser.add_argument_group("queries and state")
    run.add_argument(
        "--query-timeout",
        type=_positive_float,
        default=30.0,
        metavar="S",
        help="stop a query after S seconds and answer 400 query_timeout (default: %(default)s)",
    )
    run.add_argument(
        "--state-dir",
        metavar="DIR",
        help="keep query response ids, chart options and created tokens in DIR across "
        "restarts (default: in memory only)",
    )
    run.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="log level of the emulator's request log on stderr (default: %(default)s)",
    )


def run_serve(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Start the emulator from parsed ``serve`` options and serve until interrupted.

    Returns:
        The process exit status: 0 after a clean stop, 2 when the options or data cannot be
        used, 130 when interrupted while loading.
    """
    import os

    from scuba_magic.emulator import Emulator, is_loopback_host

    out = out or sys.stdout
    if not args.allow_remote and not is_loopback_host(args.host):
        print(
            f"error: --host {args.host} would let other machines reach the emulator; add "
            "--allow-remote if that is intended.",
            file=sys.stderr,
        )
        return 2
    tokens = list(args.token)
    env_token = os.environ.get("SCUBA_EMULATOR_TOKEN")
    if env_token:
        tokens.append(env_token)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    emulator = Emulator(
        demo=args.demo or not args.table,
        port=args.port,
        host=args.host,
        tokens=tokens or None,
        now=args.now,
        state_dir=args.state_dir,
        tables=dict(args.table),
        query_timeout=args.query_timeout,
        rate_limit=args.rate_limit,
        demo_events=args.demo_events,
        time_column=args.time_column,
        actor_columns=args.actor,
        allow_remote=args.allow_remote,
    )
    try:
        emulator.start()
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        emulator.stop()
        return 130
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        print_banner(emulator, out=out)
        while not stop.wait(0.5):
            if not emulator.running:
                print("error: the emulator stopped unexpectedly; see the log.", file=sys.stderr)
                return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        emulator.stop()
    return 0


def print_banner(emulator: Emulator, *, out: TextIO) -> None:
    """Print the URL, the tables, and the ``export`` lines for the client.

    The token is printed only when the emulator generated it: the user needs it and it exists
    nowhere else. A token the user supplied is never echoed.
    """
    from scuba_magic.emulator import is_loopback_host

    assert emulator.catalog is not None
    names = ", ".join(
        table.name + (f" (alias {', '.join(table.aliases)})" if table.aliases else "")
        for table in emulator.catalog.tables()
    )
    lines = [f"Scuba emulator listening on {emulator.url}", f"Tables: {names}"]
    if not is_loopback_host(emulator.host):
        lines.append(
            f"WARNING: listening on {emulator.host}: other machines can query these tables and "
            "open explorer pages."
        )
    if emulator.state_dir is not None:
        lines.append(f"State (rids, created tokens) kept in {emulator.state_dir}")
    lines.append("Use it from a shell or notebook with:")
    lines.append(f"  export SCUBA_HOST={emulator.url}")
    if emulator.token_generated:
        lines.append(f"  export SCUBA_API_TOKEN={emulator.token}")
    else:
        lines.append("  export SCUBA_API_TOKEN=<one of the tokens given with --token>")
    lines.append("Press Ctrl-C to stop.")
    print("\n".join(lines), file=out, flush=True)


def _table_spec(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name.strip() or not path.strip():
        raise argparse.ArgumentTypeError(
            f"expected NAME=PATH, e.g. events=data/events.parquet; got {text!r}"
        )
    return name.strip(), path.strip()


def _rate(text: str) -> str:
    from scuba_magic.emulator.ratelimit import parse_rate

    try:
        parse_rate(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _iso_datetime(text: str) -> datetime:
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time such as 2024-06-01T00:00:00Z; got {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number; got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more; got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds; got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0; got {text!r}")
    return value


def _port(text: str) -> int:
    value = _non_negative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535; got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    """Run ``serve`` on its own: ``python -m scuba_magic.emulator.command --demo``."""
    parser = argparse.ArgumentParser(
        prog="scuba-magic serve",
        description="A local Scuba: the External Query API on loopback, backed by DuckDB.",
    )
    add_serve_arguments(parser)
    return run_serve(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
