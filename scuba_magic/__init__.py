"""scuba-magic: query Scuba Analytics from Jupyter, scripts and a local emulator.

In a notebook::

    %load_ext scuba_magic
    %scuba_connect --local            # or: %scuba_connect my_cluster.scuba.io
    %%bql
    select count(*) from foreverMusic group by gender between 7 days ago and now

From Python::

    from scuba_magic import ScubaClient
    client = ScubaClient.from_config()
    df = client.query("select count(*) from foreverMusic")

Public names are imported lazily so that ``%load_ext scuba_magic`` stays fast:
pandas, requests and plotly load only when a query or a plot first needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "ExploreLink",
    "ScubaClient",
    "ScubaError",
    "__version__",
    "load_ipython_extension",
    "plot_time_buckets",
    "unload_ipython_extension",
]

# public name -> module that defines it
_LAZY_NAMES = {
    "ScubaClient": "scuba_magic.client",
    "ExploreLink": "scuba_magic.client",
    "ScubaError": "scuba_magic.errors",
    "plot_time_buckets": "scuba_magic.plots",
}

if TYPE_CHECKING:
    from scuba_magic.client import ExploreLink, ScubaClient
    from scuba_magic.errors import ScubaError
    from scuba_magic.plots import plot_time_buckets


def __getattr__(name: str) -> Any:
    module_name = _LAZY_NAMES.get(name)
    if module_name is None:
        raise AttributeError(f"module 'scuba_magic' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%%bql``, ``%bql``, ``%scuba_rid`` and ``%scuba_connect``."""
    from scuba_magic.magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics registered by :func:`load_ipython_extension`."""
    from scuba_magic.magics import unload_ipython_extension as unload

    unload(ipython)
