"""`python -m hubfs` is the `hubfs` command."""

import sys

from hubfs.cli import main

sys.exit(main())
