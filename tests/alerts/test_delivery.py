"""The outbox worker: rate limits kept, outages ridden out, each message once.

Time is a fake clock shared by the worker (its sleep advances it) and the
receivers (they judge signatures and rate limits by it): the 60 s outage
and DingTalk's 10-minute block are driven by that clock, so they cost no
wall time. The receiver's downtime is real: its socket is closed, and the
worker's requests are refused by the kernel until it listens again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from stockbridge.alerts.delivery import DeliveryWorker, RetrySchedule
from stockbridge.alerts.notices import Notice, NoticeItem
from stockbridge.alerts.settings import load_alert_setup
from stockbridge.store.alert_outbox import QueuedMessage, enqueue_one, list_outbox
from stockbridge.store.schema import alert_attempts

WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def queue(engine, channel: str, count: int, clock) -> list[str]:
    ids = []
    for n in range(count):
        item = NoticeItem(
            dedup_key=f"below_safety_stock|M-{n}|1000",
            event="firing",
            rule="below_safety_stock",
            kind="below_safety_stock",
            severity="warning",
            subject={"material": f"M-{n}", "site": "1000"},
            figures={"available": "1", "safety_stock": "5", "unit": "H87"},
            since=clock(),
        )
        notice = Notice(str(uuid.uuid4()), (item,))
        enqueue_one(
            engine,
            QueuedMessage(channel, item.dedup_key, notice.to_text()),
            now=clock(),
        )
        ids.append(notice.message_id)
    return ids


def worker_for(engine, settings, clock):
    return DeliveryWorker(
        engine, load_alert_setup(settings), clock=clock, sleep=clock.sleep
    )


def settings_for(make_settings, kind: str, url: str, extra: str = ""):
    return make_settings(
        f"""\
        store: sqlite:///unused.db
        alerts:
          channels:
            ops: {{kind: {kind}, url: "{url}"{extra}}}
        """
    )


def attempts(engine):
    with engine.connect() as conn:
        return conn.execute(
            select(alert_attempts.c.outcome, alert_attempts.c.detail).order_by(
                alert_attempts.c.id
            )
        ).all()


def test_dingtalk_never_gets_more_than_20_a_minute(
    engine, clock, receivers, make_settings
) -> None:
    receiver = receivers.DingTalkReceiver(clock, secret="SECx").start()
    try:
        settings = settings_for(
            make_settings, "dingtalk", receiver.url, ", secret: SECx"
        )
        queue(engine, "ops", 25, clock)
        start = clock()
        result = worker_for(engine, settings, clock).drain(within=timedelta(minutes=10))
    finally:
        receiver.stop()
    assert (result.sent, result.throttled, receiver.refusals) == (25, 0, [])
    assert len(receiver.accepted) == 25
    assert receiver.max_in_window(timedelta(minutes=1)) == 20
    assert timedelta(minutes=1) <= clock() - start < timedelta(minutes=2)
    texts = [body["markdown"]["text"] for body in receiver.accepted]
    assert [t.split("M-")[1].split(" ")[0] for t in texts] == [
        str(n) for n in range(25)
    ]


def test_feishu_keeps_five_a_second(engine, clock, receivers, make_settings) -> None:
    receiver = receivers.FeishuReceiver(clock).start()
    try:
        settings = settings_for(make_settings, "feishu", receiver.url)
        queue(engine, "ops", 12, clock)
        result = worker_for(engine, settings, clock).drain(within=timedelta(minutes=1))
    finally:
        receiver.stop()
    assert (result.sent, receiver.refusals) == (12, [])
    assert receiver.max_in_window(timedelta(seconds=1)) == 5


def test_a_dingtalk_throttle_reply_pauses_the_channel_for_ten_minutes(
    engine, clock, receivers, make_settings
) -> None:
    receiver = receivers.DingTalkReceiver(clock, throttle_code=130101).start()
    receiver.blocked_until = clock() + timedelta(minutes=10)
    try:
        settings = settings_for(make_settings, "dingtalk", receiver.url)
        queue(engine, "ops", 2, clock)
        start = clock()
        result = worker_for(engine, settings, clock).drain(within=timedelta(hours=1))
    finally:
        receiver.stop()
    assert (result.sent, result.throttled) == (2, 1)
    assert [outcome for outcome, _ in attempts(engine)] == ["throttled", "sent", "sent"]
    assert attempts(engine)[0][1] == (
        "errcode 130101: send too fast, exceed 20 times per minute"
    )
    assert receiver.arrivals[1] - start == timedelta(minutes=10)


@pytest.mark.parametrize("kind", ["webhook", "dingtalk"])
def test_a_60_second_outage_then_every_message_exactly_once(
    engine, clock, receivers, make_settings, kind
) -> None:
    if kind == "webhook":
        receiver = receivers.WebhookReceiver(clock, secret=WHSEC)
        extra = f", secret: {WHSEC}"
    else:
        receiver = receivers.DingTalkReceiver(clock, secret="SECx")
        extra = ", secret: SECx"
    receiver.start()
    receiver.stop()  # down: nothing listens on its port
    outage_ends = clock() + timedelta(seconds=60)
    clock.at(outage_ends, receiver.start)
    try:
        settings = settings_for(make_settings, kind, receiver.url, extra)
        ids = queue(engine, "ops", 6, clock)
        worker = DeliveryWorker(
            engine,
            load_alert_setup(settings),
            clock=clock,
            sleep=clock.sleep,
            schedule=RetrySchedule(
                first=timedelta(seconds=5), cap=timedelta(seconds=40)
            ),
        )
        result = worker.drain(within=timedelta(minutes=30))
    finally:
        receiver.stop()
    assert result.sent == 6
    assert len(receiver.accepted) == 6
    assert min(receiver.arrivals) >= outage_ends
    if kind == "webhook":
        assert receiver.ids == ids  # each once, in order
    # While down, one request per backoff step (5, 10, 20, 40 s), not a flood.
    failures = [row for row in attempts(engine) if row[0] == "retry"]
    assert [detail for _, detail in failures] == ["could not connect"] * 4
    assert {row.status for row in list_outbox(engine, limit=None)} == {"sent"}
    again = worker.drain(within=timedelta(minutes=5))
    assert (again.sent, len(receiver.accepted)) == (0, 6)


CHILD = textwrap.dedent(
    """\
    import sys, time
    from datetime import UTC, datetime
    from pathlib import Path
    from stockbridge.alerts.service import evaluate_alerts, evaluate_and_deliver
    from stockbridge.alerts.settings import load_alert_setup
    from stockbridge.config import load_config
    from stockbridge.store.database import open_store

    settings = load_config(Path(sys.argv[1]))
    engine = open_store(settings.store)
    if sys.argv[2] == "evaluate-then-hang":
        now = datetime.now(UTC)
        evaluate_alerts(engine, load_alert_setup(settings), settings, now=now)
        print("committed", flush=True)
        time.sleep(60)
    else:
        summary, delivered = evaluate_and_deliver(
            engine, settings, clock=lambda: datetime.now(UTC)
        )
        print(summary.messages, delivered.sent, flush=True)
    """
)


def test_killed_between_commit_and_delivery_delivers_once_after_restart(
    tmp_path, receivers, seed, engine
) -> None:
    real_time = receivers.FakeClock(datetime.now(UTC))
    receiver = receivers.DingTalkReceiver(real_time, secret="SECkill").start()
    store = engine.url.database
    config = tmp_path / "kill.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            store: sqlite:///{store}
            alerts:
              channels:
                ops: {{kind: dingtalk, url: "{receiver.url}", secret: SECkill}}
              rules:
                - {{kind: below_safety_stock, channels: [ops]}}
            """
        ),
        encoding="utf-8",
    )
    seed.stock("A-100", "1", safety="10")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(config), "evaluate-then-hang"],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "committed"
            child.send_signal(signal.SIGKILL)
        finally:
            child.wait(timeout=30)
            child.stdout.close()  # type: ignore[union-attr]
        assert child.returncode == -signal.SIGKILL
        assert [row.status for row in list_outbox(engine)] == ["queued"]
        assert receiver.accepted == []

        outputs = [
            subprocess.run(
                [sys.executable, "-c", CHILD, str(config), "restart"],
                capture_output=True,
                text=True,
                env=env,
                check=True,
                timeout=60,
            ).stdout.split()
            for _ in range(2)
        ]
    finally:
        receiver.stop()
    assert outputs == [["0", "1"], ["0", "0"]]  # no new message; the old one sent once
    assert len(receiver.accepted) == 1
    assert [row.status for row in list_outbox(engine)] == ["sent"]
