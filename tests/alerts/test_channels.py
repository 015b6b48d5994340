"""Each chat tool's format, signature and replies, against receivers that check them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from stockbridge.alerts.channel_base import Outcome
from stockbridge.alerts.channel_dingtalk import dingtalk_sign
from stockbridge.alerts.channel_feishu import feishu_sign
from stockbridge.alerts.channel_webhook import standard_webhook_signature
from stockbridge.alerts.service import send_test

WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_dingtalk_signature_reproduces_the_documented_algorithm() -> None:
    assert (
        dingtalk_sign("SECthis_is_secret", 1700000000000)
        == "fw8B0t3G18XVKX36UY%2BOiQFSPpw8RMTdwhNMbsypf2g%3D"
    )


def test_feishu_signature_reproduces_the_documented_inputs() -> None:
    assert (
        feishu_sign("demo", 1599360473)
        == "l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8="
    )


def test_standard_webhooks_signature_matches_the_published_vector() -> None:
    assert (
        standard_webhook_signature(
            WHSEC, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
        )
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def config_for(kind: str, url: str, extra: str = "") -> str:
    return f"""\
    store: sqlite:///unused.db
    alerts:
      lang: en
      public_url: https://stock.example.com/
      channels:
        ops:
          kind: {kind}
          url: "{url}"
    {extra}"""


def test_dingtalk_signed_markdown_with_keyword_is_accepted(
    engine, clock, receivers, make_settings
) -> None:
    receiver = receivers.DingTalkReceiver(
        clock, secret="SECabc123", keywords=("库存",)
    ).start()
    try:
        settings = make_settings(
            config_for(
                "dingtalk",
                receiver.url,
                "      secret: SECabc123\n          keyword: 库存\n          lang: zh",
            )
        )
        verdict = send_test(engine, settings, "ops", clock=clock)
    finally:
        receiver.stop()
    assert (verdict.outcome, verdict.detail) == (Outcome.SENT, "errcode 0: ok")
    (body,) = receiver.accepted
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"].startswith("库存 stockbridge 告警")
    assert "测试消息 · 通道 ops" in body["markdown"]["text"]
    assert "- 可用量：3 H87" in body["markdown"]["text"]
    assert body["at"] == {"atMobiles": [], "isAtAll": False}
    assert len(body["msgUuid"]) == 36


@pytest.mark.parametrize(
    ("receiver_args", "extra", "sender_skew", "expected"),
    [
        (
            {"secret": "SECright"},
            "      secret: SECwrong",
            0,
            "errcode 310000: sign not match",
        ),
        (
            {"secret": "SECright"},
            "      secret: SECright",
            2,
            "errcode 310000: invalid timestamp",
        ),
        (
            {"allowed_ips": ("203.0.113.7",)},
            "",
            0,
            "errcode 310000: ip 127.0.0.1 not in whitelist",
        ),
        ({"keywords": ("库存",)}, "", 0, "errcode 310000: keywords not in content"),
    ],
)
def test_dingtalk_refusals_in_http_200_are_failures(
    engine,
    clock,
    *,
    receivers,
    make_settings,
    receiver_args,
    extra,
    sender_skew,
    expected,
) -> None:
    receiver = receivers.DingTalkReceiver(clock, **receiver_args).start()
    sender_clock = receivers.FakeClock(clock() - timedelta(hours=sender_skew))
    try:
        settings = make_settings(config_for("dingtalk", receiver.url, extra))
        verdict = send_test(engine, settings, "ops", clock=sender_clock)
    finally:
        receiver.stop()
    assert (verdict.outcome, verdict.detail) == (Outcome.FAILED, expected)
    assert receiver.accepted == []


def test_wecom_markdown_is_accepted(engine, clock, receivers, make_settings) -> None:
    receiver = receivers.WeComReceiver(clock).start()
    try:
        verdict = send_test(
            engine, make_settings(config_for("wecom", receiver.url)), "ops", clock=clock
        )
    finally:
        receiver.stop()
    assert verdict.outcome is Outcome.SENT
    (body,) = receiver.accepted
    content = body["markdown"]["content"]
    assert content.startswith("## stockbridge ALERT: Test message · channel ops")
    assert '<font color="warning">[ALERT] </font>' in content
    assert ">available: 3 H87" in content


def test_wecom_wrong_key_reads_the_errcode(
    engine, clock, receivers, make_settings
) -> None:
    receiver = receivers.WeComReceiver(clock).start()
    try:
        url = receiver.url.replace("wecom-key", "other")
        verdict = send_test(
            engine, make_settings(config_for("wecom", url)), "ops", clock=clock
        )
    finally:
        receiver.stop()
    assert verdict.outcome is Outcome.FAILED
    assert verdict.detail.startswith("errcode 93000: invalid webhook url")


@pytest.mark.parametrize("fmt", ["card", "post"])
def test_feishu_signed_message_is_accepted(
    engine, clock, receivers, make_settings, fmt
) -> None:
    receiver = receivers.FeishuReceiver(
        clock, secret="fs-secret", keywords=("stockbridge",)
    ).start()
    try:
        extra = f"      secret: fs-secret\n          format: {fmt}"
        settings = make_settings(config_for("feishu", receiver.url, extra))
        verdict = send_test(engine, settings, "ops", clock=clock)
    finally:
        receiver.stop()
    assert (verdict.outcome, verdict.detail) == (Outcome.SENT, "code 0: success")
    (body,) = receiver.accepted
    assert body["timestamp"] == str(int(clock().timestamp()))
    assert body["sign"] == feishu_sign("fs-secret", int(clock().timestamp()))
    if fmt == "card":
        assert body["msg_type"] == "interactive"
        assert body["card"]["header"]["title"]["content"].startswith(
            "stockbridge ALERT"
        )
        assert (
            body["card"]["elements"][-1]["actions"][0]["url"]
            == "https://stock.example.com"
        )
    else:
        assert body["msg_type"] == "post"
        assert body["content"]["post"]["en_us"]["title"].startswith("stockbridge ALERT")


@pytest.mark.parametrize(
    ("receiver_args", "extra", "expected"),
    [
        (
            {"secret": "right"},
            "      secret: wrong",
            "code 19021: sign match fail or timestamp is not within one hour from current time",
        ),
        ({"keywords": ("库存",)}, "", "code 19024: Key Words Not Found"),
        ({"allowed_ips": ("203.0.113.7",)}, "", "code 19022: Ip Not Allowed"),
    ],
)
def test_feishu_refusals_are_failures(
    engine, clock, *, receivers, make_settings, receiver_args, extra, expected
) -> None:
    receiver = receivers.FeishuReceiver(clock, **receiver_args).start()
    try:
        settings = make_settings(config_for("feishu", receiver.url, extra))
        verdict = send_test(engine, settings, "ops", clock=clock)
    finally:
        receiver.stop()
    assert (verdict.outcome, verdict.detail) == (Outcome.FAILED, expected)


def test_slack_blocks_are_accepted_and_errors_read(
    engine, clock, receivers, make_settings
) -> None:
    receiver = receivers.SlackReceiver(clock).start()
    try:
        good = send_test(
            engine, make_settings(config_for("slack", receiver.url)), "ops", clock=clock
        )
        clock.advance(timedelta(seconds=2))
        bad = send_test(
            engine,
            make_settings(config_for("slack", receiver.url + "x")),
            "ops",
            clock=clock,
        )
    finally:
        receiver.stop()
    assert (good.outcome, good.detail) == (Outcome.SENT, "ok")
    (body,) = receiver.accepted
    assert body["blocks"][0]["type"] == "header"
    assert body["blocks"][1]["text"]["text"].startswith("*[ALERT] Test message")
    assert (bad.outcome, bad.detail) == (Outcome.FAILED, "HTTP 404 no_service")


def test_teams_adaptive_card_is_accepted(
    engine, clock, receivers, make_settings
) -> None:
    receiver = receivers.TeamsReceiver(clock).start()
    try:
        good = send_test(
            engine, make_settings(config_for("teams", receiver.url)), "ops", clock=clock
        )
        bad = send_test(
            engine,
            make_settings(config_for("teams", receiver.url.replace("teams-sig", "x"))),
            "ops",
            clock=clock,
        )
    finally:
        receiver.stop()
    assert (good.outcome, good.detail) == (Outcome.SENT, "HTTP 202")
    card = receiver.accepted[0]["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["body"][2]["facts"][1] == {"title": "available", "value": "3 H87"}
    assert bad.outcome is Outcome.FAILED
    assert bad.detail.startswith("HTTP 401")


def test_generic_webhook_is_signed_as_standard_webhooks(
    engine, clock, receivers, make_settings
) -> None:
    receiver = receivers.WebhookReceiver(clock, secret=WHSEC).start()
    try:
        good = send_test(
            engine,
            make_settings(
                config_for("webhook", receiver.url, f"      secret: {WHSEC}")
            ),
            "ops",
            clock=clock,
        )
        other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="
        bad = send_test(
            engine,
            make_settings(
                config_for("webhook", receiver.url, f"      secret: {other}")
            ),
            "ops",
            clock=clock,
        )
    finally:
        receiver.stop()
    assert (good.outcome, good.detail) == (Outcome.SENT, "HTTP 204")
    (body,) = receiver.accepted
    assert body["type"] == "stockbridge.alerts"
    (alert,) = body["data"]["alerts"]
    assert alert["figures"] == {"available": "3", "safety_stock": "10", "unit": "H87"}
    assert receiver.ids == [body["data"]["message_id"]]
    assert (bad.outcome, bad.detail) == (
        Outcome.FAILED,
        "HTTP 400 no matching signature",
    )
