"""Where the Scuba host and API token come from.

A connection is a host plus an API token, optionally named as a *profile*. Each value is
looked up in these places, the later ones winning (lowest to highest precedence):

1. The profiles file ``~/.config/scuba-magic/config.toml`` (or the path in the environment
   variable ``SCUBA_MAGIC_CONFIG``)::

       default_profile = "prod"        # optional: the profile used when none is named

       [profiles.prod]
       host = "my_cluster.scuba.io"
       token_file = "~/.config/scuba-magic/prod.token"   # or: token = "..."

       [profiles.local]
       host = "http://127.0.0.1:8123"

   A file holding a token (the profiles file with a ``token`` key, or a ``token_file``) must
   be readable and writable by its owner only; otherwise it is refused, with the
   ``chmod 600 <file>`` that fixes it.
2. The environment: ``SCUBA_HOST``, ``SCUBA_API_TOKEN``, and ``SCUBA_PROFILE`` (a profile of
   the file, whose values then count as environment values; ``SCUBA_HOST`` and
   ``SCUBA_API_TOKEN`` still win over it).
3. Session settings: ``%scuba_connect`` and ``%config ScubaMagics.<setting>``.
4. Per-call options: ``ScubaClient(host, token=...)``, ``--profile NAME``.

A profile named at a level brings its host and token to that level: ``--profile prod`` wins
over ``SCUBA_HOST``. A named profile must exist, even when host and token come from elsewhere:
a misspelt name is an error listing the profiles of the file.

A token belongs to its host. A level's token is used with a host from a higher level only when
that level names no host, or the same one. So with ``SCUBA_HOST=https://prod.example`` and
``SCUBA_API_TOKEN`` set, ``ScubaClient("other.example")`` finds no token: the client raises an
error saying that ``SCUBA_API_TOKEN`` belongs to ``SCUBA_HOST``, and
``%scuba_connect other.example`` asks for a token. Without ``SCUBA_HOST``, ``SCUBA_API_TOKEN``
goes with whichever host is chosen. The same holds for the token of a ``SCUBA_PROFILE`` or
``default_profile`` profile, while ``SCUBA_HOST`` and ``SCUBA_PROFILE`` (one level) do combine.

A host may be written ``my_cluster.scuba.io``, ``https://my_cluster.scuba.io`` or with a
trailing slash; ``https://`` is assumed, except for a loopback address (``localhost``,
``127.0.0.0/8``, ``[::1]``, e.g. ``127.0.0.1:8123``), where the emulator speaks ``http://``.
The token is held in a ``Secret``, whose ``repr`` and ``str`` never show it.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import re
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scuba_magic.errors import ConfigError

__all__ = [
    "CONFIG_ENV",
    "Connection",
    "HOST_ENV",
    "PROFILE_ENV",
    "Secret",
    "TOKEN_ENV",
    "config_path",
    "is_loopback",
    "load_profiles",
    "normalize_host",
    "resolve_connection",
]

CONFIG_ENV = "SCUBA_MAGIC_CONFIG"
HOST_ENV = "SCUBA_HOST"
TOKEN_ENV = "SCUBA_API_TOKEN"
PROFILE_ENV = "SCUBA_PROFILE"

_PROFILE_KEYS = {"host", "token", "token_file"}
# dot-separated labels; "_" is allowed because cluster names use it (my_cluster.scuba.io)
_LABEL = r"[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?"
_HOSTNAME = re.compile(rf"^{_LABEL}(\.{_LABEL})*\.?$")


class Secret:
    """A string that never shows itself: ``repr`` and ``str`` are redacted.

    >>> token = Secret("abc+/123")
    >>> token
    Secret('********')
    >>> token.reveal()
    'abc+/123'
    """

    __slots__ = ("_value",)

    def __init__(self, value: str | Secret) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError(f"Secret holds a str, not {type(value).__name__}")
        self._value = value

    def reveal(self) -> str:
        """Return the secret value; only for the code that must send it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    def __str__(self) -> str:
        return "********"

    def __format__(self, format_spec: str) -> str:
        return format(str(self), format_spec)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            other = other.reveal()
        if not isinstance(other, str):
            return NotImplemented
        # constant-time, so comparing tokens leaks nothing through timing
        return hmac.compare_digest(self._value.encode(), other.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)


@dataclass(frozen=True)
class Connection:
    """A resolved host and token, and where each came from (for messages, never the value).

    Attributes:
        host: normalized base URL, e.g. ``https://my_cluster.scuba.io``.
        token: the API token, or ``None`` when none was found anywhere.
        profile: the profile used, if any.
        token_source: where the token came from, e.g. ``environment variable SCUBA_API_TOKEN``.
        host_source: where the host came from.
        token_note: when ``token`` is ``None`` because a token found lower down belongs to
            another host, says so (e.g. ``SCUBA_API_TOKEN belongs to SCUBA_HOST=...``);
            otherwise empty.
    """

    host: str
    token: Secret | None
    profile: str | None
    token_source: str
    host_source: str = ""
    token_note: str = ""


def is_loopback(host: str) -> bool:
    """Tell whether ``host`` (a hostname, an IP address or a URL) is this machine only.

    Loopback means ``localhost``, ``127.0.0.0/8`` and ``::1`` (also written ``[::1]``); a
    token may be sent there over plain ``http://``. Other names, ``*.localhost`` included,
    are not: whether they resolve to this machine is up to the resolver, not to us.
    """
    text = host.strip()
    if "://" in text:
        hostname = urlsplit(text).hostname or ""
    else:
        hostname = text.strip("[]")
    hostname = hostname.lower().rstrip(".")
    if hostname == "localhost":
        return True
    try:
        address = ipaddress.ip_address(hostname)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def normalize_host(text: str) -> str:
    """Turn the ways a user writes a host into one base URL.

    ``my_cluster.scuba.io``, ``https://my_cluster.scuba.io`` and
    ``https://my_cluster.scuba.io/`` all give ``https://my_cluster.scuba.io``; ``http://`` is
    kept when written, and assumed for a loopback host given without a scheme
    (``127.0.0.1:8123`` -> ``http://127.0.0.1:8123``).

    Raises:
        ConfigError: the text is not a bare host (it has a path, query, user name, bad port...).
    """
    if not isinstance(text, str):
        raise ConfigError(f"The Scuba host must be a string, not {type(text).__name__}.")
    raw = text.strip()
    example = "Write it like my_cluster.scuba.io or https://my_cluster.scuba.io."
    if not raw:
        raise ConfigError(f"The Scuba host is empty. {example}")
    if "@" in raw:
        # the text is not quoted: what precedes "@" may well be a secret
        raise ConfigError(
            "The Scuba host contains a user name or password (user@host); give the host only "
            "and the token separately (SCUBA_API_TOKEN or a profile)."
        )
    if "://" not in raw:
        try:
            bare = urlsplit(f"//{raw}").hostname or ""
        except ValueError:
            bare = ""
        candidate = f"{'http' if bare and is_loopback(bare) else 'https'}://{raw}"
    else:
        candidate = raw
    try:
        parts = urlsplit(candidate)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"The Scuba host {raw!r} is not valid ({exc}). {example}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ConfigError(
            f"The Scuba host {raw!r} uses {parts.scheme}://; only https:// (or http:// for a "
            f"local emulator) is supported. {example}"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or "?" in raw or "#" in raw:
        raise ConfigError(
            f"The Scuba host {raw!r} has a path or query; give the cluster address only, "
            f"without /v1/query or anything after it. {example}"
        )
    hostname = parts.hostname or ""
    if not hostname:
        raise ConfigError(f"The Scuba host {raw!r} names no host. {example}")
    if ":" in hostname:  # IPv6 literal
        try:
            ipaddress.IPv6Address(hostname)
        except ValueError:
            raise ConfigError(f"The Scuba host {raw!r} is not a valid address. {example}") from None
        netloc = f"[{hostname}]"
    else:
        if not _HOSTNAME.match(hostname):
            raise ConfigError(
                f"The Scuba host {raw!r} contains characters a host name cannot have. {example}"
            )
        netloc = hostname.lower().rstrip(".")
    if port is not None:
        netloc = f"{netloc}:{port}"
    return f"{scheme}://{netloc}"


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """The profiles file: ``$SCUBA_MAGIC_CONFIG`` or ``~/.config/scuba-magic/config.toml``."""
    environ = os.environ if environ is None else environ
    override = environ.get(CONFIG_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    return Path.home() / ".config" / "scuba-magic" / "config.toml"


def _check_private(path: Path, what: str) -> None:
    if os.name == "nt":  # POSIX mode bits say nothing there
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"Refusing to read {what} {path}: it holds an API token but is readable or writable "
            f"by group or others (mode {mode:o}). Fix it with: chmod 600 {path}"
        )


def _load_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"The profiles file {path} is not valid TOML: {exc}.") from None
    except OSError as exc:
        raise ConfigError(f"Cannot read the profiles file {path}: {exc.strerror}.") from None


def load_profiles(path: Path) -> tuple[dict[str, dict[str, Any]], str | None]:
    """Read and check a profiles file.

    Args:
        path: the TOML file.

    Returns:
        ``(profiles, default_profile)``; ``({}, None)`` when the file does not exist.

    Raises:
        ConfigError: unreadable or invalid file, unknown keys, or a token in a file that
            others can read.
    """
    if not path.exists():
        return {}, None
    data = _load_toml(path)
    default = data.get("default_profile")
    if default is not None and not isinstance(default, str):
        raise ConfigError(f"default_profile in {path} must be a string (a profile name).")
    unknown_top = set(data) - {"default_profile", "profiles"}
    if unknown_top:
        raise ConfigError(
            f"Unknown key(s) {', '.join(sorted(unknown_top))} in {path}; expected "
            "default_profile and [profiles.NAME] tables."
        )
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict) or not all(isinstance(v, dict) for v in profiles.values()):
        raise ConfigError(f"In {path}, profiles must be tables: [profiles.NAME] with host = ...")
    for name, profile in profiles.items():
        unknown = set(profile) - _PROFILE_KEYS
        if unknown:
            raise ConfigError(
                f"Unknown key(s) {', '.join(sorted(unknown))} in profile {name!r} of {path}; "
                "a profile has host and token or token_file."
            )
        if "token" in profile and "token_file" in profile:
            raise ConfigError(
                f"Profile {name!r} in {path} has both token and token_file; keep one."
            )
        for key in _PROFILE_KEYS & set(profile):
            if not isinstance(profile[key], str):
                raise ConfigError(f"{key} of profile {name!r} in {path} must be a string.")
    if any("token" in profile for profile in profiles.values()):
        _check_private(path, "the profiles file")
    return profiles, default


def _clean_token(value: str | Secret, source: str) -> Secret:
    token = value.reveal() if isinstance(value, Secret) else value
    # tokens never contain whitespace; a trailing newline from a file or paste is harmless
    token = token.strip()
    if not token:
        raise ConfigError(f"The API token from {source} is empty.")
    if any(not ("!" <= char <= "~") for char in token):
        raise ConfigError(
            f"The API token from {source} contains spaces or characters that cannot be sent in "
            "an HTTP header; copy it again from /api/create_token."
        )
    return Secret(token)


def _read_token_file(raw_path: str, config_file: Path, profile: str) -> Secret:
    path = Path(raw_path).expanduser()
    if not path.is_absolute():
        path = config_file.parent / path
    if not path.exists():
        raise ConfigError(
            f"The token_file {path} of profile {profile!r} in {config_file} does not exist."
        )
    _check_private(path, "the token file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read the token file {path}: {exc}.") from None
    return _clean_token(text, f"token file {path}")


def _same_host(first: str, second: str) -> bool:
    try:
        return normalize_host(first) == normalize_host(second)
    except ConfigError:
        # an unreadable host cannot be shown to be the same one
        return False


def _shown_host(host: str) -> str:
    try:
        return normalize_host(host)
    except ConfigError:
        return host


@dataclass
class _Found:
    host: str | None = None
    host_source: str = ""
    host_level: str = ""
    token: Secret | None = None
    token_source: str = ""
    profile: str | None = None
    token_note: str = ""

    def offer(
        self,
        level: str,
        host: str | None,
        host_source: str,
        token: Secret | None,
        token_source: str,
        *,
        belongs: str = "",
    ) -> None:
        """Take what is still missing from one level (visited from the highest down).

        A level's token goes with a host from a higher level only when this level names no
        host or the same one: a token belongs to its host, and sending it to another host
        would hand it to whoever runs that host.
        """
        if self.host is None and host is not None:
            self.host, self.host_source, self.host_level = host, host_source, level
        if self.token is not None or token is None:
            return
        if (
            self.host is not None
            and host is not None
            and self.host_level != level
            and not _same_host(host, self.host)
        ):
            if not self.token_note:
                owner = belongs or f"The token from {token_source} belongs to {host}"
                self.token_note = f"{owner}, so it is not sent to {_shown_host(self.host)}"
            return
        self.token, self.token_source = token, token_source


class _ProfilesFile:
    """The profiles file, read at most once and only when a value is still missing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._loaded: tuple[dict[str, dict[str, Any]], str | None] | None = None

    def load(self) -> tuple[dict[str, dict[str, Any]], str | None]:
        if self._loaded is None:
            self._loaded = load_profiles(self.path)
        return self._loaded

    def check(self, name: str, named_by: str) -> dict[str, Any]:
        """The profile called ``name``, or a ConfigError naming the profiles there are."""
        profiles, _ = self.load()
        if name not in profiles:
            known = ", ".join(sorted(profiles)) or "none"
            where = f"{self.path}" if self.path.exists() else f"{self.path} (file not found)"
            raise ConfigError(
                f"Profile {name!r} ({named_by}) is not defined in {where}; profiles there: "
                f"{known}. Add a [profiles.{name}] table with host and token_file."
            )
        return profiles[name]

    def values(self, name: str, named_by: str) -> tuple[str | None, Secret | None]:
        profile = self.check(name, named_by)
        token: Secret | None = None
        if "token" in profile:
            token = _clean_token(profile["token"], f"profile {name!r} in {self.path}")
        elif "token_file" in profile:
            token = _read_token_file(profile["token_file"], self.path, name)
        return profile.get("host"), token


def resolve_connection(
    profile: str | None = None,
    host: str | None = None,
    token: str | Secret | None = None,
    *,
    session_profile: str | None = None,
    session_host: str | None = None,
    session_token: str | Secret | None = None,
    environ: Mapping[str, str] | None = None,
) -> Connection:
    """Find the host and token to use, by the precedence in this module's docstring.

    Args:
        profile: per-call profile name (highest precedence).
        host: per-call host.
        token: per-call token.
        session_profile: profile set for the session (``%scuba_connect --profile``, ``%config``).
        session_host: host set for the session.
        session_token: token set for the session.
        environ: the environment to read (default ``os.environ``).

    Returns:
        The resolved ``Connection``; its ``token`` is ``None`` when no token was found (the
        caller may prompt for one).

    Raises:
        ConfigError: no host anywhere, an unknown profile, an unsafe or invalid profiles file,
            or an invalid host.
    """
    environ = os.environ if environ is None else environ
    profiles_file = _ProfilesFile(config_path(environ))
    found = _Found()

    def offer_profile(level: str, name: str | None, named_by: str) -> None:
        if not name:
            return
        if found.host is not None and found.token is not None:
            # nothing of it is needed, but a misspelt name must not pass unnoticed
            profiles_file.check(name, named_by)
            return
        profile_host, profile_token = profiles_file.values(name, named_by)
        source = f"profile {name!r} in {profiles_file.path}"
        before = (found.host, found.token)
        found.offer(
            level,
            profile_host,
            source,
            profile_token,
            source,
            belongs=f"The token of profile {name!r} in {profiles_file.path} belongs to its host "
            f"{_shown_host(profile_host) if profile_host else ''}",
        )
        if found.profile is None and (found.host, found.token) != before:
            found.profile = name

    call_token = _clean_token(token, "the token argument") if token is not None else None
    found.offer("call", host, "the host argument", call_token, "the token argument")
    offer_profile("call", profile, "the profile argument")

    session_secret = (
        _clean_token(session_token, "the session settings") if session_token is not None else None
    )
    found.offer(
        "session",
        session_host,
        "%scuba_connect / %config",
        session_secret,
        "%scuba_connect / %config",
    )
    offer_profile("session", session_profile, "%scuba_connect / %config")

    env_host = environ.get(HOST_ENV, "").strip() or None
    env_token = environ.get(TOKEN_ENV, "")
    found.offer(
        "environment",
        env_host,
        f"environment variable {HOST_ENV}",
        # checked only when it would be used, so a stale variable cannot block an explicit token
        _clean_token(env_token, f"environment variable {TOKEN_ENV}")
        if env_token.strip() and found.token is None
        else None,
        f"environment variable {TOKEN_ENV}",
        belongs=f"{TOKEN_ENV} belongs to {HOST_ENV}={env_host}",
    )
    offer_profile(
        "environment",
        environ.get(PROFILE_ENV, "").strip() or None,
        f"environment variable {PROFILE_ENV}",
    )

    named = profile or session_profile or environ.get(PROFILE_ENV, "").strip()
    # default_profile stands in for a profile name; it never tops up a named profile, so one
    # profile's token is not sent to another profile's host
    if not named and (found.host is None or found.token is None):
        _, default = profiles_file.load()
        offer_profile("default", default, f"default_profile in {profiles_file.path}")

    if found.host is None:
        raise ConfigError(
            "No Scuba host is configured. Pass the host (ScubaClient('my_cluster.scuba.io') or "
            f"%scuba_connect my_cluster.scuba.io), set {HOST_ENV}, or add a profile to "
            f"{profiles_file.path}. For the local emulator: %scuba_connect --local."
        )
    try:
        normalized = normalize_host(found.host)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (host from {found.host_source})") from None
    return Connection(
        host=normalized,
        token=found.token,
        profile=found.profile,
        token_source=found.token_source if found.token is not None else "none",
        host_source=found.host_source,
        token_note=found.token_note if found.token is None else "",
    )
