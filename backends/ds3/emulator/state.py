"""Everything one DS3/S3 emulator holds: its store, bulk jobs, uploads, keys and dialect.

Tests reach it as `server.state` to seed objects, change how jobs are planned and released
(`state.jobs.settings`), or look at what a client left behind, without HTTP.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Optional

from .jobs import JobBoard, JobSettings
from .store import ObjectStore
from .xmlbodies import Dialect


@dataclass
class Upload:
    """One S3 multipart upload in progress: part number -> (path, size, etag, mtime)."""

    id: str
    bucket: str
    key: str
    started: float
    meta: dict
    content_type: Optional[str]
    parts: dict = field(default_factory=dict)


class Ds3State:
    def __init__(self, mode: str, credentials: dict, root: Optional[str] = None,
                 settings: Optional[JobSettings] = None, clock=time.time):
        self.dialect = Dialect(mode)
        self.mode = mode
        # access id -> secret key; tests may add or remove keys at any time.
        self.credentials = dict(credentials)
        self.store = ObjectStore(root, clock)
        self.jobs = JobBoard(self.store, settings)
        self.uploads: dict[str, Upload] = {}
        self.uploads_lock = threading.Lock()
        self.auth_required = True

    def new_upload(self, bucket: str, key: str, meta: dict, content_type: Optional[str]) -> Upload:
        upload = Upload(uuid.uuid4().hex, bucket, key, self.store.clock(), meta, content_type)
        with self.uploads_lock:
            self.uploads[upload.id] = upload
        return upload

    def close(self) -> None:
        self.store.close()
