"""mount.hubfs option parsing: fstab style, ignored noise, unknown options refused."""

import pytest

from hubfs.fstab import Usage, parse_args, parse_options


def test_known_options_and_what_mount_adds():
    assert parse_options("ro,config=/etc/hubfs.toml,remote=zyte,cache_dir=/var/cache/hubfs,"
                         "allow_other,_netdev,nofail,noauto,dev,suid,x-systemd.automount,"
                         "comment=x,defaults") == {
        "ro": True, "config": "/etc/hubfs.toml", "remote": "zyte",
        "cache_dir": "/var/cache/hubfs", "allow_other": True}


@pytest.mark.parametrize("text, message", [
    ("sync", "unknown mount option 'sync'"),
    ("uid=1000", "unknown mount option 'uid=1000'"),
    ("config=", "needs a value"),
    ("ro=1", "unknown mount option 'ro=1'"),
    ("ro,rw", "contradict"),
])
def test_unknown_or_malformed_options_are_refused(text, message):
    with pytest.raises(Usage, match=message):
        parse_options(text)


def test_helper_calling_convention():
    assert parse_args(["zyte", "/mnt/z", "-n", "-o", "rw,config=/c", "-t", "fuse.hubfs"]) == (
        "zyte", "/mnt/z", {"rw": True, "config": "/c"})
    assert parse_args(["hubfs", "/mnt", "-oro", "-o", "debug"])[2] == {"ro": True, "debug": True}
    with pytest.raises(Usage):
        parse_args(["only-one"])
    with pytest.raises(Usage, match="unknown flag"):
        parse_args(["a", "b", "-x"])
