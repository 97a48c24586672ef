"""The OX mock: state and rules (``state``), wire format (``codec``, ``wsdl``), handlers
and routes (``handlers``, ``platform``). Start with :class:`~.platform.OXMock`."""
