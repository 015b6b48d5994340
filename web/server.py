"""Running the app under uvicorn: in the foreground, or in a thread next to other work."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import uvicorn
from sqlalchemy import Engine

from stockbridge.config.models import Settings
from stockbridge.web.app import create_app

__all__ = ["serve_forever", "start_in_thread"]

STARTUP_TIMEOUT = 10.0


def _server(engine: Engine, settings: Settings, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(engine, settings),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
    )
    return uvicorn.Server(config)


def serve_forever(engine: Engine, settings: Settings, host: str, port: int) -> None:
    """Serve until Ctrl-C or SIGTERM (uvicorn's own signal handling)."""
    _server(engine, settings, host, port).run()


def start_in_thread(
    engine: Engine, settings: Settings, host: str, port: int
) -> tuple[str, Callable[[], None]]:
    """Start serving in a thread; the page's address and a function that stops it.

    Port 0 picks a free port; the address returned is the real one.
    """
    server = _server(engine, settings, host, port)
    server.config.install_signal_handlers = False  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.run, name="web", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            msg = f"the web server did not start on {host}:{port}"
            raise RuntimeError(msg)
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]

    def stop() -> None:
        server.should_exit = True
        thread.join(STARTUP_TIMEOUT)

    return f"http://{host}:{bound}", stop
