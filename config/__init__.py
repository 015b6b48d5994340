"""The YAML config: models, loading, validation with errors that say where."""

from __future__ import annotations

from stockbridge.config.errors import ConfigError, ConfigProblem, validate_section
from stockbridge.config.loader import load_config, render_masked, starter_config
from stockbridge.config.models import Settings, SourceConfig

__all__ = [
    "ConfigError",
    "ConfigProblem",
    "Settings",
    "SourceConfig",
    "load_config",
    "render_masked",
    "starter_config",
    "validate_section",
]
