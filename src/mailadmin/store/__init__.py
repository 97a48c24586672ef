"""Durable state: the journal of every write."""
