"""What a plugin implements: models, errors, capabilities, the Provider base, settings, hooks."""
