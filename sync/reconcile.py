"""From the `reconcile:` config to a rebuilt consolidated table."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine

from stockbridge.config.models import Settings
from stockbridge.config.policy_sections import ALL_SITES
from stockbridge.store.consolidation import (
    ConsolidationPolicy,
    ConsolidationResult,
    OwnerRule,
    consolidate,
)

__all__ = ["policy_from_settings", "reconcile"]


def policy_from_settings(settings: Settings) -> ConsolidationPolicy:
    """The consolidation policy the config declares."""
    config = settings.reconcile
    return ConsolidationPolicy(
        owners=tuple(
            OwnerRule(
                source=rule.source,
                sites=tuple(rule.site),
                warehouses=tuple(rule.warehouse),
                statuses=tuple(status.value for status in rule.status),
            )
            for rule in config.system_of_record
        ),
        priority=tuple(config.priority),
        freshest=config.fallback == "freshest",
        absolute_tolerance=config.tolerance.absolute,
        relative_tolerance=config.tolerance.relative,
        consumption_days=config.consumption_days,
        safety_stock={
            (material, "" if site == ALL_SITES else site): quantity
            for material, sites in config.safety_stock.items()
            for site, quantity in sites.items()
        },
    )


def reconcile(
    engine: Engine,
    settings: Settings,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ConsolidationResult:
    """Rebuild the consolidated stock table and its conflicts now."""
    return consolidate(engine, policy_from_settings(settings), now=clock())
