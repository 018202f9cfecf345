"""hubfs: mount data services (Scrapinghub, Aliyun Log Service, DS3/S3, flowthings,
Dataflow Kit) as an ordinary directory tree through FUSE."""

__version__ = "0.1.0"
