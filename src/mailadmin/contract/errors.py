"""Moved to :mod:`mailadmin.errors` (the bottom of the layers); kept so old imports work."""

from mailadmin.errors import *  # noqa: F403
from mailadmin.errors import __all__ as __all__
