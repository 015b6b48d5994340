"""`reconcile.consumption_days` and `reconcile.safety_stock`, down to the policy."""

from __future__ import annotations

from decimal import Decimal

from stockbridge.config import load_config, render_masked
from stockbridge.sync.reconcile import policy_from_settings


def test_defaults_and_safety_stock_per_material_or_site(write_config) -> None:
    assert (
        load_config(write_config("{}\n"), environ={}).reconcile.consumption_days == 30
    )
    path = write_config(
        """\
        reconcile:
          consumption_days: 14
          safety_stock:
            A-100: "50"
            B-200: {"*": "5", "1000": "20.5"}
        """
    )
    settings = load_config(path, environ={})

    policy = policy_from_settings(settings)

    assert policy.consumption_days == 14
    assert policy.safety_stock == {
        ("A-100", ""): Decimal(50),
        ("B-200", ""): Decimal(5),
        ("B-200", "1000"): Decimal("20.5"),
    }
    again = path.with_name("again.yaml")
    again.write_text(render_masked(settings), encoding="utf-8")
    assert load_config(again, environ={}).model_dump() == settings.model_dump()


def test_safety_stock_mistakes_are_located(write_config, problems_of) -> None:
    path = write_config(
        """\
        reconcile:
          consumption_days: 0
          safety_stock:
            C-1: 0.5
            D-1: {1000: "3"}
            E-1: "1.1234567"
            F-1: "-1"
        """
    )
    assert problems_of(path).splitlines() == [
        f"{path}, line 2: reconcile.consumption_days: expected a number greater "
        "than 0, found 0 (a number).",
        f"{path}, line 4: reconcile.safety_stock.C-1.*: expected a decimal number "
        'written as text, found 0.5 (a YAML float). Quote it, e.g. "0.5": '
        "unquoted, YAML reads it as a binary float, which cannot hold most "
        "decimals exactly.",
        f"{path}, line 5: reconcile.safety_stock.D-1[1000]: expected a code written "
        'as text, found 1000 (a number). Quote codes, e.g. "000123": unquoted, '
        "YAML reads them as numbers and drops leading zeros.",
        f"{path}, line 6: reconcile.safety_stock.E-1.*: expected a quantity with "
        "at most 6 decimals, found '1.1234567'.",
        f"{path}, line 7: reconcile.safety_stock.F-1.*: expected a number of at "
        "least 0, found '-1' (text).",
    ]
