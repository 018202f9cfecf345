"""Keeps credentials out of every log line, whichever library writes it.

Some services take their key in the query string (`api_key=`, presigned URLs'
`Signature=`/`X-Amz-Signature=`), and urllib3 logs each request line with its query at
DEBUG, which `hubfs mount -v` turns on. `install()` puts one filter on the handlers'
path (the root logger's handlers and urllib3's logger) that replaces the value of any
query parameter whose name says it is a secret, before a handler formats the line.
Backends need do nothing: the rule lives here once.
"""

import logging
import re

SECRET_PARAMS = ("api_key", "apikey", "access_token", "token", "secret", "password",
                 "signature", "x-amz-signature", "x-amz-credential", "x-amz-security-token",
                 "awsaccesskeyid", "accesskeyid")
_PARAM = re.compile(r"(?i)([?&](?:%s)=)[^&\s\"']+" % "|".join(re.escape(p) for p in SECRET_PARAMS))


def redact(text):
    """*text* with the values of secret-looking query parameters replaced."""
    return _PARAM.sub(r"\1REDACTED", text)


class RedactSecrets(logging.Filter):
    def filter(self, record):
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def install(*handlers):
    """Filter urllib3's request lines and everything that reaches *handlers*."""
    for target in (logging.getLogger("urllib3.connectionpool"), *handlers):
        if not any(isinstance(f, RedactSecrets) for f in target.filters):
            target.addFilter(RedactSecrets())
