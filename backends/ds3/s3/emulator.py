"""`hubfs emulate s3`: the DS3 emulator in its plain S3 mode (see `backends.ds3.emulator`)."""

from hubfs.emulation import EmulatorSpec

from ..emulator import (DEMO_ACCESS_KEY, DEMO_APIKEY, DEMO_REGION, DEMO_SECRET_KEY,  # noqa: F401
                        remote_options)
from ..emulator import create_server as _create_server
from ..emulator import main as _main
from ..emulator import remote_toml as _remote_toml
from ..emulator.seed import SEEDS


def create_server(data="demo", port=0, **kwargs):
    return _create_server(data, port, mode="s3", **kwargs)


def remote_toml(name, url, apikey=DEMO_SECRET_KEY):
    return _remote_toml(name, url, apikey, mode="s3")


def main(argv=None):
    return _main(argv, mode="s3")


SPEC = EmulatorSpec(
    type="s3",
    create_server=create_server,
    remote_options=remote_options,
    datasets=tuple(sorted(SEEDS)),
    demo_paths=("books",),
    summary="plain S3 (path-style, SigV4 or V2, multipart): boto3 works against it",
)
