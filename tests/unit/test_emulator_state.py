"""The emulator's store of rids and tokens, in memory and persisted to a directory."""

from __future__ import annotations

import json
import stat
import threading

import pytest

from scuba_magic.emulator.state import StateStore, hash_token


def test_rids_count_up_and_remember_their_query():
    store = StateStore()

    first = store.add_record("select count(*) from music")
    second = store.add_record(
        "select count(*) from music", chart_type="TABLE", chart_name="T", source_rid=first.rid
    )

    assert (first.rid, second.rid) == ("r1", "r2")
    assert store.get_record("r2") == second
    assert (second.chart_type, second.chart_name, second.source_rid) == ("TABLE", "T", "r1")
    assert store.get_record("r3") is None


def test_rids_are_unique_under_concurrency():
    store = StateStore()
    rids: list[str] = []

    def mint() -> None:
        for _ in range(200):
            rids.append(store.add_record("q").rid)

    threads = [threading.Thread(target=mint) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(rids, key=lambda r: int(r[1:])) == [f"r{n}" for n in range(1, 1601)]


def test_tokens_are_checked_created_and_revoked():
    store = StateStore()
    store.add_cli_token("given")

    made = store.create_token()

    assert store.is_valid_token("given") and store.is_valid_token(made)
    assert not store.is_valid_token("other")
    assert store.revoke_token(made) is True
    assert store.is_valid_token(made) is False
    assert store.revoke_token(made) is False


def test_state_survives_a_new_store_on_the_same_directory(tmp_path):
    store = StateStore(tmp_path)
    store.add_cli_token("given")
    record = store.add_record("select count(*) from music", chart_type="BAR", chart_name="B")
    made = store.create_token()
    revoked = store.create_token()
    store.revoke_token(revoked)

    again = StateStore(tmp_path)

    assert again.get_record(record.rid) == record
    assert again.add_record("q").rid == "r2"
    assert again.is_valid_token(made)
    assert not again.is_valid_token(revoked)
    assert not again.is_valid_token("given"), "command-line tokens last one run"


def test_state_files_hold_digests_only_and_are_private(tmp_path):
    store = StateStore(tmp_path)
    token = store.create_token()
    store.add_record("q")

    tokens_file = tmp_path / "tokens.json"
    assert token not in tokens_file.read_text()
    assert json.loads(tokens_file.read_text())["created_token_sha256"] == [hash_token(token)]
    for path in tmp_path.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["queries.jsonl", "tokens.json"], (
        "no temporary files are left behind"
    )


def test_a_corrupt_tokens_file_names_the_file(tmp_path):
    (tmp_path / "tokens.json").write_text("{not json")

    with pytest.raises(ValueError, match="tokens.json"):
        StateStore(tmp_path)


def test_a_last_rid_cut_short_by_a_crash_is_ignored(tmp_path):
    store = StateStore(tmp_path)
    kept = store.add_record("select count(*) from music")
    with open(tmp_path / "queries.jsonl", "a", encoding="utf-8") as journal:
        journal.write('{"rid": "r2", "bql": "sel')

    again = StateStore(tmp_path)

    assert again.get_record("r1") == kept
    assert again.get_record("r2") is None
    assert again.add_record("q").rid == "r2"


def test_an_unreadable_line_before_the_last_names_file_and_line(tmp_path):
    store = StateStore(tmp_path)
    store.add_record("q1")
    journal = tmp_path / "queries.jsonl"
    journal.write_text("garbage\n" + journal.read_text())

    with pytest.raises(ValueError, match=r"Line 1 .*queries.jsonl"):
        StateStore(tmp_path)
