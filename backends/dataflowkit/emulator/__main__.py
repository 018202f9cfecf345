"""`python -m backends.dataflowkit.emulator`: run the Dataflow Kit emulator in the foreground."""

import sys

from . import main

sys.exit(main())
