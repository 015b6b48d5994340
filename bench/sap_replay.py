"""The SAP OData simulator's answers, recorded once and served again byte for byte.

The simulator renders every page from SQLite in Python, at a rate far below
what a client can consume, so timing clients against it would time the
simulator. Instead the pages are recorded once, by the SAP connector itself
pulling from the live simulator (a `requests` response hook keeps every
answer it gets: `$metadata`, each `$top`/`$skip` window, the incremental
polls), and a small server in its own process sends the recorded bytes with
`sendfile`. Every contender then reads the same bytes, and the server costs
almost no CPU.

Requests are matched on path and query parameters (decoded and sorted, with
`$skip=0` dropped: dlt's offset paginator sends it, the connector does not),
and a parameter repeated with the same value counts once, so any client
asking for the same window gets the same page.

    .venv/bin/python bench/sap_replay.py serve RECORD_DIR   # prints the port, serves
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import requests

__all__ = ["LOOKBACKS", "Recording", "normalise", "record", "serve"]

LOOKBACKS = (timedelta(0), timedelta(hours=2))
"""The incremental polls recorded after the full pull: no overlap, and the
config's default two-hour overlap."""

DOCUMENTS = "/sap/opu/odata/sap/API_MATERIAL_DOCUMENT_SRV/A_MaterialDocumentHeader"


def normalise(path_and_query: str) -> str:
    """The key a request is matched on: path and sorted, decoded parameters."""
    split = urlsplit(path_and_query)
    params = sorted(
        {
            (k, v)
            for k, v in parse_qsl(split.query, keep_blank_values=True)
            if (k, v) != ("$skip", "0")
        }
    )
    return unquote(split.path) + "?" + "&".join(f"{k}={v}" for k, v in params)


@dataclass(frozen=True, slots=True)
class Recording:
    """What `record` wrote: where, and what the full pull held."""

    directory: Path
    windows: list[str]
    """Path and query of each `$top` window of the full pull, in order."""
    items: int
    """Document items served (every item, stock-relevant or not)."""
    records: int
    """Records the connector made of them."""
    cursor: str | None
    """The cursor after the full pull (what the store holds afterwards)."""
    seconds: float
    """Wall time of the recording pull against the live simulator."""
    wire_bytes: int

    @classmethod
    def load(cls, directory: Path) -> Recording:
        data = json.loads((directory / "recording.json").read_text(encoding="utf-8"))
        return cls(directory=directory, **data)

    def save(self) -> None:
        data = {
            "windows": self.windows,
            "items": self.items,
            "records": self.records,
            "cursor": self.cursor,
            "seconds": self.seconds,
            "wire_bytes": self.wire_bytes,
        }
        (self.directory / "recording.json").write_text(
            json.dumps(data, indent=1), encoding="utf-8"
        )


class _Recorder:
    """A `requests` response hook that files every answer under its request key."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.index: dict[str, dict[str, Any]] = {}
        self.windows: list[str] = []
        self.items = 0
        self.wire_bytes = 0

    def __call__(self, response: requests.Response, *_: Any, **__: Any) -> None:
        split = urlsplit(response.url)
        path_and_query = f"{split.path}?{split.query}"
        key = normalise(path_and_query)
        if key in self.index:
            return
        name = f"{len(self.index):05d}.body"
        (self.directory / name).write_bytes(response.content)
        self.wire_bytes += len(response.content)
        self.index[key] = {
            "file": name,
            "status": response.status_code,
            "content_type": response.headers.get("Content-Type", ""),
        }
        if split.path == DOCUMENTS and "$filter" not in key:
            # A window of the full pull (the incremental polls carry a $filter).
            self.windows.append(path_and_query)
            for header in json.loads(response.content)["d"]["results"]:
                self.items += len(header["to_MaterialDocumentItem"]["results"])


def record(truth: Path, work_dir: Path, out: Path) -> Recording:
    """Pull all movements through the SAP connector from the live simulator, keeping
    every answer, then the incremental polls of `LOOKBACKS` after that pull."""
    from stockbridge.connectors.sap_odata import SapODataConnector, SapODataSettings
    from stockbridge.simulators.sap_odata import start_sap_odata

    out.mkdir(parents=True, exist_ok=True)
    recorder = _Recorder(out)
    server = start_sap_odata(truth, work_dir)
    try:
        settings = SapODataSettings.model_validate(
            {
                "url": f"{server.url}/sap/opu/odata/sap",
                "client": "100",
                "username": "STOCKBRIDGE",
                "password": "Welcome1",
            }
        )
        connector = SapODataConnector("sap", settings, timezone="UTC")
        try:
            connector.gateway.http.session.hooks["response"].append(recorder)
            started = time.perf_counter()
            records, cursor = 0, None
            for page in connector.movements(None, lookback=timedelta(0)):
                records += len(page.records)
                cursor = page.cursor or cursor
            seconds = time.perf_counter() - started
            for lookback in LOOKBACKS:
                for _ in connector.movements(cursor, lookback=lookback):
                    pass
        finally:
            connector.close()
    finally:
        server.stop()
    (out / "index.json").write_text(json.dumps(recorder.index), encoding="utf-8")
    recording = Recording(
        directory=out,
        windows=recorder.windows,
        items=recorder.items,
        records=records,
        cursor=cursor,
        seconds=seconds,
        wire_bytes=recorder.wire_bytes,
    )
    recording.save()
    return recording


def _handler(directory: Path) -> type[BaseHTTPRequestHandler]:
    index: dict[str, dict[str, Any]] = json.loads(
        (directory / "index.json").read_text(encoding="utf-8")
    )

    class Replay(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes; without this, Nagle holds
            # a small body until the client's delayed ACK (~40 ms a request).
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_GET(self) -> None:
            entry = index.get(normalise(self.path))
            if entry is None:
                body = f"not recorded: {self.path}".encode()
                self.send_response(404)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            path = directory / entry["file"]
            self.send_response(entry["status"])
            self.send_header("Content-Type", entry["content_type"])
            self.send_header("Content-Length", str(path.stat().st_size))
            self.send_header("dataserviceversion", "2.0")
            self.end_headers()
            with path.open("rb") as body_file:
                self.connection.sendfile(body_file)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002, ARG002
            return

    return Replay


def serve(directory: Path) -> None:
    """Serve a recording on a free loopback port; print `READY <port>`; run until killed."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(directory))
    server.daemon_threads = True
    print(f"READY {server.server_address[1]}", flush=True)
    server.serve_forever()


def iter_windows(base_url: str, windows: list[str]) -> Iterator[bytes]:
    """The bodies of the recorded windows, fetched over one keep-alive session."""
    with requests.Session() as session:
        for window in windows:
            response = session.get(base_url + window, timeout=60)
            response.raise_for_status()
            yield response.content


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "serve":
        sys.exit(f"usage: {sys.argv[0]} serve RECORD_DIR")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    serve(Path(sys.argv[2]))
