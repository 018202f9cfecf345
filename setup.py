"""Build step beyond pyproject.toml: two C extensions that work without the interpreter lock.

`backends/aliyun_log/_jsonlines.c` turns a LogGroupList into hour-file JSON lines
(`backends/aliyun_log/render.py` says why and keeps the Python reference it is tested
against); `hubfs/render/_line_count.c` counts the records of a JSON lines page that a
backend passes through as served (Scrapinghub's `.jl` files). They need only a C compiler and
the Python headers, which scripts/setup-system.sh installs; a build failure fails the
install, so a machine never runs a slow fallback without knowing.
"""

from setuptools import Extension, setup

FLAGS = ["-O2", "-Wall", "-Wextra", "-std=c11"]

setup(ext_modules=[
    Extension("backends.aliyun_log._jsonlines", ["backends/aliyun_log/_jsonlines.c"],
              extra_compile_args=FLAGS),
    Extension("hubfs.render._line_count", ["hubfs/render/_line_count.c"],
              extra_compile_args=FLAGS),
])
