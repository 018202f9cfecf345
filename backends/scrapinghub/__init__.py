"""The `scrapinghub` backend: Scrapy Cloud projects, spiders and jobs as directories.

This module holds only what configuration validation needs (`OPTIONS`) and the `Remote`
entry point; the HTTP client and the node tree are imported when a remote is built, so
validating a config file does not load `requests` or `msgpack`. The tree is described in
`tree.py` (its writable parts in `stores.py`, `frontier.py` and `tags.py`), the file
formats in `render.py`, written content checks in `validation.py`, name escaping in
`hubfs/names.py`, the API calls in `client.py`, `collections_api.py` and `frontier_api.py`.
"""

import time

from hubfs import tree as node_tree
from hubfs.config import FSTAT_DURING_RENDER, Option, fstat_during_render
from hubfs.errors import AccessDenied, ConfigError, HubfsError

OPTIONS = {
    "apikey": Option(str, required=True, secret=True,
                     help="the Scrapy Cloud API key"),
    "app_url": Option(str, default="https://app.zyte.com/api/",
                      help="base URL of the Dash (app) API"),
    "storage_url": Option(str, default="https://storage.scrapinghub.com/",
                          help="base URL of the storage API"),
    "projects": Option(list, default=None,
                       help="project ids to show instead of the key's project list "
                            "(admin keys list none)"),
    "fstat_during_render": FSTAT_DURING_RENDER,
}


class Remote(node_tree.Remote):
    """One Scrapinghub remote; *policy* (a `hubfs.http.RetryPolicy`) is for tests."""

    def __init__(self, name, options, policy=None):
        super().__init__(name, options)
        from . import client, tree as sh_tree

        projects = options.get("projects")
        if projects is not None:
            try:
                projects = [int(str(p)) for p in projects]
            except ValueError:
                raise ConfigError(f"remote {name!r}: 'projects' must list project ids "
                                  "(numbers)") from None
        kwargs = {} if policy is None else {"policy": policy}
        self.client = client.Client(
            name, options["apikey"],
            options.get("app_url") or OPTIONS["app_url"].default,
            options.get("storage_url") or OPTIONS["storage_url"].default,
            **kwargs)
        # One start time per remote: directories without a service time show it, and it
        # must not change between two stat calls.
        self.started = time.time()
        self.site = sh_tree.Site(self.client, self.started, projects,
                                 fstat_during_render=fstat_during_render(name, options))

    def check(self):
        try:
            self.client.list_projects()
            if self.site.projects:
                # The project list came from the config, so nothing has touched the
                # storage host yet: a wrong storage URL would otherwise fail at first use.
                try:
                    self.client.check_storage(self.site.projects[0])
                except AccessDenied:
                    raise
                except HubfsError as exc:
                    raise type(exc)(f"remote {self.name!r}: the storage API at "
                                    f"{self.client.storage_url} failed a first request "
                                    f"({exc})") from None
        except AccessDenied as exc:
            raise AccessDenied(f"remote {self.name!r}: the service refused the API key "
                               f"({exc})") from None

    def root(self):
        from .tree import RootDir

        return RootDir(self.site)

    def close(self):
        self.client.close()
