"""`python -m backends.scrapinghub.emulator`: run the Scrapinghub emulator in the foreground."""

import sys

from . import main

sys.exit(main())
