"""The page over a real socket: login with CSRF, the table, drill-down, languages, exports."""

from __future__ import annotations

import io
import re

from openpyxl import load_workbook


def _login(base_url, http, token):
    form = http.get(base_url + "/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    return http.post(
        base_url + "/login",
        data={"token": token, "csrf": csrf, "next": "/"},
        allow_redirects=False,
    )


def test_pages_redirect_to_login_without_a_session(base_url, http, bearer):
    response = http.get(base_url + "/?q=x", allow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/%3Fq%3Dx"
    # A bearer token is for tools: the page wants its session.
    assert (
        http.get(
            base_url + "/", headers=bearer("viewer"), allow_redirects=False
        ).status_code
        == 303
    )


def test_login_needs_the_csrf_token(base_url, http, demo):
    response = http.post(
        base_url + "/login",
        data={"token": demo.tokens["viewer"], "csrf": "forged"},
        allow_redirects=False,
    )
    assert response.status_code == 403


def test_login_sets_an_httponly_session_and_shows_the_table(base_url, http, demo):
    response = _login(base_url, http, demo.tokens["viewer"])
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "sb_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    page = http.get(
        base_url + "/?conflicts=1", headers={"Accept-Language": "zh-CN,zh;q=0.9"}
    )
    assert page.status_code == 200
    assert "合并库存" in page.text
    assert page.text.count('class="badge conflict"') >= 1
    english = http.get(base_url + "/?conflicts=1&lang=en")
    assert "Consolidated stock" in english.text
    detail_url = (
        re.search(r'class="badge conflict" href="([^"]+)"', english.text)
        .group(1)
        .replace("&amp;", "&")
    )
    drill = http.get(base_url + detail_url + "&partial=1")
    assert 'id="drilldown"' in drill.text
    assert "Per-source values" in drill.text


def test_wrong_token_and_viewer_forms(base_url, http, demo):
    assert "failed=1" in _login(base_url, http, "sb_wrong").headers["location"]
    _login(base_url, http, demo.tokens["viewer"])
    csrf = http.cookies["sb_csrf"]
    assert (
        http.post(
            base_url + "/health/sync", data={"csrf": csrf}, allow_redirects=False
        ).status_code
        == 403
    )
    assert http.get(base_url + "/audit").status_code == 403


def test_exports_follow_the_filter(base_url, http, demo, bearer):
    _login(base_url, http, demo.tokens["viewer"])
    wanted = http.get(
        base_url + "/api/v1/stock",
        params={"conflicts": "true"},
        headers=bearer("viewer"),
    ).json()
    csv_text = http.get(base_url + "/export.csv?conflicts=1").text
    assert len(csv_text.strip().splitlines()) == wanted["total"] + 1
    book = load_workbook(
        io.BytesIO(http.get(base_url + "/export.xlsx?conflicts=1").content),
        read_only=True,
    )
    rows = list(book["stock"].iter_rows(values_only=True))
    book.close()
    assert len(rows) == wanted["total"] + 1
    assert rows[1][6] == wanted["items"][0]["quantity"]


def test_operator_session_triggers_sync_from_the_health_page(base_url, http, demo):
    _login(base_url, http, demo.tokens["operator"])
    health = http.get(base_url + "/health")
    assert "Sync now" in health.text or "立即同步" in health.text
    response = http.post(
        base_url + "/health/sync",
        data={"csrf": http.cookies["sb_csrf"]},
        allow_redirects=False,
    )
    assert response.status_code == 303
    assert "notice=sync_" in response.headers["location"]
