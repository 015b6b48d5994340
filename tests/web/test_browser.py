"""The planner's page in a real headless Chromium: what a planner clicks, end to end.

The browser is Debian's /usr/bin/chromium (installed by `./run`); Playwright
never downloads one. The table's screenshot is kept under test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Browser, Page, expect, sync_playwright

from stockbridge.store.stock_queries import StockFilter
from stockbridge.store.web_queries import stock_page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        locale="en-US", accept_downloads=True, viewport={"width": 1920, "height": 1000}
    )
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_planner_searches_drills_down_switches_language_and_exports(
    page, base_url, demo, tmp_path
):
    conflicted = stock_page(demo.engine, StockFilter(conflicts_only=True), limit=1)
    assert conflicted.rows, "the demo store has no conflict to drill into"
    material = conflicted.rows[0]["material"]

    # An unauthenticated visit lands on the login form; the viewer token signs in.
    page.goto(base_url + "/?lang=en")
    assert "/login" in page.url
    page.fill("input[name=token]", demo.tokens["viewer"])
    page.click("button[type=submit]")
    page.wait_for_url(base_url + "/?lang=en")
    expect(page.locator("h1")).to_have_text("Consolidated stock")

    # Searching narrows the table to the material.
    page.fill("input[name=q]", material)
    page.click("form.filters button[type=submit]")
    page.wait_for_url(f"**q={material}**")
    rows = page.locator("#stock tbody tr")
    expect(rows.first.locator("td").first).to_have_text(material)
    assert rows.count() >= 1
    assert all(
        code == material
        for code in page.locator("#stock tbody tr td:first-child").all_inner_texts()
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#stock").screenshot(path=ARTIFACTS / "web-stock-table.png")
    assert (ARTIFACTS / "web-stock-table.png").stat().st_size > 1000

    # The conflict badge opens the drill-down in a dialog, without leaving the page.
    page.locator("a.conflict").first.click()
    dialog = page.locator("dialog#drill")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#drilldown h2")).to_contain_text(material)
    expect(dialog.locator("#drilldown")).to_contain_text("Per-source values")
    assert page.url.startswith(base_url + "/?")
    dialog.locator("form[method=dialog] button").click()
    expect(dialog).to_be_hidden()

    # The language link switches to Chinese and keeps the search.
    page.click("#lang")
    expect(page.locator("h1")).to_have_text("合并库存")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("input[name=q]")).to_have_value(material)

    # The XLSX export is a real workbook holding the material's rows.
    with page.expect_download() as pending:
        page.click("#export-xlsx")
    download = pending.value
    assert download.suggested_filename == "stock.xlsx"
    saved = tmp_path / "stock.xlsx"
    download.save_as(saved)
    book = load_workbook(saved, read_only=True)
    try:
        table = list(book["stock"].iter_rows(values_only=True))
    finally:
        book.close()
    assert table[0][:2] == ("material", "site")
    assert len(table) - 1 == rows.count()
    assert {row[0] for row in table[1:]} == {material}
    assert "true" in {row[table[0].index("conflict")] for row in table[1:]}
