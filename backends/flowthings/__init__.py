"""The `flowthings` backend: a flowthings.io account's flows as directories, drops as JSON lines.

This module holds what configuration needs (`OPTIONS`) and the `Remote` entry point; the
client (`client.py`: the platform API), the tree (`tree.py`: flows as directories,
`flow.json`, `drops.jl`) and the drop line rules (`drop_lines.py`) load when a remote is
built. See docs/backends/flowthings.md.
"""

import time

from hubfs import tree as node_tree
from hubfs.config import Option
from hubfs.errors import AccessDenied

OPTIONS = {
    "account": Option(str, required=True, help="the flowthings account (user) name"),
    "token": Option(str, required=True, secret=True,
                    help="a token string of the account (X-Auth-Token)"),
    "version": Option(str, default="4.0", help='the platform API version, "0.1" or "4.0"'),
    "url": Option(str, default="https://api.flowthings.io",
                  help="scheme and host of the platform API"),
}


class Remote(node_tree.Remote):
    """One flowthings remote; *policy* (a `hubfs.http.RetryPolicy`) is for tests."""

    def __init__(self, name, options, policy=None):
        super().__init__(name, options)
        from . import client, tree

        kwargs = {} if policy is None else {"policy": policy}
        self.client = client.Client(name, options.get("url") or OPTIONS["url"].default,
                                    options["account"], options["token"],
                                    str(options.get("version") or OPTIONS["version"].default),
                                    **kwargs)
        self.site = tree.Site(self.client, name, time.time())

    def check(self):
        try:
            self.client.check()
        except AccessDenied as exc:
            raise AccessDenied(f"remote {self.name!r}: the service refused the token for "
                               f"account {self.options['account']!r} ({exc})") from None

    def root(self):
        from .tree import FlowDir

        return FlowDir(self.site, f"/{self.client.account}", None, self.name)

    def close(self):
        self.client.close()
