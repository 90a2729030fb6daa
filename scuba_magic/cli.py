"""The ``scuba-magic`` command: run Scuba queries from a shell, or start the local emulator.

Usage::

    scuba-magic query "select count(*) from foreverMusic group by gender between 7 days ago and now"
    scuba-magic query --rid r9372 --format csv --output plays.csv
    scuba-magic query - < weekly.bql                 # the query from standard input
    scuba-magic query "select count(*) from music" --explore --chart-type table
    scuba-magic query "select count(*) from music" --dry-run   # print the request as curl
    scuba-magic serve --demo                         # the local emulator (see below)
    scuba-magic demo                                 # run the quickstart notebook on it

Host and token come from ``scuba_magic.config`` (the profiles file, ``SCUBA_HOST``,
``SCUBA_API_TOKEN``, ``SCUBA_PROFILE``); ``--profile`` and ``--host`` override them. The token is
never taken on the command line, where shell history and ``ps`` would keep it. ``serve`` needs
the emulator's packages: ``pip install 'scuba-magic[emulator]'``.

Data goes to standard output (or ``--output``): ``--format table`` (the default), ``csv`` or
``json`` (records), times as ISO 8601 in csv and json. An error is one line on standard error,
``scuba-magic: error: <what happened and what to do>``, with exit status 1; a wrong command line
exits with 2 and Ctrl-C with 130.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import IO, Any, NoReturn

__all__ = ["FORMATS", "main", "render"]

PROG = "scuba-magic"
FORMATS = ("table", "csv", "json")
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """A wrong command line: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse would print the whole usage block; every error of this command is one line
        raise UsageError(f"{message} (see '{self.prog} --help')")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``) and return the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        try:
            parser = _build_parser(with_serve=_first_command(args_list) == "serve")
            args = parser.parse_args(args_list)
        except SystemExit as done:  # --help and --version
            return done.code if isinstance(done.code, int) else 0
        if args.command == "serve":
            return _serve(args)
        if args.command == "demo":
            return _demo(args)
        return _query(args)
    except KeyboardInterrupt:
        _say_error("interrupted")
        return EXIT_INTERRUPTED
    except UsageError as exc:
        _say_error(str(exc))
        return EXIT_USAGE
    except BrokenPipeError:
        # the reader went away (`| head`): stop quietly, without a second error at exit
        _silence_stdout()
        return EXIT_ERROR


def _say_error(message: str) -> None:
    print(f"{PROG}: error: {' '.join(message.split())}", file=sys.stderr)


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _first_command(args: Sequence[str]) -> str | None:
    return next((arg for arg in args if not arg.startswith("-")), None)


def _build_parser(*, with_serve: bool) -> argparse.ArgumentParser:
    from scuba_magic import __version__
    from scuba_magic.protocol import CHART_TYPES, RESULT_FORMATS

    parser = _Parser(
        prog=PROG,
        description="Query Scuba Analytics from a shell, or run the local Scuba emulator.",
        epilog=f"'{PROG} COMMAND --help' describes a command.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    query = commands.add_parser(
        "query",
        help="run a BQL query or a query response id and print the result",
        description="Run a BQL query (or replay a query response id) and print the result. "
        "Host and token come from the profiles file and SCUBA_HOST / SCUBA_API_TOKEN / "
        "SCUBA_PROFILE (see the README); the token is never given on the command line.",
    )
    query.add_argument(
        "bql", nargs="?", metavar="BQL", help="the BQL query; '-' reads it from standard input"
    )
    query.add_argument("--rid", metavar="RID", help="a query response id instead, e.g. r9372")
    output = query.add_argument_group("output")
    output.add_argument(
        "--format",
        type=str.lower,
        choices=FORMATS,
        default="table",
        help="how to print the data (default: %(default)s); csv and json write ISO 8601 times",
    )
    output.add_argument("--output", "-o", metavar="FILE", help="write to FILE, not stdout")
    output.add_argument(
        "--result-format",
        type=str.upper,
        choices=RESULT_FORMATS,
        default="JSON_POWER_BI",
        help="the format asked of the server (default: %(default)s); DEFAULT answers are "
        "printed as JSON",
    )
    explore = query.add_argument_group("explore links")
    explore.add_argument(
        "--explore",
        action="store_true",
        help="ask for a link to the query as a chart in the Scuba UI; prints the URL and rid",
    )
    explore.add_argument(
        "--chart-type",
        type=str.upper,
        choices=CHART_TYPES,
        metavar="TYPE",
        help=f"chart of the link, one of {', '.join(CHART_TYPES)} (any case; default TIME)",
    )
    explore.add_argument("--chart-name", metavar="NAME", help="title of the chart in the UI")
    connection = query.add_argument_group("connection")
    connection.add_argument("--profile", metavar="NAME", help="profile of the profiles file")
    connection.add_argument("--host", help="cluster host, e.g. my_cluster.scuba.io")
    connection.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help="how long to wait for the answer (queries can take minutes)",
    )
    connection.add_argument(
        "--dry-run",
        action="store_true",
        help="print the request as a curl command (token as $SCUBA_API_TOKEN); send nothing",
    )

    serve = commands.add_parser(
        "serve",
        help="run the local Scuba emulator (needs: pip install 'scuba-magic[emulator]')",
        description="Serve the Scuba query API on this machine, backed by DuckDB.",
    )
    if with_serve:
        # only now: `scuba-magic query` never imports the emulator
        from scuba_magic.emulator.command import add_serve_arguments

        add_serve_arguments(serve)

    demo = commands.add_parser(
        "demo",
        help="run the quickstart notebook against the embedded emulator and print it as it runs",
        description=(
            "Execute notebooks/quickstart.ipynb headless in a new kernel: it starts the "
            "embedded emulator with demo data, runs queries with the magics, makes an explore "
            "link, and saves the executed notebook to open in Jupyter. Needs a checkout "
            "installed with: pip install -e '.[emulator,notebook]'"
        ),
    )
    demo.add_argument(
        "--output-dir",
        default="demo-output",
        metavar="DIR",
        help="where to save the executed notebook (default: %(default)s)",
    )
    return parser


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number of seconds")
    return value


# scuba-magic serve


def _serve(args: argparse.Namespace) -> int:
    from scuba_magic.emulator.command import run_serve

    try:
        return run_serve(args)
    except ModuleNotFoundError as exc:
        _say_error(
            f"the emulator needs packages that are not installed ({exc.name}); install them "
            "with: pip install 'scuba-magic[emulator]'"
        )
        return EXIT_ERROR


# scuba-magic demo


def _demo(args: argparse.Namespace) -> int:
    from scuba_magic.notebook_demo import NotebookDemoError, run_quickstart

    try:
        run_quickstart(args.output_dir)
    except NotebookDemoError as exc:
        _say_error(str(exc))
        return EXIT_ERROR
    return 0


# scuba-magic query


def _query(args: argparse.Namespace) -> int:
    from scuba_magic.errors import RequestValidationError, ScubaError

    bql, rid = _query_arguments(args)
    try:
        from scuba_magic.client import ScubaClient

        options = {"timeout": args.timeout} if args.timeout is not None else {}
        with ScubaClient(host=args.host, profile=args.profile, **options) as client:
            text = _run(client, args, bql, rid)
        if args.output:
            _write_file(args.output, text)
        else:
            sys.stdout.write(text)
            sys.stdout.flush()
    except RequestValidationError as exc:
        raise UsageError(str(exc)) from exc
    except ScubaError as exc:
        _say_error(str(exc))
        return EXIT_ERROR
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            raise
        where = f" {exc.filename}" if exc.filename else ""
        _say_error(f"cannot write{where}: {exc.strerror or exc}")
        return EXIT_ERROR
    return 0


def _query_arguments(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """Check what argparse cannot: one of BQL and --rid, options that go together."""
    from scuba_magic.client import validate_rid
    from scuba_magic.errors import RequestValidationError

    bql = args.bql
    if bql == "-":
        bql = sys.stdin.read()
    if bql is not None and args.rid is not None:
        raise UsageError("give a BQL query or --rid, not both")
    if bql is None and args.rid is None:
        raise UsageError('give a BQL query (e.g. "select count(*) from foreverMusic") or --rid')
    if bql is not None and not bql.strip():
        raise UsageError("the BQL query is blank")
    rid = None
    if args.rid is not None:
        try:
            rid = validate_rid(args.rid)
        except RequestValidationError as exc:
            raise UsageError(str(exc)) from exc
    if not args.explore:
        for option, value in (("--chart-type", args.chart_type), ("--chart-name", args.chart_name)):
            if value is not None:
                raise UsageError(f"{option} applies to explore links only: add --explore")
    elif args.result_format != "JSON_POWER_BI":
        raise UsageError("--result-format applies to data, not to --explore links")
    if args.result_format == "DEFAULT" and args.format == "csv":
        raise UsageError("DEFAULT answers are printed as JSON; use --format json or table")
    return bql, rid


def _run(client: Any, args: argparse.Namespace, bql: str | None, rid: str | None) -> str:
    if args.explore:
        if args.dry_run:
            prepared = client.prepare_request(
                bql,
                rid=rid,
                return_type="explore_url",
                chart_type=args.chart_type,
                chart_name=args.chart_name,
            )
            return prepared.to_curl() + "\n"
        link = client.explore_url(
            bql, rid=rid, chart_type=args.chart_type, chart_name=args.chart_name
        )
        return _render_link(link.url, link.rid, args.format)
    if args.dry_run:
        prepared = client.prepare_request(bql, rid=rid, result_format=args.result_format)
        return prepared.to_curl() + "\n"
    result = client.query(bql, rid=rid, result_format=args.result_format)
    if args.result_format == "DEFAULT":
        import json

        indent = None if args.format == "json" else 2
        return json.dumps(result, indent=indent, ensure_ascii=False) + "\n"
    return render(result, args.format)


def _render_link(url: str, rid: str | None, fmt: str) -> str:
    if fmt == "json":
        import json

        return json.dumps({"url": url, "rid": rid}) + "\n"
    if fmt == "csv":
        import csv
        import io

        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerows([["url", "rid"], [url, rid or ""]])
        return out.getvalue()
    return f"{url}\nrid: {rid or '(not in the URL)'}\n"


def render(df: Any, fmt: str) -> str:
    """Print a result DataFrame as ``table``, ``csv`` or ``json`` (records) text.

    Args:
        df: a DataFrame from ``ScubaClient.query``.
        fmt: one of :data:`FORMATS`.

    Returns:
        The text, ending in a new line.
    """
    if fmt == "table":
        if df.empty:
            return "  ".join(map(str, df.columns)) + "\n"
        return df.to_string(index=False) + "\n"
    df = _iso_times(df)
    if fmt == "csv":
        return df.to_csv(index=False, lineterminator="\n")
    if fmt == "json":
        import orjson

        records = df.to_dict(orient="records")
        text = orjson.dumps(records, default=_json_default, option=orjson.OPT_SERIALIZE_NUMPY)
        return text.decode("utf-8") + "\n"
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def _iso_times(df: Any) -> Any:
    import pandas as pd

    from scuba_magic.frames import is_time_column

    df = df.copy(deep=False)
    for name in df.columns:
        if is_time_column(str(name)) and isinstance(df[name].dtype, pd.DatetimeTZDtype):
            df[name] = (
                df[name]
                .map(lambda t: None if pd.isna(t) else t.isoformat(timespec="milliseconds"))
                .astype(object)
            )
    return df


def _json_default(value: Any) -> Any:
    import pandas as pd

    if value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars the option does not cover
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _write_file(path: str, text: str) -> None:
    out: IO[str]
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(text)


if __name__ == "__main__":
    sys.exit(main())
