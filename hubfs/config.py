"""Remotes from a TOML file, with `${ENV}` interpolation, validated with clear errors.

The file holds credentials, so it is refused when its mode lets group or others in
(DESIGN.md semantics 7). Each backend declares the options it takes as `OPTIONS` (a dict of
`Option`); unknown keys, missing required ones and wrong types are reported with the file,
the remote and the key, never with a secret's value. See docs/config.md.
"""

import dataclasses
import json
import os
import re
import stat
import tomllib

import backends
from hubfs.errors import ConfigError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SIZE_RE = re.compile(r"^\s*(\d+)\s*([KMGT]?)i?B?\s*$", re.IGNORECASE)
DEFAULT_CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "hubfs")
DEFAULT_CACHE_MAX = 10 * 1024**3
UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


@dataclasses.dataclass(frozen=True)
class Option:
    """One option a backend accepts: its Python type, default and whether it is secret."""

    kind: type = str
    required: bool = False
    default: object = None
    secret: bool = False
    help: str = ""


# Taken by every backend whose finished files stream into the disk cache while they are
# read (`hubfs.fuse.content`): how a reader's `fstat` is answered before the exact size.
FSTAT_DURING_RENDER = Option(
    str, default="wait",
    help='"wait": a stat of a file still rendering waits for its exact size; "partial": a '
         "process reading the file while it renders gets the size rendered so far from "
         "fstat (cat and grep start at once; wc -c would be wrong), see docs/semantics.md")
FSTAT_MODES = ("wait", "partial")


def fstat_during_render(remote, options):
    """The remote's `fstat_during_render` option, checked; raises `ConfigError`."""
    mode = options.get("fstat_during_render") or FSTAT_DURING_RENDER.default
    if mode not in FSTAT_MODES:
        raise ConfigError(f"remote {remote!r}: 'fstat_during_render' must be \"wait\" or "
                          f"\"partial\", not {mode!r}")
    return mode


@dataclasses.dataclass
class RemoteConfig:
    name: str
    type: str
    options: dict

    def __repr__(self):  # never show secrets in tracebacks or debug logs
        return f"RemoteConfig(name={self.name!r}, type={self.type!r})"


@dataclasses.dataclass
class Config:
    path: str
    remotes: dict
    cache_dir: str = DEFAULT_CACHE_DIR
    cache_max_bytes: int = DEFAULT_CACHE_MAX
    spool_max_bytes: int | None = None
    spool_min_free: int = 64 * 1024**2
    memory_budget: int = 128 * 1024**2  # read-ahead and kept blocks of sized files
    deadline: float = 30.0  # one call to a service, retries and waits included
    retry_attempts: int = 6
    retry_backoff: float = 0.25
    timeout: float = 60.0

    def retry_policy(self):
        from hubfs.http import RetryPolicy

        return RetryPolicy(attempts=self.retry_attempts, backoff=self.retry_backoff,
                           read_timeout=self.timeout, deadline=self.deadline)


def load(path, environ=None):
    """Read and validate the config file at *path*; raises `ConfigError`."""
    environ = os.environ if environ is None else environ
    try:
        st = os.stat(path)
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror}") from None
    if st.st_mode & 0o077:
        raise ConfigError(
            f"config file {path} is accessible by group or others (mode "
            f"{stat.S_IMODE(st.st_mode):04o}); it may hold keys: run chmod 600 {path}")
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: not valid TOML: {exc}") from None
    return parse(raw, path, environ)


def parse(raw, path="<config>", environ=None):
    """Validate an already-decoded TOML document (see `load`)."""
    environ = os.environ if environ is None else environ
    unknown = set(raw) - {"hubfs", "remotes"}
    if unknown:
        raise ConfigError(f"{path}: unknown top-level table(s): {', '.join(sorted(unknown))}")
    config = Config(path=path, remotes={})
    general = raw.get("hubfs", {})
    for key, value in general.items():
        if key == "cache_dir":
            config.cache_dir = os.path.expanduser(interpolate(value, environ, f"{path}: hubfs.cache_dir"))
        elif key == "cache_max_size":
            config.cache_max_bytes = parse_size(value, f"{path}: hubfs.cache_max_size")
        elif key == "spool_max_size":
            config.spool_max_bytes = parse_size(value, f"{path}: hubfs.spool_max_size")
        elif key == "spool_min_free":
            config.spool_min_free = parse_size(value, f"{path}: hubfs.spool_min_free")
        elif key == "retries":
            config.retry_attempts = positive(value, int, f"{path}: hubfs.retries")
        elif key == "retry_backoff":
            config.retry_backoff = positive(value, (int, float), f"{path}: hubfs.retry_backoff")
        elif key == "memory_budget":
            config.memory_budget = parse_size(value, f"{path}: hubfs.memory_budget")
        elif key == "deadline":
            config.deadline = positive(value, (int, float), f"{path}: hubfs.deadline")
        elif key == "timeout":
            config.timeout = positive(value, (int, float), f"{path}: hubfs.timeout")
        else:
            raise ConfigError(f"{path}: unknown key hubfs.{key}")
    remotes = raw.get("remotes", {})
    if not isinstance(remotes, dict) or not remotes:
        raise ConfigError(f"{path}: no remotes configured (add a [remotes.NAME] table)")
    for name, table in remotes.items():
        config.remotes[name] = parse_remote(name, table, path, environ)
    return config


def parse_remote(name, table, path, environ):
    where = f"{path}: remote {name!r}"
    if not NAME_RE.match(name):
        raise ConfigError(f"{where}: a remote name may hold letters, digits, '_', '.', '-'")
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table")
    type_name = table.get("type")
    if type_name is None:
        raise ConfigError(f"{where}: missing 'type' (one of {', '.join(sorted(backends.BACKENDS))})")
    try:
        declared = backends.load(type_name).OPTIONS
    except KeyError:
        raise ConfigError(f"{where}: unknown type {type_name!r} "
                          f"(one of {', '.join(sorted(backends.BACKENDS))})") from None
    options = {}
    for key, value in table.items():
        if key == "type":
            continue
        if key not in declared:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(declared))})")
        option = declared[key]
        if isinstance(value, str):
            value = interpolate(value, environ, f"{where}, key {key!r}")
        options[key] = coerce(value, option, f"{where}, key {key!r}")
    for key, option in declared.items():
        if key not in options:
            if option.required:
                raise ConfigError(f"{where}: missing required key {key!r} ({option.help})")
            options[key] = option.default
    return RemoteConfig(name=name, type=type_name, options=options)


def interpolate(value, environ, where):
    """Replace each `${NAME}` in *value* by that environment variable."""
    def replace(match):
        var = match.group(1)
        if var not in environ:
            raise ConfigError(f"{where}: environment variable {var} is not set")
        return environ[var]

    return ENV_RE.sub(replace, value)


def coerce(value, option, where):
    if option.kind is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list")
        return value
    if option.kind is int and isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if option.kind is bool and not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false")
    if not isinstance(value, option.kind):
        raise ConfigError(f"{where}: expected {option.kind.__name__}")
    if option.kind is str and option.required and not value.strip():
        raise ConfigError(f"{where}: must not be empty")
    return value


def positive(value, kinds, where):
    if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
        raise ConfigError(f"{where}: expected a positive number")
    return value


def parse_size(value, where):
    """Accept 1048576, "512M", "10G" (binary units)."""
    if isinstance(value, int):
        return value
    match = SIZE_RE.match(str(value))
    if not match:
        raise ConfigError(f"{where}: expected a size such as 512M or 10G")
    return int(match.group(1)) * UNITS[match.group(2).upper()]


def _toml_value(value, where):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON string escapes are valid TOML
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(item, where) for item in value) + "]"
    raise TypeError(f"{where}: cannot write a {type(value).__name__} as TOML")


def remote_table(name, options):
    """The TOML text of a `[remotes.<name>]` table holding *options* (what `hubfs
    emulate` prints and `hubfs demo` writes); the inverse of what `parse_remote` reads."""
    key = name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)
    lines = [f"[remotes.{key}]"]
    for option, value in options.items():
        if value is not None:
            lines.append(f"{option} = {_toml_value(value, f'remotes.{name}.{option}')}")
    return "\n".join(lines) + "\n"
