"""Headless runs: notebooks through papermill, quality gates and summary.json."""
