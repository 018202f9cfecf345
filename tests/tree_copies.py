"""The copy tools users run on a mounted tree, and what they must give: `cp -a`, `tar` and
`rsync -a` reproduce the tree (bytes, sizes, times), `tar` twice gives the same archive,
and a second `rsync -a` transfers nothing."""

import os
import subprocess


def _tar(directory):
    return subprocess.run(["tar", "--sort=name", "--owner=0", "--group=0", "--numeric-owner",
                           "-C", directory, "-cf", "-", "."], check=True, capture_output=True).stdout


def assert_copies_reproduce(source, workdir):
    copy = os.path.join(str(workdir), "copy")
    subprocess.run(["cp", "-a", source, copy], check=True)
    assert subprocess.run(["diff", "-r", source, copy]).returncode == 0
    for directory, _dirs, files in os.walk(source):
        for name in files:
            a = os.stat(os.path.join(directory, name))
            b = os.stat(os.path.join(copy, os.path.relpath(directory, source), name))
            assert (a.st_size, a.st_mtime_ns) == (b.st_size, b.st_mtime_ns), name
    assert _tar(source) == _tar(copy) == _tar(source)  # stable sizes and times
    target = os.path.join(str(workdir), "rsync")
    subprocess.run(["rsync", "-a", source + "/", target], check=True)
    assert subprocess.run(["diff", "-r", source, target]).returncode == 0
    again = subprocess.run(["rsync", "-a", "--itemize-changes", source + "/", target],
                           check=True, capture_output=True, text=True)
    assert again.stdout == ""  # the second run transfers nothing
