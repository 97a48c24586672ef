"""Test support for plugin authors: the conformance kit (a pytest plugin)."""
