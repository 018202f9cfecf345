"""The `ds3` backend (Spectra S3 / BlackPearl) and, in `backends.ds3.s3`, plain `s3`.

Both show `<bucket>/<key path...>` (see `tree.py`). This module holds what configuration
validation needs (`OPTIONS`) and the `Remote` entry point. The S3 requests both services
share are in `client.py` (signatures in `signing.py`, XML in `xmlwire.py`); DS3's bulk
jobs in `bulk.py`; plain S3's multipart uploads in `multipart.py`; which of them a
remote uses in `transfer.py`.
"""

import time

from hubfs import tree as node_tree
from hubfs.config import Option
from hubfs.errors import AccessDenied

from .options import COMMON, resolve

OPTIONS = {
    **COMMON,
    "chunk_wait": Option(int, default=600,
                         help="seconds a transfer may wait in all for bulk job chunks to become ready"),
}

ENV = ("DS3_ENDPOINT", "DS3_ACCESS_KEY", "DS3_SECRET_KEY")


class Remote(node_tree.Remote):
    """One DS3 appliance; *policy* (a `hubfs.http.RetryPolicy`) is for tests."""

    dialect = "ds3"

    def __init__(self, name, options, policy=None):
        super().__init__(name, options)
        from .client import ObjectClient

        endpoint, access, secret = resolve(name, options, self.env_names())
        self.client = ObjectClient(name, endpoint, access, secret, self.dialect,
                                   region=options.get("region") or "us-east-1", policy=policy)
        self.transfer = self.make_transfer(options)
        self.started = time.time()

    def env_names(self):
        return ENV

    def make_transfer(self, options):
        from .transfer import Ds3Transfer

        return Ds3Transfer(self.client, chunk_wait=float(options.get("chunk_wait") or 600))

    def check(self):
        try:
            buckets = self.options.get("buckets")
            if buckets:
                for bucket in buckets:
                    self.client.bucket_exists(bucket)
            else:
                self.client.list_buckets()
        except AccessDenied as exc:
            raise AccessDenied(f"the service refused the access key or secret key ({exc})") from None

    def root(self):
        from .tree import Buckets

        return Buckets(self.transfer, self.started, self.options.get("buckets"))

    def close(self):
        self.transfer.close()
        self.client.close()
