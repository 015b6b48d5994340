"""A chat tool's webhook receiver that keeps what it was sent, for the demo.

It accepts any JSON POST and answers 200, as a generic signed-webhook
receiver does; the faithful per-tool receivers (signature checks, rate
limits, error bodies) live with the alerts tests.
"""

from __future__ import annotations

import json

from stockbridge.simulators.http_server import Request, Response, SimServer

__all__ = ["ChatReceiver", "start_chat_receiver"]


class ChatReceiver:
    """Records every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.received: list[dict[str, object]] = []

    def __call__(self, request: Request) -> Response:
        if request.method != "POST":
            return Response.json({"error": "POST a JSON body"}, 405)
        try:
            body = json.loads(request.body or b"null")
        except ValueError:
            return Response.json({"error": "not JSON"}, 400)
        self.received.append(
            {"path": request.path, "headers": request.headers, "body": body}
        )
        return Response.json({"ok": True})


def start_chat_receiver(port: int = 0) -> tuple[SimServer, ChatReceiver]:
    """A started receiver on 127.0.0.1 and the list it fills."""
    receiver = ChatReceiver()
    return SimServer(receiver, port=port, name="chat").start(), receiver
