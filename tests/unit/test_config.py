"""Where host and token come from: precedence, profiles file, permissions, host forms."""

from __future__ import annotations

from pathlib import Path

import pytest

from scuba_magic.config import (
    Connection,
    Secret,
    config_path,
    is_loopback,
    normalize_host,
    resolve_connection,
)
from scuba_magic.errors import ConfigError

TOKEN = "file+/token=="


def write_config(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


PROFILES = f"""
default_profile = "prod"

[profiles.prod]
host = "prod.scuba.io"
token = "{TOKEN}"

[profiles.staging]
host = "https://staging.scuba.io/"
token = "staging-token"

[profiles.hostonly]
host = "hostonly.scuba.io"
"""


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    return {"SCUBA_MAGIC_CONFIG": str(write_config(tmp_path, PROFILES))}


# Secret


def test_secret_never_shows_its_value() -> None:
    secret = Secret("abc+/def")
    assert repr(secret) == "Secret('********')"
    assert str(secret) == "********"
    assert f"{secret}" == "********" and f"{secret:>10}" == "  ********"
    assert "abc" not in repr([secret]) and "abc" not in repr({"t": secret})
    assert secret.reveal() == "abc+/def"


def test_secret_compares_by_value() -> None:
    assert Secret("a+/b") == Secret("a+/b")
    assert Secret("a+/b") == "a+/b"
    assert Secret("a+/b") != Secret("a+/c")
    assert Secret("a") != 1
    assert len({Secret("x"), Secret("x")}) == 1
    assert not Secret("") and Secret("x")
    assert Secret(Secret("nested")).reveal() == "nested"


def test_secret_rejects_non_strings() -> None:
    with pytest.raises(TypeError, match="holds a str"):
        Secret(b"bytes")  # type: ignore[arg-type]


def test_connection_repr_is_redacted() -> None:
    connection = Connection("https://x.scuba.io", Secret("tok+/en"), "prod", "the token argument")
    assert "tok+/en" not in repr(connection)
    assert "Secret('********')" in repr(connection)


# hosts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my_cluster.scuba.io", "https://my_cluster.scuba.io"),
        ("https://my_cluster.scuba.io", "https://my_cluster.scuba.io"),
        ("https://my_cluster.scuba.io/", "https://my_cluster.scuba.io"),
        ("  my_cluster.scuba.io/  ", "https://my_cluster.scuba.io"),
        ("HTTPS://My_Cluster.Scuba.IO", "https://my_cluster.scuba.io"),
        ("my_cluster.scuba.io:8443", "https://my_cluster.scuba.io:8443"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
        ("http://127.0.0.1:8123/", "http://127.0.0.1:8123"),
        ("127.0.0.1:8123", "http://127.0.0.1:8123"),
        ("localhost:8123", "http://localhost:8123"),
        ("[::1]:8123", "http://[::1]:8123"),
        ("https://127.0.0.1:8443", "https://127.0.0.1:8443"),
        ("http://scuba.internal", "http://scuba.internal"),
    ],
)
def test_normalize_host(text: str, expected: str) -> None:
    assert normalize_host(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("https://my_cluster.scuba.io/v1/query", "has a path or query"),
        ("my_cluster.scuba.io/explorer/r1", "has a path or query"),
        ("my_cluster.scuba.io?x=1", "has a path or query"),
        ("my_cluster.scuba.io#top", "has a path or query"),
        ("ftp://my_cluster.scuba.io", "only https://"),
        ("my cluster.scuba.io", "characters a host name cannot have"),
        ("https://my_cluster.scuba.io:99999", "not valid"),
        ("https://", "names no host"),
    ],
)
def test_normalize_host_rejects_garbage(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match="Scuba host") as info:
        normalize_host(text)
    assert fragment in str(info.value)


def test_normalize_host_does_not_echo_credentials() -> None:
    with pytest.raises(ConfigError, match="user name or password") as info:
        normalize_host("https://sekrit-token@my_cluster.scuba.io")
    assert "sekrit" not in str(info.value)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.5.6.7", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST.", True),
        ("http://127.0.0.1:9", True),
        ("http://localhost:9", True),
        ("http://[::1]:9", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.1", False),
        ("128.0.0.1", False),
        ("my_cluster.scuba.io", False),
        ("localhost.evil.com", False),
        # only the name localhost itself: *.localhost is up to the resolver
        ("foo.localhost", False),
        ("http://app.localhost:8123", False),
        ("evil.localhost.", False),
        ("127.255.255.254", True),
        ("http://[::1]", True),
        ("http://127.0.0.1.evil.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


# precedence: file < environment < session < call


def test_profiles_file_default_profile(environ: dict[str, str], tmp_path: Path) -> None:
    connection = resolve_connection(environ=environ)
    assert connection.host == "https://prod.scuba.io"
    assert connection.token == TOKEN
    assert connection.profile == "prod"
    assert connection.token_source == f"profile 'prod' in {tmp_path / 'config.toml'}"


def test_environment_beats_file(environ: dict[str, str]) -> None:
    environ.update(SCUBA_HOST="env.scuba.io", SCUBA_API_TOKEN="env-token\n")
    connection = resolve_connection(environ=environ)
    assert connection.host == "https://env.scuba.io"
    assert connection.token == "env-token"
    assert connection.token_source == "environment variable SCUBA_API_TOKEN"
    assert connection.host_source == "environment variable SCUBA_HOST"


def test_env_token_with_file_host(environ: dict[str, str]) -> None:
    environ["SCUBA_API_TOKEN"] = "env-token"
    connection = resolve_connection(environ=environ)
    assert (connection.host, connection.token) == ("https://prod.scuba.io", "env-token")


def test_scuba_profile_picks_a_profile(environ: dict[str, str]) -> None:
    environ["SCUBA_PROFILE"] = "staging"
    connection = resolve_connection(environ=environ)
    assert connection.host == "https://staging.scuba.io"
    assert connection.token == "staging-token"
    assert connection.profile == "staging"


def test_scuba_host_beats_scuba_profile(environ: dict[str, str]) -> None:
    environ.update(SCUBA_PROFILE="staging", SCUBA_HOST="env.scuba.io")
    connection = resolve_connection(environ=environ)
    assert (connection.host, connection.token) == ("https://env.scuba.io", "staging-token")


def test_session_beats_environment(environ: dict[str, str]) -> None:
    environ.update(SCUBA_HOST="env.scuba.io", SCUBA_API_TOKEN="env-token")
    connection = resolve_connection(
        session_host="session.scuba.io", session_token="session-token", environ=environ
    )
    assert (connection.host, connection.token) == ("https://session.scuba.io", "session-token")
    assert connection.token_source == "%scuba_connect / %config"


def test_session_profile_beats_environment(environ: dict[str, str]) -> None:
    environ.update(SCUBA_HOST="env.scuba.io", SCUBA_API_TOKEN="env-token")
    connection = resolve_connection(session_profile="staging", environ=environ)
    assert (connection.host, connection.token) == ("https://staging.scuba.io", "staging-token")


def test_call_beats_session(environ: dict[str, str]) -> None:
    environ.update(SCUBA_HOST="env.scuba.io", SCUBA_API_TOKEN="env-token")
    connection = resolve_connection(
        host="call.scuba.io",
        token="call-token",
        session_host="session.scuba.io",
        session_token="session-token",
        environ=environ,
    )
    assert (connection.host, connection.token) == ("https://call.scuba.io", "call-token")
    assert connection.token_source == "the token argument"
    assert connection.host_source == "the host argument"


def test_call_profile_beats_session_and_environment(environ: dict[str, str]) -> None:
    environ.update(SCUBA_HOST="env.scuba.io", SCUBA_API_TOKEN="env-token")
    connection = resolve_connection(
        profile="staging", session_host="session.scuba.io", environ=environ
    )
    assert (connection.host, connection.token) == ("https://staging.scuba.io", "staging-token")
    assert connection.profile == "staging"


def test_call_host_with_token_from_lower_levels(environ: dict[str, str]) -> None:
    environ["SCUBA_API_TOKEN"] = "env-token"
    connection = resolve_connection(host="127.0.0.1:8123", environ=environ)
    assert (connection.host, connection.token) == ("http://127.0.0.1:8123", "env-token")


def test_named_profile_is_not_topped_up_by_the_default_profile(environ: dict[str, str]) -> None:
    connection = resolve_connection(profile="hostonly", environ=environ)
    assert connection.host == "https://hostonly.scuba.io"
    # prod's token must not travel to hostonly's host
    assert connection.token is None


def test_profile_without_token_takes_the_env_token(environ: dict[str, str]) -> None:
    environ["SCUBA_API_TOKEN"] = "env-token"
    connection = resolve_connection(profile="hostonly", environ=environ)
    assert (connection.host, connection.token) == ("https://hostonly.scuba.io", "env-token")


def test_no_token_anywhere_gives_none(tmp_path: Path) -> None:
    environ = {"SCUBA_MAGIC_CONFIG": str(tmp_path / "missing.toml"), "SCUBA_HOST": "x.scuba.io"}
    connection = resolve_connection(environ=environ)
    assert connection.token is None
    assert connection.token_source == "none"


def test_no_host_anywhere_says_where_to_set_one(tmp_path: Path) -> None:
    environ = {"SCUBA_MAGIC_CONFIG": str(tmp_path / "missing.toml")}
    with pytest.raises(ConfigError, match="No Scuba host is configured") as info:
        resolve_connection(environ=environ)
    assert "SCUBA_HOST" in str(info.value)
    assert str(tmp_path / "missing.toml") in str(info.value)


def test_explicit_host_and_token_do_not_read_the_file(tmp_path: Path) -> None:
    broken = write_config(tmp_path, "this is = = not toml", mode=0o644)
    environ = {"SCUBA_MAGIC_CONFIG": str(broken), "SCUBA_API_TOKEN": "has a space"}
    connection = resolve_connection(host="x.scuba.io", token="t", environ=environ)
    assert (connection.host, connection.token) == ("https://x.scuba.io", "t")


def test_bad_host_names_its_source(environ: dict[str, str]) -> None:
    environ["SCUBA_HOST"] = "https://x.scuba.io/v1/query"
    with pytest.raises(ConfigError, match="environment variable SCUBA_HOST"):
        resolve_connection(environ=environ)


# a token belongs to its host


PROD_ENV = {"SCUBA_HOST": "https://prod.example", "SCUBA_API_TOKEN": "prod-token"}


@pytest.mark.parametrize(
    "kwargs",
    [{"host": "other.example"}, {"session_host": "https://other.example/"}],
    ids=["call", "session"],
)
def test_env_token_is_not_paired_with_another_host(tmp_path: Path, kwargs: dict) -> None:
    environ = {"SCUBA_MAGIC_CONFIG": str(tmp_path / "none.toml"), **PROD_ENV}
    connection = resolve_connection(**kwargs, environ=environ)
    assert connection.host == "https://other.example"
    assert connection.token is None
    assert connection.token_source == "none"
    assert connection.token_note == (
        "SCUBA_API_TOKEN belongs to SCUBA_HOST=https://prod.example, so it is not sent to "
        "https://other.example"
    )


@pytest.mark.parametrize("host", ["prod.example", "https://PROD.example/", "prod.example."])
def test_env_token_goes_with_the_same_host_however_written(tmp_path: Path, host: str) -> None:
    environ = {"SCUBA_MAGIC_CONFIG": str(tmp_path / "none.toml"), **PROD_ENV}
    connection = resolve_connection(host=host, environ=environ)
    assert (connection.host, connection.token) == ("https://prod.example", "prod-token")
    assert connection.token_note == ""


def test_env_token_without_scuba_host_goes_with_any_host(tmp_path: Path) -> None:
    environ = {"SCUBA_MAGIC_CONFIG": str(tmp_path / "none.toml"), "SCUBA_API_TOKEN": "t0k"}
    connection = resolve_connection(host="other.example", environ=environ)
    assert (connection.host, connection.token) == ("https://other.example", "t0k")


def test_profile_token_is_not_paired_with_another_host(environ: dict[str, str]) -> None:
    # the default profile (prod) and SCUBA_PROFILE hold tokens for their own hosts only
    connection = resolve_connection(host="other.example", environ=environ)
    assert connection.token is None
    assert "The token of profile 'prod'" in connection.token_note
    assert (
        "belongs to its host https://prod.scuba.io, so it is not sent to" in connection.token_note
    )
    staging = {**environ, "SCUBA_PROFILE": "staging"}
    assert resolve_connection(session_host="other.example", environ=staging).token is None
    # a profile's own host is fine, and so is a profile named with the host at the same level
    assert resolve_connection(host="prod.scuba.io", environ=environ).token == TOKEN
    assert resolve_connection(host="x.example", profile="prod", environ=environ).token == TOKEN


def test_client_says_why_the_env_token_was_not_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from scuba_magic.client import ScubaClient

    monkeypatch.setenv("SCUBA_MAGIC_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.delenv("SCUBA_PROFILE", raising=False)
    for name, value in PROD_ENV.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        ScubaClient("other.example")
    message = str(info.value)
    assert message.startswith("No API token for https://other.example:")
    assert "SCUBA_API_TOKEN belongs to SCUBA_HOST=https://prod.example" in message
    assert "https://other.example/api/create_token" in message
    assert "prod-token" not in message
    # the same host, or an explicit token, is fine
    assert ScubaClient("prod.example")._token == "prod-token"
    assert ScubaClient("other.example", token="other-token")._token == "other-token"


# a named profile must exist


@pytest.mark.parametrize(
    ("kwargs", "named_by"),
    [
        ({"profile": "typo"}, "the profile argument"),
        ({"session_profile": "typo"}, "%scuba_connect / %config"),
    ],
)
def test_unknown_profile_is_an_error_even_with_host_and_token(
    environ: dict[str, str], kwargs: dict, named_by: str
) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_connection(host="x.scuba.io", token="t", **kwargs, environ=environ)
    message = str(info.value)
    assert f"Profile 'typo' ({named_by}) is not defined in" in message
    assert environ["SCUBA_MAGIC_CONFIG"] in message
    assert "profiles there: hostonly, prod, staging" in message


def test_unknown_scuba_profile_is_an_error_even_with_host_and_token(
    environ: dict[str, str],
) -> None:
    environ["SCUBA_PROFILE"] = "typo"
    with pytest.raises(ConfigError, match=r"Profile 'typo' \(environment variable SCUBA_PROFILE\)"):
        resolve_connection(host="x.scuba.io", token="t", environ=environ)


def test_client_with_unknown_profile_fails(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]
) -> None:
    from scuba_magic.client import ScubaClient

    monkeypatch.setenv("SCUBA_MAGIC_CONFIG", environ["SCUBA_MAGIC_CONFIG"])
    with pytest.raises(ConfigError, match="profiles there: hostonly, prod, staging"):
        ScubaClient("x.scuba.io", token="t", profile="typo")


# profiles file


def test_default_config_path_is_under_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert config_path({}) == tmp_path / ".config" / "scuba-magic" / "config.toml"
    assert config_path({"SCUBA_MAGIC_CONFIG": "~/x.toml"}) == tmp_path / "x.toml"


def test_default_config_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    folder = tmp_path / ".config" / "scuba-magic"
    folder.mkdir(parents=True)
    write_config(folder, PROFILES)
    assert resolve_connection(environ={}).host == "https://prod.scuba.io"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_token_file_open_to_others_is_refused_with_chmod(tmp_path: Path, mode: int) -> None:
    path = write_config(tmp_path, PROFILES, mode=mode)
    with pytest.raises(ConfigError) as info:
        resolve_connection(environ={"SCUBA_MAGIC_CONFIG": str(path)})
    message = str(info.value)
    assert f"Refusing to read the profiles file {path}" in message
    assert message.endswith(f"chmod 600 {path}")
    assert TOKEN not in message


def test_world_readable_file_without_tokens_is_fine(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[profiles.a]\nhost = "a.scuba.io"\n', mode=0o644)
    connection = resolve_connection(profile="a", environ={"SCUBA_MAGIC_CONFIG": str(path)})
    assert connection.host == "https://a.scuba.io"


def test_token_file_is_read_relative_to_the_config(tmp_path: Path) -> None:
    token_file = tmp_path / "prod.token"
    token_file.write_text("from+/file==\n")
    token_file.chmod(0o600)
    path = write_config(
        tmp_path, '[profiles.p]\nhost = "p.scuba.io"\ntoken_file = "prod.token"\n', mode=0o644
    )
    connection = resolve_connection(profile="p", environ={"SCUBA_MAGIC_CONFIG": str(path)})
    assert connection.token == "from+/file=="
    assert connection.token_source == f"profile 'p' in {path}"


def test_loose_token_file_is_refused(tmp_path: Path) -> None:
    token_file = tmp_path / "prod.token"
    token_file.write_text("from+/file==")
    token_file.chmod(0o644)
    path = write_config(
        tmp_path, f'[profiles.p]\nhost = "p.scuba.io"\ntoken_file = "{token_file}"\n'
    )
    with pytest.raises(ConfigError, match=f"chmod 600 {token_file}$"):
        resolve_connection(profile="p", environ={"SCUBA_MAGIC_CONFIG": str(path)})


def test_missing_token_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[profiles.p]\nhost = "p.scuba.io"\ntoken_file = "nope"\n')
    with pytest.raises(ConfigError, match="token_file .*nope of profile 'p'.* does not exist"):
        resolve_connection(profile="p", environ={"SCUBA_MAGIC_CONFIG": str(path)})


def test_unknown_profile_lists_the_known_ones(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="Profile 'dev'") as info:
        resolve_connection(profile="dev", environ=environ)
    assert "profiles there: hostonly, prod, staging" in str(info.value)


def test_profile_asked_for_without_a_file(tmp_path: Path) -> None:
    environ = {"SCUBA_MAGIC_CONFIG": str(tmp_path / "missing.toml")}
    with pytest.raises(ConfigError, match=r"missing.toml \(file not found\)"):
        resolve_connection(profile="prod", environ=environ)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("default_profile = \n", "is not valid TOML"),
        ('[profiles.p]\nhost = "h"\ntokne = "x"\n', "Unknown key(s) tokne in profile 'p'"),
        ('[profiles.p]\nhost = "h"\ntoken = "x"\ntoken_file = "y"\n', "both token and token_file"),
        ("[profiles.p]\nhost = 5\n", "host of profile 'p'"),
        ("default_profile = 3\n", "default_profile"),
        ("[other]\nx = 1\n", "Unknown key(s) other"),
    ],
)
def test_malformed_profiles_file_names_the_file(tmp_path: Path, text: str, fragment: str) -> None:
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        resolve_connection(profile="p", environ={"SCUBA_MAGIC_CONFIG": str(path)})
    assert fragment in str(info.value)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("bad", ["two words", "tab\there", "ünïcode"])
def test_token_that_cannot_be_a_header_is_refused(bad: str) -> None:
    with pytest.raises(ConfigError, match="cannot be sent in an HTTP header") as info:
        resolve_connection(host="x.scuba.io", token=bad, environ={})
    assert bad not in str(info.value)


def test_blank_env_token_is_ignored(tmp_path: Path) -> None:
    environ = {
        "SCUBA_MAGIC_CONFIG": str(tmp_path / "none.toml"),
        "SCUBA_HOST": "x.scuba.io",
        "SCUBA_API_TOKEN": "  ",
    }
    assert resolve_connection(environ=environ).token is None
