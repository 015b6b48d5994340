"""The web room: JSON API, the planners' page, auth and metrics."""
