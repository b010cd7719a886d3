"""`python -m workshop.cli`: the same command as `workshop` (tests and the bench run it so)."""

import sys

from workshop.cli import main

sys.exit(main())
