"""Orchestration: routing, validation, bulk runs, configuration, registry, blocking facade."""
