"""systemd's readiness protocol (sd_notify), so a `Type=notify` unit is active only once
the mount is live.

The protocol is one datagram of `KEY=VALUE` lines to the AF_UNIX socket named in
`$NOTIFY_SOCKET` (a leading `@` means the abstract namespace). Outside systemd the
variable is unset and `notify()` does nothing. Eight lines do not justify a dependency
(`systemd-python` needs libsystemd headers to build; `sdnotify` is unmaintained).
"""

import os
import socket


def notify(message, environ=None):
    """Send *message* (e.g. "READY=1") to systemd; returns False when not under it."""
    address = (environ if environ is not None else os.environ).get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.sendto(message.encode(), address)
    return True
