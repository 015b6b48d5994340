"""The shared HTTP layer: what is retried, what is not, and what never leaks."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests
import responses

from stockbridge.connectors.errors import AuthError, ProtocolError, TransientError
from stockbridge.connectors.http import HttpClient, RateLimiter
from stockbridge.connectors.redaction import MASK, Redactor
from stockbridge.connectors.retry import RetryPolicy
from stockbridge.simulators.http_server import Response, SimServer

URL = "http://erp.example.test/api/stock"


def make_client(sleeps: list[float], secret: str = "hunter2-secret") -> HttpClient:
    return HttpClient(
        source="erp",
        redactor=Redactor([secret]),
        retry=RetryPolicy(attempts=4, initial_wait=0.01, max_wait=0.05),
        sleep=sleeps.append,
    )


@responses.activate
def test_5xx_then_success_is_retried_and_numbers_stay_exact() -> None:
    responses.add(responses.GET, URL, status=503, body="busy")
    responses.add(responses.GET, URL, status=200, body='{"qty": 1160.000}')
    sleeps: list[float] = []
    body = make_client(sleeps).json("GET", URL)
    assert body == {"qty": Decimal("1160.000")}
    assert isinstance(body["qty"], Decimal)
    assert len(sleeps) == 1


@responses.activate
def test_429_honours_retry_after() -> None:
    responses.add(responses.GET, URL, status=429, headers={"Retry-After": "7"})
    responses.add(responses.GET, URL, status=200, body="[]")
    sleeps: list[float] = []
    assert make_client(sleeps).json("GET", URL) == []
    assert sleeps == [7.0]


@responses.activate
def test_auth_error_is_not_retried_and_names_the_status() -> None:
    responses.add(responses.GET, URL, status=401, body="bad credentials")
    sleeps: list[float] = []
    with pytest.raises(AuthError, match="401"):
        make_client(sleeps).json("GET", URL)
    assert sleeps == []
    assert len(responses.calls) == 1


@responses.activate
def test_4xx_is_a_protocol_error_with_the_systems_words() -> None:
    responses.add(
        responses.GET, URL, status=400, body='{"error": "unknown property Foo"}'
    )
    with pytest.raises(ProtocolError, match="unknown property Foo"):
        make_client([]).json("GET", URL)


@responses.activate
def test_transient_errors_give_up_after_the_policy() -> None:
    responses.add(responses.GET, URL, status=502, body="bad gateway")
    sleeps: list[float] = []
    with pytest.raises(TransientError, match="502"):
        make_client(sleeps).json("GET", URL)
    assert len(responses.calls) == 4
    assert len(sleeps) == 3


@responses.activate
def test_secrets_are_redacted_from_errors() -> None:
    url = URL + "?password=hunter2-secret&user=me"
    responses.add(responses.GET, url, status=400, body="echo hunter2-secret back")
    with pytest.raises(ProtocolError) as info:
        make_client([]).json("GET", url)
    assert "hunter2-secret" not in str(info.value)
    assert MASK in str(info.value)


def test_redactor_masks_urls_and_connection_strings_without_registration() -> None:
    redactor = Redactor()
    text = redactor.redact(
        "postgresql://bob:s3cr3t@db/x DRIVER={X};UID=bob;PWD=pa55word;Server=h"
    )
    assert "s3cr3t" not in text
    assert "pa55word" not in text
    assert "bob" in text


def test_rate_limiter_spaces_calls() -> None:
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(2.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        limiter.acquire()
    assert sum(waits) == pytest.approx(2.0)


@pytest.mark.parametrize("knob", ["drop_rate", "truncate_rate", "error_rate"])
def test_real_server_faults_are_transient_and_recovered(knob: str) -> None:
    """Against a real socket: a dropped, cut or failed reply is retried to a full result."""
    payload = {"rows": [{"qty": "1.5"}] * 200}
    with SimServer(lambda _req: Response.json(payload)) as server:
        server.faults.update(**{knob: 0.5, "seed": 3})
        server.reseed(3)
        client = HttpClient(
            source="sim",
            redactor=Redactor(),
            retry=RetryPolicy(attempts=20, initial_wait=0.001, max_wait=0.005),
            timeout=(2.0, 5.0),
            session=requests.Session(),
        )
        try:
            for _ in range(10):
                assert client.json("GET", server.url + "/x") == payload
        finally:
            client.close()
