"""mailadmin-zextras: the Zextras / Carbonio provider for mailadmin, with a mock of the
Zimbra admin SOAP API (JSON and XML forms) and of the Zextras licence request.

``mailadmin_zextras.provider.ZextrasProvider`` is the provider (registered as
``"zextras"``), ``mailadmin_zextras.mock.platform.ZextrasMock`` its mock,
``mailadmin_zextras/sample.toml`` a sample configuration.
"""

__version__ = "0.1.0"
