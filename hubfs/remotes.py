"""Open the configured remotes through the backend registry and build the mount's root.

With several remotes the root holds one directory per remote; with `--remote NAME` (or
a single remote asked for by name) that remote's tree is the root itself.
"""

import time

import backends
from hubfs import errors
from hubfs.tree import StaticDir


def open_remotes(config, only=None):
    """Return {name: Remote} for the configured remotes (just *only* when given)."""
    remotes = {}
    policy = config.retry_policy()
    for name, remote_config in config.remotes.items():
        if only and name != only:
            continue
        module = backends.load(remote_config.type)
        remotes[name] = module.Remote(name, remote_config.options, policy=policy)
    return remotes


def check_all(remotes):
    """Make each remote prove its credentials; raise naming the remote that failed."""
    for name, remote in remotes.items():
        try:
            remote.check()
        except errors.HubfsError as exc:
            raise type(exc)(f"remote {name!r}: {exc}") from None


def mount_root(remotes, only=None):
    """The node shown at the mountpoint."""
    if only:
        return remotes[only].root()
    roots = []
    for name, remote in remotes.items():
        root = remote.root()
        root.name = name  # the remote's directory is named after its config table
        roots.append(root)
    return StaticDir("", roots, mtime=time.time())
