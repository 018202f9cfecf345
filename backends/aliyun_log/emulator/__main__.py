"""`python -m backends.aliyun_log.emulator`: the same as `hubfs emulate aliyun-log`."""

import sys

from . import main

sys.exit(main())
