"""The central store: the only place that speaks SQL to the central database."""
