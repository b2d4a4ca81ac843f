"""Admission webhook (issue 3)."""
