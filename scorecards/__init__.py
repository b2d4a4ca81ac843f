"""Scorecards, reports, dashboard and REST API (issue 5)."""
