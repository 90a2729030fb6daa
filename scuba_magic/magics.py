"""IPython magics for Scuba: ``%%bql``, ``%bql``, ``%scuba_rid`` and ``%scuba_connect``.

Load them with ``%load_ext scuba_magic`` (an environment with the package installed loads
them in every IPython kernel already; ``SCUBA_MAGIC_AUTOLOAD=0`` turns that off)::

    %scuba_connect --local                 # the embedded emulator with demo data
    %scuba_connect my_cluster.scuba.io     # a cluster: prompts for the token if none is set

    %%bql plays
    select count(*) from foreverMusic group by gender between 7 days ago and now

    %bql --quiet select count(*) from music
    %scuba_rid r9372 ui_result

Settings, for the session (``%config ScubaMagics.<name> = value``) or in an IPython config
file (``c.ScubaMagics.<name> = value``):

- ``profile``: profile of the profiles file used when a magic names none;
- ``timeout``: read timeout in seconds for a query;
- ``result_format``: ``JSON_POWER_BI`` (default), ``CSV`` or ``DEFAULT``;
- ``widgets``: show the result toolbar (plot, explore link) below a result;
- ``max_groups``: how many groups a plot shows before it keeps only the top ones;
- ``debug``: show the full traceback of an error instead of a one-line message.

Below a DataFrame result comes a toolbar (**Plot time buckets**, **Create explore link**),
kept as ``_bql_toolbar``; the result itself is ``_bql``.

The API token never appears in an output: dry runs write ``$SCUBA_API_TOKEN`` in its place,
and a token typed into a magic line is refused rather than used.
"""

from __future__ import annotations

import atexit
import json
import keyword
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from IPython.core.error import StdinNotImplementedError, UsageError
from IPython.core.magic import (
    Magics,
    line_cell_magic,
    line_magic,
    magics_class,
    no_var_expand,
)
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Bool, CaselessStrEnum, Float, Int, TraitError, Unicode, validate

from scuba_magic.protocol import CHART_TYPES, RESULT_FORMATS

__all__ = ["ScubaMagics", "load_ipython_extension", "local_emulator", "unload_ipython_extension"]

_TOKEN_OPTION = re.compile(r"--?(api[-_]?)?(token|key|secret|password)\b", re.IGNORECASE)
# the characters of base64, base64url and hex tokens (and of JWTs, whose parts are base64url)
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9+/=_\-.~]+\Z")
_LONG_HEX = re.compile(r"[0-9a-fA-F]{32,}\Z")
# The runs a name is made of: a capitalized or lower-case word, an acronym, a number.
_NAME_PART = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
# Bits of character entropy per character, minus half the mean length of the name parts:
# names reuse the letters of a few words (low entropy, long parts), random tokens spread over
# their alphabet and split into parts of one or two characters. Measured: realistic names
# (plays_By_Country_2024_weekly, MyWeeklyRevenueChartQ3v2024, ...) score 1.3 to 2.8;
# secrets.token_urlsafe(32) averages 3.9 and scores below 2.9 about 3 times in 100,000.
_TOKEN_SCORE = 2.9
_CHART_NAME_OPTION = "--chart-name"
TOKEN_REFUSED = (
    "That looks like an API token typed into the magic line; it was not used. Don't paste "
    "tokens into notebooks: set SCUBA_API_TOKEN in the environment, or run "
    "%scuba_connect HOST and enter the token at its prompt."
)
TOKEN_IN_QUERY = (
    "With its {placeholders} filled in, the query contains the API token; it was not sent. "
    "Don't put tokens into queries."
)

# The embedded emulator of `%scuba_connect --local`: one per kernel, stopped at exit.
_local_emulator: Any = None
_local_lock = threading.Lock()


def _looks_like_token(word: str) -> bool:
    """Whether a word from a magic line looks like a pasted secret rather than a name.

    Only long words made of token characters qualify; of those, hex strings, words with the
    base64 marks ``+ / =`` (never in a Python or profile name; a host has a ``.``) and words
    as random as a generated token are refused.
    """
    if len(word) < 24 or not _TOKEN_CHARS.match(word):
        return False
    if _LONG_HEX.match(word):
        return True
    if "." not in word and any(mark in word for mark in "+/="):
        return True
    return _randomness(word) >= _TOKEN_SCORE


def _randomness(word: str) -> float:
    """Character entropy (bits per character) minus half the mean length of the name parts."""
    import math
    from collections import Counter

    n = len(word)
    entropy = -sum(c / n * math.log2(c / n) for c in Counter(word).values())
    parts = _NAME_PART.findall(word)
    mean_part = sum(map(len, parts)) / len(parts) if parts else 0.0
    return entropy - 0.5 * mean_part


def _describe_owner(func: Any) -> str:
    owner = getattr(func, "__self__", None)
    if owner is not None:
        kind = type(owner)
        return f"{kind.__module__}.{kind.__qualname__}"
    spec = getattr(func, "spec", None)
    if isinstance(spec, str):
        return spec
    return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', '?')}"


def _split_options(line: str, value_options: set[str]) -> tuple[str, str]:
    """Split ``%bql`` 's line into its leading options and the query, kept verbatim.

    Options come first; an option in ``value_options`` takes the next word (which may be
    quoted) as its value. The query starts at the first word that is neither.
    """
    i, n = 0, len(line)
    expect_value = False
    while i < n:
        while i < n and line[i].isspace():
            i += 1
        if i >= n:
            break
        if not expect_value and line[i] != "-":
            break
        start = i
        if line[i] in "\"'":
            quote = line[i]
            i += 1
            while i < n and line[i] != quote:
                i += 2 if line[i] == "\\" else 1
            i = min(i + 1, n)
        else:
            while i < n and not line[i].isspace():
                i += 1
        word = line[start:i]
        if expect_value:
            expect_value = False
        elif word.split("=", 1)[0] in value_options and "=" not in word:
            expect_value = True
    return line[:i], line[i:].strip()


def _query_options(magic: Callable[..., Any]) -> Callable[..., Any]:
    """Add the options that ``%%bql`` and ``%scuba_rid`` share, after their own arguments."""
    options = [
        argument("--profile", metavar="NAME", help="Use this profile of the profiles file."),
        argument(
            "--result-format",
            metavar="FORMAT",
            type=str.upper,
            choices=RESULT_FORMATS,
            help="JSON_POWER_BI (default), CSV (same DataFrame, CSV on the wire) or DEFAULT "
            "(the parsed JSON, not a DataFrame).",
        ),
        argument(
            "--explore",
            action="store_true",
            help="Ask for an explore URL (a chart in the Scuba UI) instead of data.",
        ),
        argument(
            "--chart-type",
            metavar="TYPE",
            type=str.upper,
            choices=CHART_TYPES,
            help="Chart of the explore URL: " + ", ".join(CHART_TYPES) + " (default TIME).",
        ),
        argument(_CHART_NAME_OPTION, metavar="NAME", help="Title of the explore URL's chart."),
        argument("--timeout", metavar="SECONDS", type=float, help="Read timeout for this query."),
        argument(
            "--dry-run",
            action="store_true",
            help="Show the request as a curl command and JSON body (token as "
            "$SCUBA_API_TOKEN); send nothing.",
        ),
        argument("--plot", action="store_true", help="Draw the time-bucket chart at once."),
        argument("--no-widgets", action="store_true", help="Don't show the result toolbar."),
        argument("--quiet", action="store_true", help="Don't print the receipt line."),
        argument("--debug", action="store_true", help="Show the full traceback of an error."),
    ]
    # applied last to first, as a stack of decorators written in this order would be
    for option in reversed(options):
        magic = option(magic)
    return magic


@magics_class
class ScubaMagics(Magics):
    """Magics that run BQL and query response ids against a Scuba cluster or the emulator."""

    profile = Unicode(
        None,
        allow_none=True,
        help="Profile of the profiles file to use when a magic names none.",
    ).tag(config=True)
    timeout = Float(
        None,
        allow_none=True,
        help="Read timeout in seconds for a query (None: the client's default).",
    ).tag(config=True)
    result_format = CaselessStrEnum(
        RESULT_FORMATS,
        default_value="JSON_POWER_BI",
        help="Result format asked for: JSON_POWER_BI, CSV or DEFAULT.",
    ).tag(config=True)
    widgets = Bool(
        True, help="Show the result toolbar (plot, explore link) below a DataFrame."
    ).tag(config=True)
    max_groups = Int(10, help="How many groups a plot shows; the rest are cut.").tag(config=True)

    debug = Bool(
        False, help="Show the full traceback of an error instead of a one-line message."
    ).tag(config=True)

    @validate("max_groups")
    def _check_max_groups(self, proposal: Any) -> int:
        # refused when set, not later at the first plot, far from the %config that caused it
        value = proposal["value"]
        if value < 1:
            raise TraitError(
                f"ScubaMagics.max_groups must be at least 1 (how many groups a plot shows), "
                f"not {value}."
            )
        return value

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._connection: Any = None  # scuba_magic.config.Connection set by %scuba_connect
        self._client: Any = None
        self._client_key: tuple[Any, ...] | None = None
        # what %%bql and friends replaced, put back by unload
        self._replaced: dict[tuple[str, str], Any] = {}
        # the chart and toolbar of a result that is the cell's value, shown after that value
        self._after_cell: list[Callable[[], None]] = []

    # --- %%bql / %bql -----------------------------------------------------------------

    @no_var_expand
    @magic_arguments()
    @argument(
        "var",
        nargs="?",
        metavar="VAR",
        help="Store the result in this variable instead of returning it (cell form only).",
    )
    @_query_options
    @line_cell_magic
    def bql(self, line: str, cell: str | None = None) -> Any:
        """Run a BQL query and return the result as a pandas DataFrame.

        Cell form: the options go on the ``%%bql`` line, the query (any number of lines)
        in the cell. Line form: ``%bql [options] <query on one line>``.

        Example::

            %%bql weekly
            select count(*) as plays from foreverMusic
            group by gender
            for every 1 day between 7 days ago and now

        The DataFrame has the group-by columns, ``start_time_0``/``end_time_0`` (timezone-
        aware) and one column per measure; ``df.attrs["scuba"]`` records where it came
        from. Without VAR the DataFrame is the cell's value; the last result is also ``_bql``.
        The toolbar below it (plot, explore link) is ``_bql_toolbar``: its buttons work from
        code too, e.g. ``_bql_toolbar.plot_button.click()``.

        ``{name}`` placeholders take Python values from the notebook, written as BQL
        literals (strings quoted and escaped, numbers, lists/tuples/sets as ``("a", "b")``,
        dates/datetimes as BQL times)::

            %%bql
            select count(* where artist in {artists}) from music between {since} and now

        with ``artists = ["Adele", "Queen"]`` and ``since = datetime.date(2024, 5, 1)``
        assigned in an earlier cell.

        Write ``{{`` and ``}}`` for literal braces; braces inside quotes are kept as written.
        ``%scuba_rid`` re-runs a query from the Scuba UI; a UI query returns only its
        visible measures.

        Errors show as one line; ``--debug`` or ``%config ScubaMagics.debug = True`` shows
        the traceback. Ctrl-C stops waiting for an answer.
        """
        debug = self.debug
        with self._user_errors(lambda: debug):
            if cell is None:
                options, query = _split_options(line, self._value_options(self.bql))
                self._refuse_tokens(options, query)
                args = _parse(self.bql, options)
            else:
                self._refuse_tokens(line, cell)
                try:
                    args = _parse(self.bql, line)
                except UsageError:
                    if cell.strip():
                        raise
                    # argparse would only say "unrecognized arguments: count(*) from music"
                    raise UsageError(
                        "The query goes in the cell below %%bql (or use the line magic "
                        "%bql <query>)."
                    ) from None
                query = cell
            debug = debug or args.debug
            if not query.strip():
                raise UsageError(
                    "No query: write it after %bql on the same line, or in the cell below "
                    "%%bql. Example: %bql select count(*) from foreverMusic"
                )
            from scuba_magic.params import render

            query = render(query, self.shell.user_ns).strip()
            # a {placeholder} can bring the token in, and the query goes to the server, the
            # dry run and df.attrs
            if any(token in query for token in self._known_tokens()):
                raise UsageError(TOKEN_IN_QUERY)
            return self._run(args, bql=query)

    # --- %scuba_rid --------------------------------------------------------------------

    @no_var_expand
    @magic_arguments()
    @argument("rid", metavar="RID", help="The query response id, e.g. r9372.")
    @argument("var", nargs="?", metavar="VAR", help="Store the result in this variable.")
    @_query_options
    @line_magic
    def scuba_rid(self, line: str) -> Any:
        """Re-run a query by its query response id (the ``r9372`` in the Scuba UI's URL).

        Example::

            %scuba_rid r9372 ui_result
            %scuba_rid r9372 --explore --chart-type TABLE --chart-name "Plays by day"
            %scuba_rid {link.rid}        # the rid held by a Python variable (an ExploreLink)

        A query built in the Scuba UI returns only its visible measures (hidden ones are
        left out), labelled ``measure 1``, ``measure 2``, ... Every query run through the
        API, BQL or rid, gets a rid of its own that ``%scuba_rid`` can replay. Options
        are those of ``%%bql``.
        """
        from scuba_magic.client import validate_rid

        debug = self.debug
        with self._user_errors(lambda: debug):
            self._refuse_tokens(line, "")
            args = _parse(self.scuba_rid, line)
            debug = debug or args.debug
            rid = args.rid.strip()
            if rid.startswith("{") and rid.endswith("}"):
                # %scuba_rid {link.rid} is not expanded by IPython (no_var_expand): a placeholder
                rid = _rid_from_namespace(rid[1:-1].strip(), self.shell.user_ns)
            # checked before the connection, so a mistyped rid is the error shown first
            return self._run(args, rid=validate_rid(rid))

    # --- %scuba_connect ----------------------------------------------------------------

    @no_var_expand
    @magic_arguments()
    @argument(
        "host",
        nargs="?",
        metavar="HOST",
        help="The cluster, e.g. my_cluster.scuba.io (https:// is assumed).",
    )
    @argument("--profile", metavar="NAME", help="Use this profile of the profiles file.")
    @argument(
        "--local",
        action="store_true",
        help="Start the embedded emulator with demo data in this kernel and connect to it.",
    )
    @line_magic
    def scuba_connect(self, line: str) -> None:
        """Set the Scuba connection for this session, or show it.

        Examples::

            %scuba_connect my_cluster.scuba.io   # prompts for the token if none is set
            %scuba_connect --profile prod        # a profile of ~/.config/scuba-magic/config.toml
            %scuba_connect --local               # the local emulator with demo data
            %scuba_connect                       # show host, profile and the token's source

        The token comes from ``SCUBA_API_TOKEN``, the profile, or a hidden prompt (get one at
        ``https://<host>/api/create_token`` in a browser logged into Scuba). It is held for
        this session only and never shown or saved in the notebook.
        """
        from scuba_magic.config import Connection, Secret, resolve_connection

        with self._user_errors(lambda: self.debug):
            self._refuse_tokens(line, "")
            args = _parse(self.scuba_connect, line)
            if args.local:
                if args.host or args.profile:
                    raise UsageError(
                        "--local connects to the embedded emulator: drop HOST and "
                        "--profile, or drop --local."
                    )
                emulator = _start_local_emulator()
                self._set_connection(
                    Connection(
                        host=emulator.url,
                        token=Secret(emulator.token),
                        profile=None,
                        token_source="the local emulator",
                        host_source="%scuba_connect --local",
                    )
                )
                print(
                    f"Connected to the local Scuba emulator at {emulator.url} (demo table "
                    "foreverMusic, also called music)."
                )
                return
            if not args.host and not args.profile:
                self._show_connection()
                return
            connection = resolve_connection(session_profile=args.profile, session_host=args.host)
            if connection.token is None:
                connection = Connection(
                    host=connection.host,
                    token=self._prompt_for_token(connection.host),
                    profile=connection.profile,
                    token_source="the %scuba_connect prompt",
                    host_source=connection.host_source,
                )
            self._set_connection(connection)
            print(f"Connected to {_describe(connection)}.")

    # --- internals ---------------------------------------------------------------------

    @staticmethod
    def _value_options(magic: Any) -> set[str]:
        names: set[str] = set()
        for action in magic.parser._actions:
            if action.option_strings and action.nargs != 0:
                names.update(action.option_strings)
        return names

    def _known_tokens(self) -> list[str]:
        tokens = [os.environ.get("SCUBA_API_TOKEN", "").strip()]
        if self._connection is not None and self._connection.token is not None:
            tokens.append(self._connection.token.reveal())
        if _local_emulator is not None:
            tokens.append(str(_local_emulator.token))
        return [token for token in tokens if len(token) >= 8]

    def _refuse_tokens(self, words_text: str, body: str) -> None:
        """Raise ``UsageError`` if a token was typed into the magic line or the query."""
        self._refuse_token_like_words(words_text)
        for token in self._known_tokens():
            if token in words_text or token in body:
                raise UsageError(TOKEN_REFUSED)

    @staticmethod
    def _refuse_token_like_words(words_text: str) -> None:
        """Raise ``UsageError`` if a word of a magic line looks like a token (or names one)."""
        import shlex

        try:
            # quoted values stay whole, so a chart name with spaces is one word
            words = shlex.split(words_text, posix=True)
        except ValueError:
            words = words_text.split()
        after_chart_name = False
        for word in words:
            if after_chart_name:
                # a display name, free text: only a known token (checked by the caller) is
                # refused there
                after_chart_name = False
                continue
            if _TOKEN_OPTION.match(word):
                raise UsageError(TOKEN_REFUSED)
            if word.startswith("-"):
                option, has_value, value = word.partition("=")
                if option == _CHART_NAME_OPTION:
                    after_chart_name = not has_value
                    continue
                word = value
            if _looks_like_token(word.strip("\"'")):
                raise UsageError(TOKEN_REFUSED)

    def _prompt_for_token(self, host: str) -> Any:
        import getpass

        from scuba_magic.config import Secret

        prompt = (
            f"API token for {host} (get one at {host}/api/create_token in a browser logged "
            "into Scuba; input is hidden): "
        )
        try:
            entered = getpass.getpass(prompt)
        except StdinNotImplementedError:
            raise UsageError(
                f"No API token for {host}, and this frontend cannot prompt for one. Set "
                "SCUBA_API_TOKEN in the kernel's environment or add a profile to "
                f"~/.config/scuba-magic/config.toml; get a token at {host}/api/create_token."
            ) from None
        entered = (entered or "").strip()
        if not entered:
            raise UsageError(
                f"No token entered, so the connection to {host} was not changed. Get a token "
                f"at {host}/api/create_token and run %scuba_connect again."
            )
        return Secret(entered)

    def _set_connection(self, connection: Any) -> None:
        """Use ``connection`` from now on; raises ``ConfigError`` if no client can use it.

        The client is built here, so that a host it refuses (such as plain ``http://`` to
        another machine) is an error at ``%scuba_connect``, not at every query after it.
        """
        self._client = None
        self._client_key = None
        self._client_for(connection)
        self._connection = connection

    def _show_connection(self) -> None:
        from scuba_magic.config import resolve_connection
        from scuba_magic.errors import ConfigError

        if self._connection is not None:
            print(f"Connected to {_describe(self._connection)} (set by %scuba_connect).")
            return
        try:
            connection = resolve_connection(session_profile=self.profile)
        except ConfigError as exc:
            print(f"Not connected. {exc}")
            return
        print(f"Not connected by %scuba_connect; queries go to {_describe(connection)}.")

    def _connection_for(self, profile: str | None) -> Any:
        from scuba_magic.config import resolve_connection

        if profile:
            return resolve_connection(profile=profile)
        if self._connection is not None:
            return self._connection
        return resolve_connection(session_profile=self.profile)

    def _client_for(self, connection: Any) -> Any:
        from scuba_magic.client import ScubaClient

        # the Secret itself (compared by value), so the key never holds the token as plain text
        key = (connection.host, connection.profile, connection.token)
        if self._client is None or self._client_key != key:
            self._client = ScubaClient.from_connection(connection)
            self._client_key = key
        return self._client

    @contextmanager
    def _user_errors(self, debug: Any) -> Iterator[None]:
        """Turn expected errors into IPython's one-line ``UsageError`` unless debugging."""
        # imported at the first query, not when the extension loads
        from scuba_magic.errors import ScubaError
        from scuba_magic.params import PlaceholderError
        from scuba_magic.progress import QueryInterrupted

        try:
            yield
        except QueryInterrupted as exc:
            # the abandoned worker may still use the client's connection pool
            self._client = None
            self._client_key = None
            raise UsageError(str(exc)) from None
        except (ScubaError, PlaceholderError) as exc:
            if debug():
                raise
            raise UsageError(str(exc)) from exc

    def _run(self, args: Any, *, bql: str | None = None, rid: str | None = None) -> Any:
        """Run the query described by parsed ``args``; shared by ``%%bql`` and ``%scuba_rid``."""
        var = args.var
        if var is not None and (not var.isidentifier() or keyword.iskeyword(var)):
            raise UsageError(
                f"{var!r} is not a valid Python variable name to store the result in. Put "
                "options after the variable (e.g. %%bql df --quiet)."
            )
        if (args.chart_type or args.chart_name) and not args.explore:
            raise UsageError(
                "--chart-type and --chart-name describe an explore URL: add --explore."
            )
        if args.explore and args.result_format:
            raise UsageError("--result-format applies to data, not to --explore: drop one.")
        result_format = args.result_format or self.result_format.upper()
        chart_type = args.chart_type or "TIME"

        connection = self._connection_for(args.profile)
        client = self._client_for(connection)
        if args.dry_run:
            self._show_dry_run(client, args, bql=bql, rid=rid, result_format=result_format)
            return None
        if connection.token is None:
            host = connection.host
            raise UsageError(
                f"No API token for {host}. Run %scuba_connect {host} to enter one at a hidden "
                f"prompt, or set SCUBA_API_TOKEN; get a token at {host}/api/create_token."
            )

        from scuba_magic.progress import run_with_progress

        timeout = args.timeout if args.timeout is not None else self.timeout
        if args.explore:
            link, _ = run_with_progress(
                lambda: client.explore_url(
                    bql,
                    rid=rid,
                    chart_name=args.chart_name,
                    chart_type=chart_type,
                    timeout=timeout,
                ),
                host=client.host,
                shell=self.shell,
                label="Asking for an explore link",
            )
            self.shell.user_ns["_bql"] = link
            self.shell.user_ns.pop("_bql_toolbar", None)  # it belonged to an earlier result
            if var is None:
                # the cell's value; ExploreLink renders itself as a link that opens a new tab
                return link
            self.shell.user_ns[var] = link
            _display_link(link, args.chart_name)
            return None

        quiet = args.quiet

        def receipt(result: Any, elapsed: float) -> str | None:
            return None if quiet else _receipt(result, elapsed, client.host, var)

        result, _ = run_with_progress(
            lambda: client.query(bql, rid=rid, result_format=result_format, timeout=timeout),
            host=client.host,
            shell=self.shell,
            receipt=receipt,
        )
        self.shell.user_ns["_bql"] = result
        if var is not None:
            self.shell.user_ns[var] = result
        self.shell.user_ns.pop("_bql_toolbar", None)  # replaced below if this result has one
        if _is_dataframe(result):
            below: list[Callable[[], None]] = []
            if args.plot:
                figure = _plot(result, self.max_groups, var or "_bql")
                below.append(lambda: _display_figure(figure))
            if self.widgets and not args.no_widgets:
                toolbar = self._toolbar(result, client, bql=bql, rid=rid)
                if toolbar is not None:
                    self.shell.user_ns["_bql_toolbar"] = toolbar
                    below.append(lambda: _display(toolbar))
            if var is None:
                # The DataFrame is the cell's value, which IPython shows when the cell ends:
                # show the chart and toolbar after it, as matplotlib-inline shows its figures.
                self._show_after_cell(below)
            else:
                for show in below:
                    show()
        return None if var is not None else result

    def _show_after_cell(self, displays: list[Callable[[], None]]) -> None:
        """Run ``displays`` once the current cell has finished (IPython's ``post_execute``)."""
        if not displays:
            return
        self._after_cell.extend(displays)
        events = self.shell.events
        if self._flush_after_cell not in events.callbacks["post_execute"]:
            events.register("post_execute", self._flush_after_cell)

    def _flush_after_cell(self) -> None:
        displays, self._after_cell = self._after_cell, []
        for show in displays:
            show()

    def _show_dry_run(
        self, client: Any, args: Any, *, bql: str | None, rid: str | None, result_format: str
    ) -> None:
        if args.explore:
            prepared = client.prepare_request(
                bql,
                rid=rid,
                return_type="explore_url",
                chart_type=args.chart_type,
                chart_name=args.chart_name,
            )
        else:
            prepared = client.prepare_request(
                bql, rid=rid, return_type="data", result_format=result_format
            )
        body = json.dumps(prepared.body, indent=2, ensure_ascii=False)
        print(
            "Dry run: nothing was sent. The request, with the token as $SCUBA_API_TOKEN:\n\n"
            f"{prepared.to_curl()}\n\nJSON body:\n{body}"
        )

    def _toolbar(self, df: Any, client: Any, *, bql: str | None, rid: str | None) -> Any:
        """The result toolbar, or ``None`` when ipywidgets cannot be imported."""
        try:
            from scuba_magic.widgets import build_toolbar
        except ImportError:
            return None

        def create_link(chart_type: str = "TIME", chart_name: str | None = None) -> Any:
            return client.explore_url(bql, rid=rid, chart_name=chart_name, chart_type=chart_type)

        return build_toolbar(df, create_link, max_groups=self.max_groups)


def _rid_from_namespace(name: str, namespace: dict[str, Any]) -> str:
    """The rid a ``{name}`` or ``{name.attr}`` placeholder of ``%scuba_rid`` points at."""
    head, _, attribute = name.partition(".")
    if not head.isidentifier() or (attribute and not attribute.isidentifier()):
        raise UsageError(f"{{{name}}} is not a placeholder: write {{rid}} or {{link.rid}}.")
    if head not in namespace:
        raise UsageError(f"Placeholder {{{name}}}: no variable named {head!r} is defined.")
    value = namespace[head]
    if attribute:
        value = getattr(value, attribute, None)
    if not isinstance(value, str):
        raise UsageError(
            f"Placeholder {{{name}}} is {type(value).__name__}, not a query response id string "
            "such as 'r9372'."
        )
    return value


def _parse(magic: Any, line: str) -> Any:
    import shlex

    try:
        # POSIX rules, so --chart-name "Weekly plays" gives the name without its quotes
        words = shlex.split(line, posix=True)
    except ValueError as exc:
        raise UsageError(f"Cannot read the magic's options ({exc}): check the quotes.") from None
    return magic.parser.parse_args(words)


def _describe(connection: Any) -> str:
    profile = f", profile {connection.profile!r}" if connection.profile else ""
    return f"{connection.host}{profile}, token from {connection.token_source}"


def _is_dataframe(value: Any) -> bool:
    # pandas is loaded by then whenever the value is a DataFrame; don't import it otherwise
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


def _receipt(result: Any, elapsed: float, host: str, var: str | None) -> str:
    if _is_dataframe(result):
        rows = len(result)
    elif isinstance(result, dict) and isinstance(result.get("rows"), list):
        rows = len(result["rows"])
    else:
        rows = None
    what = "Result" if rows is None else f"{rows:,} row{'' if rows == 1 else 's'}"
    stored = f", stored in {var}" if var else ""
    return f"{what} in {elapsed:.2f} s from {host}{stored}."


def _display(obj: Any) -> None:
    from IPython.display import display

    display(obj)


def _plot(df: Any, max_groups: int, stored_in: str) -> Any:
    """The ``--plot`` chart of ``df``; a result that cannot be drawn is a one-line error."""
    from scuba_magic.plots import plot_time_buckets

    try:
        return plot_time_buckets(df, max_groups=max_groups)
    except ValueError as exc:
        raise UsageError(f"Cannot plot this result: {exc}. The data is in {stored_in}.") from None


def _display_figure(figure: Any) -> None:
    try:
        from scuba_magic.widgets import display_figure
    except ImportError:
        _display(figure)
    else:
        display_figure(figure)


def _display_link(link: Any, chart_name: str | None) -> None:
    import html

    from IPython.display import display

    title = chart_name or "Open in Scuba"
    display(
        {
            "text/plain": f"Explore link {link.rid}: {link.url}",
            "text/html": (
                f'<a href="{html.escape(link.url, quote=True)}" target="_blank" '
                f'rel="noopener noreferrer">{html.escape(title)}</a> '
                f"(<code>{html.escape(str(link.rid))}</code>)"
            ),
        },
        raw=True,
    )


def local_emulator() -> Any:
    """The emulator that ``%scuba_connect --local`` started in this kernel, or ``None``.

    Its ``url`` and ``token`` let a script or a command run from the notebook reach the same
    local Scuba, e.g. through ``SCUBA_HOST`` and ``SCUBA_API_TOKEN`` in a subprocess's
    environment. The token is the emulator's own, valid only for it: still, don't print it.
    """
    return _local_emulator


def _start_local_emulator() -> Any:
    global _local_emulator
    with _local_lock:
        if _local_emulator is None:
            try:
                from scuba_magic.emulator import Emulator

                print("Starting the local Scuba emulator with demo data…", flush=True)
                emulator = Emulator(demo=True, port=0)
                emulator.start()
            except ModuleNotFoundError as exc:
                # duckdb, starlette... come with the optional "emulator" extra only
                raise UsageError(
                    "%scuba_connect --local needs the emulator's packages (missing: "
                    f"{exc.name or exc}): pip install 'scuba-magic[emulator]'"
                ) from None
            except (OSError, ValueError, RuntimeError) as exc:
                # a port that cannot be bound, a bad setting, a server that did not come up
                reason = " ".join(str(exc).split())  # one line, however the error was worded
                raise UsageError(f"The local Scuba emulator could not start: {reason}") from None
            atexit.register(emulator.stop)
            _local_emulator = emulator
        return _local_emulator


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics on ``ipython``; warn if another extension's ``%%bql`` is replaced."""
    manager = ipython.magics_manager
    if isinstance(manager.registry.get("ScubaMagics"), ScubaMagics):
        unload_ipython_extension(ipython)
    magics = ScubaMagics(shell=ipython)
    replaced: dict[str, list[str]] = {}
    for kind, names in magics.magics.items():
        for name in names:
            existing = manager.magics[kind].get(name)
            if existing is not None and not isinstance(
                getattr(existing, "__self__", None), ScubaMagics
            ):
                magics._replaced[(kind, name)] = existing
                prefix = "%%" if kind == "cell" else "%"
                replaced.setdefault(_describe_owner(existing), []).append(prefix + name)
    for owner, names in replaced.items():
        print(
            f"scuba_magic: {' and '.join(sorted(names))} came from {owner}; they now run Scuba "
            "queries (%unload_ext scuba_magic puts them back).",
            file=sys.stderr,
        )
    ipython.register_magics(magics)
    # recent IPython versions already append it in Magics.__init__
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics and settings registered by :func:`load_ipython_extension`."""
    manager = ipython.magics_manager
    magics = manager.registry.pop("ScubaMagics", None)
    if not isinstance(magics, ScubaMagics):
        return
    for kind, names in magics.magics.items():
        table = manager.magics[kind]
        for name in names:
            if getattr(table.get(name), "__self__", None) is magics:
                del table[name]
                replaced = magics._replaced.get((kind, name))
                if replaced is not None:
                    table[name] = replaced
    ipython.configurables[:] = [c for c in ipython.configurables if c is not magics]
    if magics._flush_after_cell in ipython.events.callbacks["post_execute"]:
        ipython.events.unregister("post_execute", magics._flush_after_cell)
