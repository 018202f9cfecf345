"""`python -m backends.ds3.emulator`: run the DS3/S3 emulator in the foreground."""

import sys

from . import main

sys.exit(main())
