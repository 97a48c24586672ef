"""``python -m mailadmin.cli``: the same as the ``mailadmin`` command."""

import sys

from mailadmin.cli import main

sys.exit(main())
