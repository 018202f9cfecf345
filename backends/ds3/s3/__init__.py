"""The `s3` backend: plain S3-compatible stores (AWS, MinIO, Ceph, moto...), SigV4.

Same tree as `ds3` (buckets, `/` in keys as folders); objects are read with ranged GETs
(the core reads ahead), written with one PUT or, above `multipart_threshold`, a multipart upload
with parallel parts of `part_size` bytes. Keys may come from `AWS_ACCESS_KEY_ID` and
`AWS_SECRET_ACCESS_KEY`.
"""

from hubfs.config import Option

from .. import Remote as Ds3Remote
from ..options import COMMON

OPTIONS = {
    **COMMON,
    "region": Option(str, default="us-east-1", help="the region signatures are scoped to"),
    "part_size": Option(int, default=16 * 1024 * 1024, help="bytes per multipart part (at least 5 MiB)"),
    "multipart_threshold": Option(int, default=16 * 1024 * 1024,
                                  help="files larger than this go up as multipart uploads"),
}


class Remote(Ds3Remote):
    dialect = "s3"

    def env_names(self):
        return (None, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")

    def make_transfer(self, options):
        from ..transfer import S3Transfer

        return S3Transfer(self.client, part_size=max(5 * 1024 * 1024, options.get("part_size") or 16 << 20),
                          threshold=options.get("multipart_threshold") or 16 << 20)
