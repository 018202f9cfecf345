"""The s3 backend's harness for the contract suite: the DS3 emulator in plain S3 mode
(see `ds3.py` for the seed)."""

from tests.contract.harnesses.ds3 import harness

HARNESS = harness("s3")
