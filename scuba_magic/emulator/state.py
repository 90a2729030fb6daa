"""The emulator's memory: query response ids (rids), their chart options, and API tokens.

Everything lives in memory; with a state directory it is also written there so that a restart
keeps every rid and every created token that was not revoked:

- ``queries.jsonl``: one JSON object per rid, appended (and ``fsync``-ed) as the rid is minted,
  so the cost of a query does not grow with the number of rids before it. A last line cut short
  by a crash is ignored on load; any other unreadable line stops the start with its line number.
- ``tokens.json``: the created tokens, rewritten atomically (temporary file, ``fsync``,
  ``os.replace``) at each change, so a crash never leaves half a file.

Tokens are stored as SHA-256 digests, never as text: the state directory does not hold a secret
that could be copied out of it. Both files are readable by their owner only. A token given on
the command line is valid for that run only; tokens minted through ``/api/create_token`` are
remembered until revoked.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import secrets
import tempfile
import threading
from datetime import datetime, timezone
from pathlib import Path

QUERIES_FILE = "queries.jsonl"
TOKENS_FILE = "tokens.json"
STATE_VERSION = 1


@dataclasses.dataclass(frozen=True)
class QueryRecord:
    """One query response id and what it stands for.

    Attributes:
        rid: the id, ``r`` followed by digits (``r12``).
        bql: the BQL text that the rid replays.
        chart_type: upper-case chart type (``TIME``, ``TABLE``, ...) for the explorer page.
        chart_name: the chart's title, or None when none was given.
        created_at: ISO 8601 UTC time the rid was minted.
        source_rid: the rid this one was made from (a replay or an explore of a rid), else None.
    """

    rid: str
    bql: str
    chart_type: str = "TIME"
    chart_name: str | None = None
    created_at: str = ""
    source_rid: str | None = None


def hash_token(token: str) -> str:
    """Return the hex SHA-256 digest under which a token is stored and compared."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def generate_token() -> str:
    """Return a new random token (URL-safe characters, 256 bits)."""
    return secrets.token_urlsafe(32)


class StateStore:
    """Thread-safe store of rids and tokens, optionally persisted to a directory.

    Args:
        state_dir: directory for the JSON files; created if missing. None keeps state in memory.
    """

    def __init__(self, state_dir: str | os.PathLike[str] | None = None) -> None:
        self._lock = threading.Lock()
        self._dir = Path(state_dir) if state_dir is not None else None
        self._records: dict[str, QueryRecord] = {}
        self._last_rid = 0
        # digest -> "cli" (valid for this run) or "created" (persisted until revoked)
        self._tokens: dict[str, str] = {}
        if self._dir is not None:
            self._dir.mkdir(parents=True, exist_ok=True)
            self._load()

    @property
    def state_dir(self) -> Path | None:
        """The directory the state is persisted to, or None."""
        return self._dir

    # -- rids -------------------------------------------------------------------------------

    def add_record(
        self,
        bql: str,
        *,
        chart_type: str = "TIME",
        chart_name: str | None = None,
        source_rid: str | None = None,
    ) -> QueryRecord:
        """Mint the next rid for ``bql`` and remember it.

        Returns:
            The new record.
        """
        with self._lock:
            self._last_rid += 1
            record = QueryRecord(
                rid=f"r{self._last_rid}",
                bql=bql,
                chart_type=chart_type,
                chart_name=chart_name,
                created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                source_rid=source_rid,
            )
            self._append_query(record)
            self._records[record.rid] = record
            return record

    def get_record(self, rid: str) -> QueryRecord | None:
        """Return the record of ``rid`` or None when it was never minted."""
        with self._lock:
            return self._records.get(rid)

    @property
    def last_rid(self) -> int:
        """The number of the most recently minted rid (0 when none)."""
        with self._lock:
            return self._last_rid

    # -- tokens -----------------------------------------------------------------------------

    def add_cli_token(self, token: str) -> None:
        """Accept ``token`` for this run (a ``--token`` option or a generated start-up token)."""
        with self._lock:
            self._tokens.setdefault(hash_token(token), "cli")

    def create_token(self) -> str:
        """Mint, remember and return a new token."""
        token = generate_token()
        with self._lock:
            self._tokens[hash_token(token)] = "created"
            self._save_tokens()
        return token

    def is_valid_token(self, token: str) -> bool:
        """Tell whether ``token`` is currently accepted."""
        digest = hash_token(token)
        with self._lock:
            # compare digests in constant time; the dict lookup alone would also be safe since
            # the keys are digests, but this keeps the intent explicit
            return any(hmac.compare_digest(digest, known) for known in self._tokens)

    def revoke_token(self, token: str) -> bool:
        """Stop accepting ``token``.

        Returns:
            True when the token was known (and is now revoked), False otherwise.
        """
        digest = hash_token(token)
        with self._lock:
            kind = self._tokens.pop(digest, None)
            if kind == "created":
                self._save_tokens()
            return kind is not None

    def reset_tokens(self, tokens: list[str]) -> None:
        """Forget every token except ``tokens`` (used by tests between cases)."""
        with self._lock:
            self._tokens = {hash_token(t): "cli" for t in tokens}
            self._save_tokens()

    # -- persistence ------------------------------------------------------------------------

    def _load(self) -> None:
        assert self._dir is not None
        self._load_queries(self._dir / QUERIES_FILE)
        tokens = self._read_json(self._dir / TOKENS_FILE)
        if tokens:
            for digest in tokens.get("created_token_sha256", []):
                self._tokens[str(digest)] = "created"

    def _load_queries(self, path: Path) -> None:
        try:
            lines = path.read_bytes().split(b"\n")
        except FileNotFoundError:
            return
        while lines and not lines[-1].strip():
            lines.pop()
        for number, line in enumerate(lines, start=1):
            try:
                record = QueryRecord(**json.loads(line))
                rid_number = int(record.rid[1:])
            except (ValueError, TypeError) as exc:
                if number == len(lines):
                    break  # the write of the last rid was cut short: that rid was never answered
                raise ValueError(
                    f"Line {number} of the emulator state file {path} is unreadable ({exc}). "
                    "Move the file away or choose another --state-dir."
                ) from exc
            self._records[record.rid] = record
            self._last_rid = max(self._last_rid, rid_number)

    @staticmethod
    def _read_json(path: Path) -> dict | None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError(
                f"The emulator state file {path} is not valid JSON ({exc}). Move it away or "
                "choose another --state-dir."
            ) from exc
        if not isinstance(data, dict):
            raise ValueError(
                f"The emulator state file {path} does not hold a JSON object. Move it away or "
                "choose another --state-dir."
            )
        return data

    def _append_query(self, record: QueryRecord) -> None:
        if self._dir is None:
            return
        line = json.dumps(dataclasses.asdict(record), ensure_ascii=False) + "\n"
        fd = os.open(self._dir / QUERIES_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            data = memoryview(line.encode("utf-8"))
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        finally:
            os.close(fd)

    def _save_tokens(self) -> None:
        if self._dir is None:
            return
        created = sorted(d for d, kind in self._tokens.items() if kind == "created")
        self._write_atomic(
            self._dir / TOKENS_FILE, {"version": STATE_VERSION, "created_token_sha256": created}
        )

    @staticmethod
    def _write_atomic(path: Path, data: dict) -> None:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=1)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp_name, 0o600)
            os.replace(tmp_name, path)
        except BaseException:
            try:
                os.unlink(tmp_name)
            except FileNotFoundError:
                pass
            raise
