"""Build step beyond pyproject.toml: the C renderer of SLS pull bodies.

`backends/aliyun_log/_jsonlines.c` turns a LogGroupList into hour-file JSON lines
without the interpreter lock (`backends/aliyun_log/render.py` says why and keeps the
Python reference it is tested against). It needs only a C compiler and the Python
headers, which scripts/setup-system.sh installs; a build failure fails the install,
so a machine never runs the slow fallback without knowing.
"""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("backends.aliyun_log._jsonlines", ["backends/aliyun_log/_jsonlines.c"],
              extra_compile_args=["-O2", "-Wall", "-Wextra", "-std=c11"]),
])
