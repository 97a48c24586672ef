"""mailadmin-ox: the OX App Suite provider for mailadmin, with a mock of OX's SOAP API.

``mailadmin_ox.provider.OXProvider`` is the provider (registered as ``"ox"``),
``mailadmin_ox.mock.platform.OXMock`` its mock, ``mailadmin_ox/sample.toml`` a sample
configuration.
"""

__version__ = "0.1.0"
