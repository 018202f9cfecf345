"""Options shared by the `ds3` and `s3` remote types, and reading them with env fallbacks.

Keys may come from the config file (which is refused when others can read it) or from
the environment: `DS3_ENDPOINT`, `DS3_ACCESS_KEY`, `DS3_SECRET_KEY` for ds3 (the Spectra
SDKs' names), `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` for s3.
"""

import os

from hubfs.config import Option
from hubfs.errors import ConfigError

COMMON = {
    "endpoint": Option(str, help="base URL of the service, e.g. http://127.0.0.1:8080"),
    "access_key": Option(str, help="the access key (id)"),
    "secret_key": Option(str, secret=True, help="the secret key"),
    "buckets": Option(list, default=None, help="bucket names to show instead of the service's list"),
}


def resolve(name, options, env_names):
    """endpoint, access key, secret key from *options*, else the environment variables."""
    values = []
    for key, env in zip(("endpoint", "access_key", "secret_key"), env_names):
        value = options.get(key) or (os.environ.get(env, "").strip() if env else "")
        if not value:
            raise ConfigError(f"remote {name!r}: set {key!r} in the config" +
                              (f" or {env} in the environment" if env else ""))
        values.append(value)
    endpoint = values[0]
    if "://" not in endpoint:
        endpoint = "http://" + endpoint  # what the Spectra SDKs do with a bare host:port
    return endpoint, values[1], values[2]
