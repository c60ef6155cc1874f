"""``python -m assortopt``: the same as the ``assortopt`` command."""

import sys

from .cli import main

sys.exit(main())
