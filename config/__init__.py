"""The YAML config: models, loading, validation with errors that say where."""
