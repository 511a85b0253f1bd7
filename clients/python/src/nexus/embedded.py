"""`NexusClient(data_dir=...)`: Nexus in-process, no server.

The native core (`nexus_native`, built from `crates/nexus-py` with maturin) serves the same
REST API in-process, and this client sends it exactly what `RemoteNexusClient` sends, so both
give the same results. It acts as the operator of the data directory, like the local CLI.
"""

from __future__ import annotations

import importlib
import os
from typing import Any
from urllib.parse import urlencode

from ._calls import Call, Calls, Reply, T
from .errors import UnavailableError
from .remote import Organizations, RemoteNexusClient


def _native() -> Any:
    try:
        return importlib.import_module("nexus_native")
    except ImportError as error:
        raise UnavailableError(
            "the embedded Nexus core is not installed: build it with "
            "`pip install maturin && maturin develop -m crates/nexus-py/Cargo.toml` "
            "(or `pip install ./crates/nexus-py`), or use RemoteNexusClient",
            code="unavailable",
        ) from error


class NexusClient(RemoteNexusClient):
    """Nexus on a local data directory, in this process: the surface of `RemoteNexusClient`.

    `data_dir` defaults to `NEXUS_DATA_DIR`. One process at a time may open a data
    directory (a running `nexus serve` holds it too).
    """

    def __init__(self, data_dir: str | os.PathLike[str] | None = None) -> None:
        directory = data_dir if data_dir is not None else os.environ.get("NEXUS_DATA_DIR")
        if directory is None:
            raise ValueError("no data directory: pass data_dir= or set NEXUS_DATA_DIR")
        self.url = f"embedded:{os.fspath(directory)}"
        self._embedded = _native().Embedded(os.fspath(directory))
        self._calls = Calls()
        self.orgs = Organizations(self)

    def _send(self, call: Call[T]) -> Reply:
        query = urlencode({key: value for key, value in call.params.items() if value is not None})
        target = f"{call.route}?{query}" if query else call.route
        status, headers, content = self._embedded.request(
            call.method, target, list(call.headers.items()), call.body
        )
        return Reply(status, dict(headers), bytes(content))

    def close(self) -> None:
        """Waits for queued commits and releases the data directory."""
        self._embedded.close()
