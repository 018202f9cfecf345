"""The `dataflowkit` backend: Dataflow Kit tasks, their processes and results files.

This module holds what configuration needs (`OPTIONS`) and the `Remote` entry point; the
client (`client.py`: the task API and results downloads) and the tree (`tree.py`) load
when a remote is built. See docs/backends/dataflowkit.md.
"""

import time

from hubfs import tree as node_tree
from hubfs.config import Option
from hubfs.errors import AccessDenied

OPTIONS = {
    "api_key": Option(str, required=True, secret=True, help="the Dataflow Kit API key"),
    "url": Option(str, default="https://api.dataflowkit.com/v1",
                  help="base URL of the API (with its /v1)"),
}


class Remote(node_tree.Remote):
    """One Dataflow Kit remote; *policy* (a `hubfs.http.RetryPolicy`) is for tests."""

    def __init__(self, name, options, policy=None):
        super().__init__(name, options)
        from . import client, tree

        kwargs = {} if policy is None else {"policy": policy}
        self.client = client.Client(name, options["api_key"],
                                    options.get("url") or OPTIONS["url"].default, **kwargs)
        self.site = tree.Site(self.client, name, time.time())

    def check(self):
        try:
            self.client.list_tasks()
        except AccessDenied as exc:
            raise AccessDenied(f"remote {self.name!r}: the service refused the API key "
                               f"({exc})") from None

    def root(self):
        from .tree import root

        return root(self.site)

    def close(self):
        self.client.close()
