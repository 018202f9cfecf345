"""`mount.hubfs` and `umount.hubfs`: hubfs mounted the way other filesystems are.

mount(8) runs `/sbin/mount.<type> SOURCE MOUNTPOINT [-n] [-v] -o OPTIONS` for an fstab
line or `mount -t <type>`; with the type `fuse.hubfs` it looks for
`/sbin/mount.fuse.hubfs` (a link to this `mount.hubfs`, see docs/mounting.md). SOURCE
names the remote to mount (`hubfs` or `none`: every remote of the config). The options
are fstab style and checked here, an unknown one refused with the list of known ones:
`config=PATH`, `remote=NAME`, `cache_dir=PATH`, `log_file=PATH`, `ro`/`rw`, `allow_other`,
`debug`; what mount(8), mount.fuse3 or systemd add and hubfs has nothing to do with
(`_netdev`, `nofail`, `noauto`, `x-systemd.*`, `dev`/`suid`: a FUSE mount is always
nodev,nosuid, ...) is ignored. The mount is made by the same daemon start as `hubfs
mount`, so the command returns once the mount is live, or fails with the reason.

umount(8) of a `fuse.*` type looks only for `/sbin/umount.fuse` (never a helper named
after the subtype), with MOUNTPOINT and its flags: `umount.hubfs` installed there unmounts
a hubfs mount as `hubfs umount` does (waiting until its daemon has sent every pending
upload) and hands any other FUSE mount to `umount -i` unchanged.
"""

import os
import sys

from hubfs import errors

USAGE = "usage: mount.hubfs SOURCE MOUNTPOINT [-n] [-v] [-o OPTION[,OPTION...]]"
VALUE_OPTIONS = ("config", "remote", "cache_dir", "log_file")
FLAG_OPTIONS = ("ro", "rw", "allow_other", "debug")
# Options of mount(8), mount.fuse3 and systemd that mean nothing to hubfs.
IGNORED = frozenset(("_netdev", "defaults", "auto", "noauto", "nofail", "user", "users",
                     "nouser", "owner", "group", "dev", "nodev", "suid", "nosuid", "exec",
                     "noexec", "atime", "noatime", "relatime", "strictatime", "diratime",
                     "nodiratime", "lazytime", "nolazytime", "async", "silent", "loud"))
IGNORED_PREFIXES = ("x-", "comment=")
ALL_SOURCES = ("hubfs", "none", "all")

EXIT_USAGE = 1  # mount(8) helper conventions
EXIT_FAILURE = 32


class Usage(Exception):
    pass


def parse_options(text):
    """`-o` text -> {name: value or True}; raises `Usage` naming an unknown option."""
    options = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, has_value, value = item.partition("=")
        if item in IGNORED or item.startswith(IGNORED_PREFIXES):
            continue
        if name in VALUE_OPTIONS:
            if not has_value or not value:
                raise Usage(f"option {name!r} needs a value ({name}=...)")
            options[name] = value
        elif name in FLAG_OPTIONS and not has_value:
            options[name] = True
        else:
            known = ", ".join([f"{o}=" for o in VALUE_OPTIONS] + list(FLAG_OPTIONS))
            raise Usage(f"unknown mount option {item!r} (hubfs knows {known}; "
                        f"ignores _netdev, nofail, noauto, x-*, ...)")
    if options.get("ro") and options.get("rw"):
        raise Usage("options 'ro' and 'rw' contradict each other")
    return options


def parse_args(argv):
    """mount(8)'s helper calling convention -> (source, mountpoint, options)."""
    positional, texts = [], []
    args = iter(argv)
    for arg in args:
        if arg == "-o":
            try:
                texts.append(next(args))
            except StopIteration:
                raise Usage("-o needs options") from None
        elif arg.startswith("-o"):
            texts.append(arg[2:])
        elif arg == "-t":
            next(args, None)  # the type mount(8) passes back: ours by definition
        elif arg in ("-n", "-v", "-s", "-f", "-r", "-w"):
            if arg == "-r":
                texts.append("ro")
            elif arg == "-w":
                texts.append("rw")
        elif arg.startswith("-"):
            raise Usage(f"unknown flag {arg!r}")
        else:
            positional.append(arg)
    if len(positional) != 2:
        raise Usage(USAGE)
    return positional[0], positional[1], parse_options(",".join(texts))


def main(argv=None):
    """`mount.hubfs SOURCE MOUNTPOINT -o OPTIONS`; returns mount(8)'s exit codes."""
    from hubfs import daemon
    from hubfs.cli import DEFAULT_CONFIG
    from hubfs.config import load

    argv = sys.argv[1:] if argv is None else argv
    try:
        source, mountpoint, options = parse_args(argv)
    except Usage as exc:
        print(f"mount.hubfs: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        config_path = options.get("config", DEFAULT_CONFIG)
        config = load(config_path)
        if "cache_dir" in options:
            config.cache_dir = os.path.abspath(options["cache_dir"])
        remote = options.get("remote") or (None if source in ALL_SOURCES else source)
        if remote is not None and remote not in config.remotes:
            raise errors.ConfigError(f"no remote {remote!r} in {config_path} (have: "
                                     f"{', '.join(config.remotes)}); name one as SOURCE or "
                                     "remote=, or use SOURCE hubfs for all of them")
        return daemon.mount(config, mountpoint, read_only=bool(options.get("ro")), only=remote,
                            log_file=options.get("log_file"), debug=bool(options.get("debug")),
                            allow_other=bool(options.get("allow_other")))
    except errors.HubfsError as exc:
        print(f"mount.hubfs: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def mount_type(mountpoint):
    """The filesystem type of the mount at *mountpoint* (`fuse.hubfs`...), or None."""
    from hubfs.fuse.mount import decode_mount_path

    target = os.path.realpath(mountpoint)
    found = None
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            fields = line.split()
            if len(fields) > 4 and decode_mount_path(fields[4]) == target and " - " in line:
                found = line.split(" - ", 1)[1].split()[0]  # the last mount there wins
    return found


def umount_main(argv=None):
    """`umount.hubfs MOUNTPOINT [flags]`, also installable as `/sbin/umount.fuse`."""
    from hubfs import daemon

    argv = sys.argv[1:] if argv is None else argv
    targets, flags = [], []
    args = iter(argv)
    for arg in args:
        if arg == "-t":  # umount(8) passes the type along: `-t fuse.hubfs`
            flags += [arg, next(args, "")]
        elif arg.startswith("-"):
            flags.append(arg)
        else:
            targets.append(arg)
    if len(targets) != 1:
        print("usage: umount.hubfs MOUNTPOINT [-n] [-v] [-l] [-f]", file=sys.stderr)
        return EXIT_USAGE
    mountpoint = targets[0]
    if mount_type(mountpoint) != "fuse.hubfs" or "-l" in flags or "-f" in flags:
        # Not ours, or a lazy/forced unmount the user asked for: the kernel's plain one.
        os.execvp("umount", ["umount", "-i", *flags, mountpoint])
    _find_runtime_dir(mountpoint)
    try:
        return daemon.umount(mountpoint)
    except errors.HubfsError as exc:
        print(f"umount.hubfs: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def _find_runtime_dir(mountpoint):
    """Point `XDG_RUNTIME_DIR` at the runtime directory holding the mount's state file.

    umount(8) runs with the caller's environment, which need not be the mount's: a root
    login shell has `XDG_RUNTIME_DIR=/run/user/0`, a mount made at boot or by systemd has
    none (`/tmp/hubfs-0`). Without the state file `hubfs umount` could unmount but not
    wait for the daemon, so the usual places are tried in turn.
    """
    from hubfs.runtime import read_state

    original = os.environ.get("XDG_RUNTIME_DIR")
    for candidate in (original, None, f"/run/user/{os.getuid()}"):
        if candidate is None:
            os.environ.pop("XDG_RUNTIME_DIR", None)
        elif os.path.isdir(candidate):
            os.environ["XDG_RUNTIME_DIR"] = candidate
        else:
            continue
        try:
            if read_state(mountpoint) is not None:
                return
        except errors.HubfsError:  # an unsafe runtime directory there: not ours to use
            continue
    if original is None:
        os.environ.pop("XDG_RUNTIME_DIR", None)
    else:
        os.environ["XDG_RUNTIME_DIR"] = original
