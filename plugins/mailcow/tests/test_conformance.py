"""Every suite of the mailadmin conformance kit, against the Mailcow mock.

Suites added to the kit in later versions run here too. Add your own tests beside this
one; the ``mailadmin_harness`` fixture gives a provider talking to the mock in each mode.
"""

from mailadmin.testing import suite


class TestConformance(suite.ConformanceSuite):
    pass
