"""The `aliyun-log` backend: Alibaba Cloud Log Service (SLS) logstores as hourly files.

This module holds only what configuration validation needs (`OPTIONS`) and the `Remote`
entry point; the HTTP client, decoders and tree are imported when a remote is built.
The tree is described in `tree.py`, the hour-file format in `render.py`, appending in
`appending.py`, the API calls in `client.py` (signing in `signing.py`), parallel pulls in
`pulling.py` and the render threads in `decoding.py` (the C renderer is `_jsonlines.c`);
`wire/` holds the protobuf schema shared with the emulator.
"""

import time

from hubfs import tree as node_tree
from hubfs.config import FSTAT_DURING_RENDER, Option, fstat_during_render
from hubfs.errors import AccessDenied, ConfigError, HubfsError

OPTIONS = {
    "endpoint": Option(str, required=True,
                       help="the region's endpoint, e.g. cn-hangzhou.log.aliyuncs.com "
                            "(http:// unless https:// is given)"),
    "access_key_id": Option(str, required=True, help="the AccessKey ID"),
    "access_key_secret": Option(str, required=True, secret=True, help="the AccessKey secret"),
    "projects": Option(list, default=None,
                       help="project names to show instead of the key's project list "
                            "(keys without ListProject permission)"),
    "decode_workers": Option(int, default=None,
                             help="threads that decompress and render pulled logs besides "
                                  "the pulling ones (default: one per CPU, at most 4; 0 "
                                  "renders in the pulling threads)"),
    "fstat_during_render": FSTAT_DURING_RENDER,
}


class Remote(node_tree.Remote):
    """One Log Service remote; *policy* (a `hubfs.http.RetryPolicy`) is for tests."""

    def __init__(self, name, options, policy=None, clock=time.time):
        super().__init__(name, options)
        from . import client, decoding, tree

        projects = options.get("projects")
        if projects is not None and not all(isinstance(p, str) and p for p in projects):
            raise ConfigError(f"remote {name!r}: 'projects' must list project names")
        workers = options.get("decode_workers")
        if workers is not None and workers < 0:
            raise ConfigError(f"remote {name!r}: 'decode_workers' cannot be negative")
        fstat = fstat_during_render(name, options)
        kwargs = {} if policy is None else {"policy": policy}
        self.client = client.Client(name, options["endpoint"], options["access_key_id"],
                                    options["access_key_secret"], **kwargs)
        self.decoder = decoding.Decoder(workers)
        self.site = tree.Site(self.client, self.decoder, time.time(), projects, clock=clock,
                              fstat_during_render=fstat)

    def check(self):
        try:
            if self.site.projects:
                if self.client.get_project(self.site.projects[0]) is None:
                    raise ConfigError(f"remote {self.name!r}: project "
                                      f"{self.site.projects[0]!r} does not exist")
            else:
                self.client.list_projects()
        except AccessDenied as exc:
            raise AccessDenied(f"remote {self.name!r}: the service refused the access key "
                               f"({exc})") from None
        except HubfsError as exc:
            raise type(exc)(f"remote {self.name!r}: {exc}") from None

    def root(self):
        from .tree import RootDir

        return RootDir(self.site)

    def close(self):
        self.decoder.close()
        self.client.close()
