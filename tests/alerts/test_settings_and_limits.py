"""Config errors name the key path; messages fit each tool's byte limit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stockbridge.alerts.channel_wecom import (
    MAX_MARKDOWN_BYTES,
    WeComChannel,
    WeComOptions,
)
from stockbridge.alerts.messages import render_notice
from stockbridge.alerts.notices import Notice, NoticeItem
from stockbridge.alerts.settings import load_alert_setup
from stockbridge.alerts.text_limits import truncate_utf8
from stockbridge.config import ConfigError

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def test_rule_and_channel_problems_are_located_and_gathered(make_settings) -> None:
    settings = make_settings(
        """\
        alerts:
          channels:
            wx: {kind: wecom, url: "http://127.0.0.1/x?key=k", secret: s3cr3t-value}
            hook: {kind: webhook, url: "http://127.0.0.1/h", secret: not-base64}
            odd: {kind: pager, url: "http://127.0.0.1/p"}
          rules:
            - {kind: conflict, older_then: 2h}
            - {kind: below_safety_stock}
            - {kind: below_safety_stock}
            - {kind: rejects}
        """
    )
    with pytest.raises(ConfigError) as raised:
        load_alert_setup(settings)
    lines = str(raised.value).splitlines()
    assert any(
        "line 3: alerts.channels.wx.secret: expected no secret: wecom webhooks are not signed"
        in line
        for line in lines
    )
    assert any(
        "alerts.channels.hook.secret: expected a Standard Webhooks secret" in line
        for line in lines
    )
    assert any(
        "line 5: alerts.channels.odd.kind: expected one of dingtalk" in line
        for line in lines
    )
    assert any(
        "alerts.rules[0].older_then: " in line and "Did you mean 'older_than'?" in line
        for line in lines
    )
    assert any(
        "alerts.rules[2].name: expected a name no other rule has" in line
        for line in lines
    )
    assert any(
        "alerts.rules[3].above: expected the required key 'above'" in line
        for line in lines
    )
    assert "s3cr3t-value" not in str(raised.value)


def test_lang_and_public_url(make_settings) -> None:
    settings = make_settings(
        """\
        alerts:
          lang: en
          public_url: https://stock.example.com/
          channels:
            zh_group: {kind: dingtalk, url: "http://127.0.0.1/d", lang: zh}
            en_group: {kind: slack, url: "http://127.0.0.1/s"}
        """
    )
    setup = load_alert_setup(settings)
    assert (setup.lang_of("zh_group"), setup.lang_of("en_group")) == ("zh", "en")
    assert setup.public_url == "https://stock.example.com"
    with pytest.raises(
        ConfigError, match=r"alerts.public_url: expected the http\(s\) address"
    ):
        make_settings("alerts: {public_url: stock.example.com}")


def item(n: int, material: str) -> NoticeItem:
    return NoticeItem(
        dedup_key=f"below_safety_stock|{material}|1000",
        event="firing",
        rule="below_safety_stock",
        kind="below_safety_stock",
        severity="critical",
        subject={"material": material, "site": "1000"},
        figures={"available": str(n), "safety_stock": "100", "unit": "KGM"},
        since=T0,
    )


def wecom_content(notice: Notice) -> str:
    channel = WeComChannel(
        "wx", WeComOptions(url="http://127.0.0.1/x?key=k", mention_userids=["zhangsan"])
    )
    rendered = render_notice(
        notice,
        lang="zh",
        public_url="https://stock.example.com",
        timezone="Asia/Shanghai",
    )
    request = channel.build(rendered, message_id=notice.message_id, now=T0)
    import json

    return json.loads(request.body)["markdown"]["content"]


def test_a_wecom_digest_drops_items_to_fit_4096_bytes() -> None:
    items = tuple(item(n, f"原材料-不锈钢板-{n:03d}-" + "宽" * 20) for n in range(10))
    content = wecom_content(Notice("m1", items))
    size = len(content.encode("utf-8"))
    assert 3000 < size <= MAX_MARKDOWN_BYTES
    assert content.endswith("<@zhangsan>")
    shown = content.count("原材料-不锈钢板-")
    assert 0 < shown < 10
    assert f"……另有 {10 - shown} 条未列出" in content


def test_a_single_huge_wecom_item_is_cut_on_a_character_boundary() -> None:
    content = wecom_content(Notice("m2", (item(1, "料" * 2000),)))
    data = content.encode("utf-8")
    assert len(data) <= MAX_MARKDOWN_BYTES
    assert data.decode("utf-8").endswith("…")  # valid UTF-8 throughout


@pytest.mark.parametrize("limit", range(1, 12))
def test_truncate_utf8_never_splits_a_character(limit: int) -> None:
    text = "库存A低于安全"
    cut = truncate_utf8(text, limit, marker="")
    assert len(cut.encode()) <= limit
    assert text.startswith(cut)
    assert len(cut.encode()) > limit - 3
