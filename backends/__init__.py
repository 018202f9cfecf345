"""Backend registry: maps a remote's `type` to the module that implements it.

Modules are imported lazily, so loading hubfs (or mounting one backend) never pulls in
the dependencies of the others. Core code reaches a backend only through `load()`.
"""

import importlib

# type name -> module that defines `Remote` (the backend's entry point) and `OPTIONS`.
BACKENDS = {
    "scrapinghub": "backends.scrapinghub",
    "ds3": "backends.ds3", "s3": "backends.ds3.s3",
    "aliyun-log": "backends.aliyun_log",
    "flowthings": "backends.flowthings",
    "dataflowkit": "backends.dataflowkit",
}


def load(type_name):
    """Return the backend module for *type_name*; raises KeyError for an unknown type.

    A type that is not registered but names an importable module (`mypackage.backend`,
    with a dot) is loaded from there: a backend kept outside this repository (or the
    small one the tests and benchmarks use) is configured like any other."""
    module = BACKENDS.get(type_name)
    if module is None and "." in type_name:
        try:
            loaded = importlib.import_module(type_name)
        except ImportError:
            raise KeyError(type_name) from None
        if hasattr(loaded, "Remote") and hasattr(loaded, "OPTIONS"):
            return loaded
        raise KeyError(type_name)
    if module is None:
        raise KeyError(type_name)
    return importlib.import_module(module)
