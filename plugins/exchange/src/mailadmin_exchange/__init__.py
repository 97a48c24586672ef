"""mailadmin provider for Microsoft Exchange Online (admin API ``InvokeCommand`` and Graph).

See ``README.md`` of the distribution ``mailadmin-exchange`` for settings and choices.
"""
