"""The timed operations, each run once per fresh interpreter by ``bench.measure``.

``python -m bench.cases NAME PARAMS_JSON`` does the case's untimed set-up (imports, building a
client), then times the operation itself and prints one JSON line with the seconds and the
growth of peak resident memory. Baseline cases are the floor for the same job on the same
machine: the standard library reading the bytes plus the fastest well-known decoder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable

from bench.measure import current_rss_bytes, peak_rss_bytes
from bench.payloads import PAYLOAD_BQL

CASES: dict[str, Callable[[dict], Callable[[], object]]] = {}


def case(name: str) -> Callable:
    def register(setup: Callable[[dict], Callable[[], object]]) -> Callable:
        CASES[name] = setup
        return setup

    return register


def _token() -> str:
    return os.environ.get("SCUBA_API_TOKEN", "bench-token")


def _warm_client(url: str):
    """A client whose lazy imports and HTTP session are ready, as after a notebook's first query.

    Both sides pay their imports before the timer starts: the benchmark is about moving and
    decoding bytes, not about import time (which the extension-load benchmark covers).
    """
    import pandas  # noqa: F401
    import pyarrow  # noqa: F401

    import scuba_magic.bql  # noqa: F401
    import scuba_magic.frames  # noqa: F401
    from scuba_magic import ScubaClient

    client = ScubaClient(url, token=_token())
    client._get_session()
    return client


def _urllib_post(url: str, payload: dict) -> bytes:
    import urllib.request

    request = urllib.request.Request(
        url + "/v1/query",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Token {_token()}"},
    )
    with urllib.request.urlopen(request) as response:
        return response.read()


@case("json_ours")
def json_ours(params: dict) -> Callable[[], object]:
    client = _warm_client(params["url"])
    return lambda: client.query(PAYLOAD_BQL)


@case("json_baseline")
def json_baseline(params: dict) -> Callable[[], object]:
    import urllib.request  # noqa: F401

    import orjson

    payload = {"bql": PAYLOAD_BQL, "result_format": "JSON_POWER_BI"}
    return lambda: orjson.loads(_urllib_post(params["url"], payload))


@case("json_naive")
def json_naive(params: dict) -> Callable[[], object]:
    import pandas as pd

    payload = {"bql": PAYLOAD_BQL, "result_format": "JSON_POWER_BI"}
    return lambda: pd.DataFrame(json.loads(_urllib_post(params["url"], payload)))


@case("csv_ours")
def csv_ours(params: dict) -> Callable[[], object]:
    client = _warm_client(params["url"])
    return lambda: client.query(PAYLOAD_BQL, result_format="CSV")


@case("csv_baseline")
def csv_baseline(params: dict) -> Callable[[], object]:
    import io

    import pyarrow.csv

    payload = {"bql": PAYLOAD_BQL, "result_format": "CSV"}
    return lambda: pyarrow.csv.read_csv(io.BytesIO(_urllib_post(params["url"], payload)))


@case("download_ours")
def download_ours(params: dict) -> Callable[[], object]:
    client = _warm_client(params["url"])
    prepared = client.prepare_request(PAYLOAD_BQL, result_format="DEFAULT")
    # the transfer half of ScubaClient.query: send with retries, then read the whole body
    return lambda: client._send(prepared, None).content


@case("download_baseline")
def download_baseline(params: dict) -> Callable[[], object]:
    import http.client
    from urllib.parse import urlsplit

    address = urlsplit(params["url"])
    body = json.dumps({"bql": PAYLOAD_BQL, "result_format": "DEFAULT"})

    def read() -> bytes:
        connection = http.client.HTTPConnection(address.hostname, address.port)
        connection.request(
            "POST",
            "/v1/query",
            body=body,
            headers={"Content-Type": "application/json", "Authorization": f"Token {_token()}"},
        )
        data = connection.getresponse().read()
        connection.close()
        return data

    return read


_LOAD_EXTENSION = (
    "import IPython\n"
    "from IPython.core.interactiveshell import InteractiveShell\n"
    "shell = InteractiveShell.instance()\n"
)


@case("extension_load_ours")
def extension_load_ours(params: dict) -> Callable[[], object]:
    code = _LOAD_EXTENSION + "shell.extension_manager.load_extension('scuba_magic')\n"
    return lambda: subprocess.run([sys.executable, "-c", code], check=True)


@case("extension_load_baseline")
def extension_load_baseline(params: dict) -> Callable[[], object]:
    return lambda: subprocess.run([sys.executable, "-c", _LOAD_EXTENSION], check=True)


def main(argv: list[str]) -> None:
    name, params = argv[0], json.loads(argv[1])
    operation = CASES[name](params)
    rss_before = current_rss_bytes()
    started = time.perf_counter()
    operation()
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak_bytes": max(0, peak_rss_bytes() - rss_before)}))


if __name__ == "__main__":
    main(sys.argv[1:])
