"""Leaderboards from ``results/``: Markdown and a static HTML page, with verdicts and plots."""
