"""The stockbridge command line."""
