"""Backend registry: maps a remote's `type` to the module that implements it.

Modules are imported lazily, so loading hubfs (or mounting one backend) never pulls in
the dependencies of the others. Core code reaches a backend only through `load()`.
"""

import importlib

# type name -> module that defines `Remote` (the backend's entry point) and `OPTIONS`.
BACKENDS = {
    "scrapinghub": "backends.scrapinghub",
    "ds3": "backends.ds3", "s3": "backends.ds3.s3",
}


def load(type_name):
    """Return the backend module for *type_name*; raises KeyError for an unknown type."""
    return importlib.import_module(BACKENDS[type_name])
