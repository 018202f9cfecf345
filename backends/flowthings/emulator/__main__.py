"""`python -m backends.flowthings.emulator`: run the flowthings emulator in the foreground."""

import sys

from . import main

sys.exit(main())
