"""Rules over the store, and each alert's life: fire once, remind, resolve, digest."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from stockbridge.alerts.notices import Notice
from stockbridge.alerts.service import evaluate_alerts
from stockbridge.alerts.settings import load_alert_setup
from stockbridge.store.alert_outbox import list_outbox
from stockbridge.store.schema import alert_state

CONFIG = """\
store: sqlite:///unused.db
sources:
  sap: {kind: sap_odata, schedule: 15m}
  mes: {kind: mes_rest, schedule: "cron: 0 6 * * mon-fri"}
alerts:
  channels:
    planners: {kind: slack, url: "http://127.0.0.1:9/x"}
    ops: {kind: wecom, url: "http://127.0.0.1:9/y"}
  rules:
%s
"""


def evaluate(engine, settings, clock):
    return evaluate_alerts(engine, load_alert_setup(settings), settings, now=clock())


def notices(engine, channel=None):
    rows = sorted(list_outbox(engine, channel=channel, limit=None), key=lambda r: r.id)
    return [Notice.from_text(row.payload) for row in rows]


def events(engine, channel=None):
    return [
        [(item.event, item.dedup_key) for item in notice.items]
        for notice in notices(engine, channel)
    ]


def states(engine):
    with engine.connect() as conn:
        return dict(
            conn.execute(select(alert_state.c.dedup_key, alert_state.c.status)).all()
        )


def test_an_alert_fires_once_reminds_later_and_resolves(
    any_engine, any_seed, clock, make_settings
) -> None:
    settings = make_settings(
        CONFIG % "    - {kind: below_safety_stock, channels: [planners], renotify: 4h}"
    )
    any_seed.stock("A-100", "3", safety="10")
    any_seed.stock("A-100", "2", safety="10", batch="B2")
    any_seed.stock("B-200", "50", safety="10")

    first = evaluate(any_engine, settings, clock)
    clock.advance(timedelta(hours=1))
    second = evaluate(any_engine, settings, clock)

    assert (first.fired, second.fired, second.messages) == (1, 0, 0)
    assert events(any_engine) == [[("firing", "below_safety_stock|A-100|1000")]]
    (item,) = notices(any_engine)[0].items
    assert item.figures == {
        "available": "5",
        "safety_stock": "10",
        "shortfall": "5",
        "unit": "H87",
    }

    clock.advance(timedelta(hours=3))
    assert evaluate(any_engine, settings, clock).reminded == 1
    clock.advance(timedelta(hours=1))
    assert evaluate(any_engine, settings, clock).messages == 0

    any_seed.clear_stock()
    any_seed.stock("A-100", "12", safety="10")
    assert evaluate(any_engine, settings, clock).resolved == 1
    assert events(any_engine)[1:] == [
        [("reminder", "below_safety_stock|A-100|1000")],
        [("resolved", "below_safety_stock|A-100|1000")],
    ]
    assert states(any_engine) == {"below_safety_stock|A-100|1000": "resolved"}

    any_seed.clear_stock()
    any_seed.stock("A-100", "1", safety="10")
    assert evaluate(any_engine, settings, clock).fired == 1  # fires anew


def test_alerts_due_together_go_out_as_one_digest_per_channel(
    any_engine, any_seed, clock, make_settings
) -> None:
    settings = make_settings(
        CONFIG
        % "    - {kind: below_safety_stock, channels: [planners, ops], severity: critical}\n"
        "    - {kind: negative_stock, channels: [ops]}"
    )
    for n in range(3):
        any_seed.stock(f"M-{n}", "1", safety="5")
    any_seed.stock("N-1", "-4", safety=None, warehouse="0002")

    summary = evaluate(any_engine, settings, clock)

    assert (summary.fired, summary.messages) == (4, 2)
    (ops,) = notices(any_engine, "ops")
    (planners,) = notices(any_engine, "planners")
    assert [item.dedup_key for item in planners.items] == [
        "below_safety_stock|M-0|1000",
        "below_safety_stock|M-1|1000",
        "below_safety_stock|M-2|1000",
    ]
    assert len(ops.items) == 4
    assert ops.items[-1].dedup_key == "negative_stock|N-1|1000|0002|||unrestricted"
    assert ops.items[-1].figures == {"quantity": "-4", "unit": "H87"}


def test_a_material_whose_rows_vanish_stays_firing(
    seed, engine, clock, make_settings
) -> None:
    settings = make_settings(
        CONFIG % "    - {kind: below_safety_stock, channels: [ops]}"
    )
    seed.stock("A-100", "1", safety="10")
    evaluate(engine, settings, clock)
    seed.clear_stock()
    seed.stock("B-1", "100", safety="1")

    summary = evaluate(engine, settings, clock)

    assert (summary.resolved, summary.messages) == (0, 0)
    assert states(engine)["below_safety_stock|A-100|1000"] == "firing"


def test_projected_stockout_from_the_tables_days_of_cover(
    any_engine, any_seed, clock, make_settings
) -> None:
    """Consolidation computes the cover (tests/store/test_planner_figures.py)."""
    settings = make_settings(
        CONFIG % "    - {kind: projected_stockout, channels: [ops], days: 7}"
    )
    any_seed.stock("FAST", "30", consumption="10", cover="5")
    any_seed.stock("FAST", "20", consumption="10", cover="5", batch="B2")
    any_seed.stock("SLOW", "50", consumption="1", cover="50")
    any_seed.stock("IDLE", "0")  # no consumption: nothing to project

    evaluate(any_engine, settings, clock)

    (notice,) = notices(any_engine)
    (item,) = notice.items
    assert item.subject == {"material": "FAST", "site": "1000"}
    assert item.figures["days_of_cover"] == "5.0"
    assert item.figures["daily_consumption"] == "10.000"


def test_conflicts_older_or_larger_than_the_thresholds(
    any_engine, any_seed, clock, make_settings
) -> None:
    settings = make_settings(
        CONFIG
        % '    - {kind: conflict, channels: [ops], older_than: 2h, larger_than: "100"}'
    )
    now = clock()
    any_seed.conflict(
        "OLD", "1", since=now - timedelta(hours=3), values={"sap": "10", "mes": "9"}
    )
    any_seed.conflict("BIG", "500", since=now, values={"sap": "600", "mes": "100"})
    any_seed.conflict("NEW", "5", since=now, values={"sap": "5", "mes": "0"})

    evaluate(any_engine, settings, clock)
    (notice,) = notices(any_engine)
    keys = sorted(item.subject["material"] for item in notice.items)
    assert keys == ["BIG", "OLD"]
    big = next(item for item in notice.items if item.subject["material"] == "BIG")
    assert big.figures["source_values"] == "mes 100, sap 600"

    any_seed.close_conflicts(now)
    clock.advance(timedelta(minutes=5))
    assert evaluate(any_engine, settings, clock).resolved == 2


def test_stale_sources_failing_streams_and_rejects(
    any_engine, any_seed, clock, make_settings
) -> None:
    settings = make_settings(
        CONFIG % "    - {kind: stale_source, channels: [ops], intervals: 3}\n"
        "    - {kind: failing_stream, channels: [ops], failures: 2}\n"
        "    - {kind: rejects, channels: [ops], above: 2, streams: movements}"
    )
    now = clock()  # a Monday, 08:00 UTC
    for name in ("sap", "mes"):
        any_seed.source(name)
    any_seed.run("sap", "stock", "succeeded", at=now - timedelta(minutes=50))
    any_seed.run("sap", "movements", "succeeded", at=now - timedelta(minutes=20))
    # mes stock: daily at 06:00 mon-fri; last success the Wednesday before.
    any_seed.run("mes", "stock", "succeeded", at=now - timedelta(days=5))
    failed = [
        any_seed.run(
            "sap",
            "movements",
            "failed",
            at=now - timedelta(minutes=m),
            error="HTTP 503",
        )
        for m in (10, 5)
    ]
    for _ in range(3):
        any_seed.reject(failed[0])
    any_seed.reject(failed[0], stream="stock")

    evaluate(any_engine, settings, clock)

    (notice,) = notices(any_engine)
    found = {item.dedup_key: item.figures for item in notice.items}
    assert set(found) == {
        "stale_source|sap|stock",
        "stale_source|mes|stock",
        "failing_stream|sap|movements",
        "rejects|sap|movements",
    }
    assert found["failing_stream|sap|movements"]["last_error"] == "HTTP 503"
    assert found["rejects|sap|movements"]["open_rejects"] == "3"
    assert found["stale_source|mes|stock"]["stale_after"] == "3 × cron: 0 6 * * mon-fri"
