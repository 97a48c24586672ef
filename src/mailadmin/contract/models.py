"""Moved to :mod:`mailadmin.models` (the bottom of the layers); kept so old imports work."""

from mailadmin.models import *  # noqa: F403
from mailadmin.models import Name as Name
from mailadmin.models import __all__ as __all__
