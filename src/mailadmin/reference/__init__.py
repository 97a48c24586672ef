"""The reference provider: a complete, tested plugin for a small made-up JSON platform.

``memory`` is what ``mailadmin demo`` drives when no platform plugin is installed, and
the example plugin authors copy:

- :mod:`mailadmin.reference.provider`: ``MemoryProvider``, its settings and plan mapping;
- :mod:`mailadmin.reference.mock`: the platform's mock (state, handlers, routes);
- :mod:`mailadmin.reference.plugin`: the registration hook;
- :mod:`mailadmin.reference.demo`: its part of ``mailadmin demo``.
"""
