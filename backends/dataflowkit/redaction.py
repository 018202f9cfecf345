"""Keeps the API key out of debug logs.

Dataflow Kit takes its key only as the `api_key` query parameter, and urllib3 logs every
request line (with its query) at DEBUG, which `hubfs mount -v` turns on. This filter,
installed on urllib3's connection-pool logger when a client is made, replaces the key's
value in those lines before any handler sees them.
"""

import logging
import re

_KEY = re.compile(r"(api_key=)[^&\s\"']+")


class RedactApiKey(logging.Filter):
    def filter(self, record):
        message = record.getMessage()
        if "api_key=" in message:
            record.msg, record.args = _KEY.sub(r"\1REDACTED", message), ()
        return True


def install():
    logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, RedactApiKey) for f in logger.filters):
        logger.addFilter(RedactApiKey())
