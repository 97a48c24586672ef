"""Mailcow provider for mailadmin, with a stateful mock server of its admin API."""
