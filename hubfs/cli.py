"""The `hubfs` command: mount, umount, ls, cat, emulate, demo, version.

`hubfs mount` validates the config, then forks a daemon that opens the remotes, checks
their credentials and mounts; the command returns only once the mount is live, or with
the daemon's error (the remote and the reason), so a refused key never leaves a dead
mountpoint. `--foreground` runs the same steps attached to the terminal. `hubfs ls` and
`hubfs cat` walk the same node tree without FUSE, for scripts and debugging.
"""

import argparse
import logging
import os
import sys

from hubfs import __version__, errors
from hubfs.config import load as load_config

log = logging.getLogger("hubfs")

DEFAULT_CONFIG = os.environ.get("HUBFS_CONFIG") or os.path.expanduser("~/.config/hubfs/hubfs.toml")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except errors.HubfsError as exc:
        print(f"hubfs: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, errors.ConfigError) else 1
    except KeyboardInterrupt:
        return 130


def build_parser():
    parser = argparse.ArgumentParser(prog="hubfs", description="Mount data services as directories.")
    sub = parser.add_subparsers(metavar="COMMAND")

    def add(name, func, help_text):
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(func=func)
        return command

    def config_option(command):
        command.add_argument("--config", default=DEFAULT_CONFIG,
                             help=f"TOML config file (default {DEFAULT_CONFIG}, or $HUBFS_CONFIG)")

    mount = add("mount", cmd_mount, "mount the configured remotes at MOUNTPOINT")
    config_option(mount)
    mount.add_argument("mountpoint")
    mount.add_argument("--foreground", "-f", action="store_true", help="stay attached; log to stderr")
    mount.add_argument("--read-only", action="store_true", help="refuse every write at open (EROFS)")
    mount.add_argument("--cache-dir", help="disk cache directory (default from config, ~/.cache/hubfs)")
    mount.add_argument("--remote", help="mount just this remote at the mountpoint")
    mount.add_argument("--allow-other", action="store_true",
                       help="let every local user into the mount (default: only you)")
    mount.add_argument("--log-file", help="daemon log file (default <cache-dir>/logs/<mount>.log)")
    mount.add_argument("--deadline", type=float, default=None,
                       help="seconds a call may wait on a service, retries included "
                            "(default from config, 30)")
    mount.add_argument("-v", "--debug", action="store_true", help="log every request and operation")

    umount = add("umount", cmd_umount, "unmount MOUNTPOINT and wait for its daemon to finish")
    umount.add_argument("mountpoint")
    umount.add_argument("--timeout", type=float, default=120.0, help="seconds to wait (default 120)")
    umount.add_argument("--lazy", "-z", action="store_true",
                        help="detach now even if files are open there; the mount ends when "
                             "they are closed")

    status = add("status", cmd_status, "show live mounts and files not yet sent")
    status.add_argument("--config", default=None,
                        help="also show what is pending in this config's cache directory")
    status.add_argument("--json", action="store_true", help="print one JSON document")

    for name, func, text in (("ls", cmd_ls, "list REMOTE:PATH without mounting"),
                             ("cat", cmd_cat, "print the file REMOTE:PATH without mounting")):
        command = add(name, func, text)
        config_option(command)
        command.add_argument("target", metavar="REMOTE:PATH")
        command.add_argument("-v", "--debug", action="store_true")

    cp = add("cp", cmd_cp, "copy the file REMOTE:PATH to DEST without mounting")
    config_option(cp)
    cp.add_argument("target", metavar="REMOTE:PATH")
    cp.add_argument("dest", metavar="DEST", help="a file name, or a directory to copy into")
    cp.add_argument("-v", "--debug", action="store_true")

    emulate = add("emulate", cmd_emulate, "run a local emulator of a service in the foreground")
    emulate.add_argument("type", help="backend type, e.g. scrapinghub")
    emulate.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free)")
    emulate.add_argument("--data", default="demo", help="seed data set (demo, bench, ...)")
    emulate.add_argument("--name", default=None, help="remote name in the printed TOML")
    emulate.add_argument("--toml-file", default=None, help="also write the remote's TOML here (0600)")
    emulate.add_argument("-v", "--debug", action="store_true")

    demo = add("demo", cmd_demo, "start the emulators, mount them and show the tree")
    demo.add_argument("--mountpoint", default=None, help="where to mount (default /tmp/hubfs-demo)")
    demo.add_argument("--stop", action="store_true", help="unmount the demo and stop its emulators")

    add("version", lambda args: print(f"hubfs {__version__}"), "print the version")
    return parser


def setup_logging(debug, stream=None, filename=None):
    handler = logging.FileHandler(filename) if filename else logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    from hubfs import redaction

    redaction.install(handler)  # no key in a log line, whoever writes it
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    # urllib3 logs each retry at WARNING with the full URL; our own line says it better.
    logging.getLogger("urllib3").setLevel(logging.DEBUG if debug else logging.ERROR)


# -- mount / umount --------------------------------------------------------------------


def cmd_mount(args):
    from hubfs import daemon

    config = load_config(args.config)
    if args.cache_dir:
        config.cache_dir = os.path.abspath(args.cache_dir)
    if args.deadline is not None:
        if args.deadline <= 0:
            raise errors.ConfigError("--deadline must be a positive number of seconds")
        config.deadline = args.deadline
    if args.remote and args.remote not in config.remotes:
        raise errors.ConfigError(f"--remote {args.remote}: no such remote in {args.config} "
                                 f"(have: {', '.join(config.remotes)})")
    return daemon.mount(config, args.mountpoint, foreground=args.foreground,
                        read_only=args.read_only, only=args.remote,
                        log_file=args.log_file, debug=args.debug, allow_other=args.allow_other)


def cmd_umount(args):
    from hubfs import daemon

    return daemon.umount(args.mountpoint, timeout=args.timeout, lazy=args.lazy)


def cmd_status(args):
    import json

    from hubfs import daemon, stats
    from hubfs.cache.spool import entry_path

    mounts = daemon.live_mounts()
    cache_dirs = dict.fromkeys(state.get("cache_dir") for state in mounts)
    if args.config:
        cache_dirs.setdefault(load_config(args.config).cache_dir, None)
    document = {
        "mounts": [dict(state, live=stats.read(state.get("stats"))) for state in mounts],
        "pending": [dict(entry, cache_dir=cache_dir, where=entry_path(entry))
                    for cache_dir in filter(None, cache_dirs)
                    for entry in daemon.pending_entries(cache_dir)],
        "set_aside": [dict(entry, cache_dir=cache_dir) for cache_dir in filter(None, cache_dirs)
                      for entry in daemon.broken_entries(cache_dir)],
    }
    try:
        if args.json:
            print(json.dumps(document, indent=2, sort_keys=True))
        else:
            print_status(document)
    except BrokenPipeError:  # `hubfs status | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def print_status(document):
    for state in document["mounts"]:
        print(f"mounted {state['mountpoint']}: remotes {', '.join(state['remotes'])}, "
              f"daemon pid {state['pid']}, log {state.get('log')}")
        print_live(state.get("live"))
    if not document["mounts"]:
        print("no hubfs mounts")
    for entry in document["pending"]:
        reason = f": {entry['last_error']}" if entry.get("last_error") else ""
        print(f"pending {entry['where']} ({entry['size']} bytes, "
              f"{entry['attempts']} failed attempt(s){reason}) in {entry['cache_dir']}")
    if not document["pending"]:
        print("nothing pending: every written file was sent")
    for entry in document["set_aside"]:
        print(f"set aside {entry['where']}: {entry['reason']} (data kept in "
              f"{entry['data'] or 'nowhere: it was missing'}) in {entry['cache_dir']}")


def print_live(live):
    """The live figures of one mount (see `hubfs.stats`), indented under it."""
    if not live:
        print("  (no live figures yet)")
        return
    for name, figures in sorted(live.get("remotes", {}).items()):
        errors_by_class = ", ".join(f"{cls} {n}" for cls, n in
                                    sorted(figures.get("errors_by_class", {}).items()))
        print(f"  {name}: {figures.get('requests', 0)} requests, {figures.get('retries', 0)} "
              f"retries, {figures.get('errors', 0)} errors"
              + (f" ({errors_by_class})" if errors_by_class else "")
              + f"; fetched {human_bytes(figures.get('bytes_fetched', 0))}, sent "
              f"{human_bytes(figures.get('bytes_sent', 0))}; cache {figures.get('cache_hits', 0)} "
              f"hits, {figures.get('cache_misses', 0)} misses")
    print(f"  uploads pending: {live.get('uploads_pending', 0)}")
    for activity in live.get("activities", []):
        done = activity["records_done"]
        expected = activity.get("records_expected")
        records = (f"{done:,} of {expected:,} records" if expected else
                   f"{done:,} records" if done else "")
        print(f"  {activity['kind']} {activity['path']}: "
              + ", ".join(filter(None, [records, human_bytes(activity["bytes_done"]),
                                        f"{activity['seconds']:.0f}s"])))


def human_bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


# -- ls / cat --------------------------------------------------------------------------


def resolve(args):
    """Open the remote named in REMOTE:PATH and walk to the node at PATH."""
    from hubfs.remotes import open_remotes

    setup_logging(args.debug)
    config = load_config(args.config)
    remote_name, _, path = args.target.partition(":")
    if remote_name not in config.remotes:
        raise errors.ConfigError(f"{args.target}: no remote {remote_name!r} in {args.config}")
    remote = open_remotes(config, only=remote_name)[remote_name]
    node = remote.root()
    for part in [p for p in path.split("/") if p]:
        if not node.is_dir:
            raise errors.NotFound(f"{args.target}: {node.name!r} is not a directory")
        node = node.child(part)
    return remote, node


def cmd_ls(args):
    remote, node = resolve(args)
    try:
        if not node.is_dir:
            print(node.name)
            return 0
        for child in node.children():
            print(child.name + ("/" if child.is_dir else ""))
    except BrokenPipeError:
        pass
    finally:
        remote.close()
    return 0


def cmd_cat(args):
    remote, node = resolve(args)
    out = sys.stdout.buffer
    try:
        if node.is_dir:
            raise errors.InvalidContent(f"{args.target}: is a directory")
        # A bar on the terminal while the output goes to a file; never mixed into output
        # shown on that terminal, never in a pipeline's or a script's stderr.
        with progress_bar(args.target, sys.stderr.isatty() and not sys.stdout.isatty()) as bar:
            copy_node(node, args.target, out, bar, cached_copy(args.config, node))
        out.flush()
    except BrokenPipeError:
        pass
    finally:
        remote.close()
    return 0


def cmd_cp(args):
    """Copy a file out of a remote: written to DEST.part, renamed once complete, so a
    failure never leaves a short DEST behind."""
    remote, node = resolve(args)
    try:
        if node.is_dir:
            raise errors.InvalidContent(f"{args.target}: is a directory (hubfs cp copies files)")
        dest = args.dest
        if os.path.isdir(dest):
            dest = os.path.join(dest, node.name)
        partial = dest + ".part"
        try:
            with open(partial, "wb") as out, progress_bar(args.target, sys.stderr.isatty()) as bar:
                copy_node(node, args.target, out, bar, cached_copy(args.config, node))
            os.replace(partial, dest)
        except BaseException:
            try:
                os.unlink(partial)
            except FileNotFoundError:
                pass
            raise
    finally:
        remote.close()
    return 0


def progress_bar(what, shown):
    """A byte-counting tqdm bar on stderr (a no-op object when not *shown*)."""
    from tqdm import tqdm

    return tqdm(desc=what.rpartition("/")[2] or what, unit="B", unit_scale=True,
                unit_divisor=1024, disable=not shown, file=sys.stderr, leave=False)


def cached_copy(config_path, node):
    """The path of *node*'s bytes in the disk cache, when a mount or an fsspec user of the
    same cache directory rendered them already (a finished job's file), else None."""
    from hubfs.cache.content import ContentCache
    from hubfs.tree import Kind

    key = node.cache_key() if node.immutable and node.kind is Kind.RENDERED else None
    if not key:
        return None
    config = load_config(config_path)
    cache = ContentCache(config.cache_dir, config.cache_max_bytes)
    try:
        hit = cache.lookup(key)
    finally:
        cache.close()
    return hit[0] if hit else None


def copy_node(node, where, out, bar, cached=None):
    """Write the bytes of file *node* (or of the *cached* copy of them) to *out*,
    updating *bar*; a read that comes back short before the size the service gave is an
    error, never a short copy."""
    from hubfs.cache.rendering import read_exact
    from hubfs.tree import Kind

    if cached is not None:
        with open(cached, "rb") as src:
            bar.reset(total=os.fstat(src.fileno()).st_size)
            for block in iter(lambda: src.read(1 << 20), b""):
                out.write(block)
                bar.update(len(block))
        return
    if node.kind is Kind.SIZED:
        bar.reset(total=node.size)
        offset, version = 0, node.version  # one copy, one version of the object
        while offset < node.size:
            data = read_exact(node, offset, min(4 << 20, node.size - offset), version)
            out.write(data)
            offset += len(data)
            bar.update(len(data))
        return
    for chunk, _cursor in node.render():
        out.write(chunk)
        bar.update(len(chunk))


# -- emulate / demo --------------------------------------------------------------------


def cmd_emulate(args):
    """Run one emulator in the foreground: the TOML remote that mounts it goes to stdout
    (so `hubfs emulate TYPE > remote.toml` works), everything else to stderr."""
    import backends
    from hubfs.config import remote_table
    from hubfs.emulation import load_spec, serve_forever

    setup_logging(args.debug)
    spec = load_spec(args.type)
    if spec is None:
        have = [t for t in backends.BACKENDS if load_spec(t) is not None]
        raise errors.ConfigError(f"no emulator for type {args.type!r} (have: {', '.join(have)})")
    if args.data not in spec.datasets:
        raise errors.ConfigError(f"{args.type}: no data set {args.data!r} "
                                 f"(have: {', '.join(spec.datasets)})")
    server = spec.create_server(data=args.data, port=args.port)
    table = remote_table(args.name or f"{args.type.replace('-', '_')}_demo", spec.remote_options(server))
    if args.toml_file:
        fd = os.open(args.toml_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(table)
    print(f"{args.type} emulator ({args.data} data) listening on {server.url}"
          + (f": {spec.summary}" if spec.summary else ""), file=sys.stderr)
    print("The remote below mounts it (its key is a public demo key); Ctrl-C stops it.",
          file=sys.stderr)
    sys.stdout.write(table)
    sys.stdout.flush()
    serve_forever(server)
    return 0


def cmd_demo(args):
    from hubfs import demo

    if args.stop:
        return demo.stop()
    return demo.start(args.mountpoint)


if __name__ == "__main__":
    sys.exit(main())
