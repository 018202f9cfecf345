"""Config loading: permissions, env interpolation, validation messages."""

import os

import pytest

from hubfs import config
from hubfs.errors import ConfigError

GOOD = """
[hubfs]
cache_dir = "/tmp/x"
cache_max_size = "512M"
retries = 3

[remotes.zyte]
type = "scrapinghub"
apikey = "${SH_KEY_FOR_TEST}"
app_url = "http://127.0.0.1:1/api/"
storage_url = "http://127.0.0.1:1/"
"""


def write(tmp_path, text, mode=0o600):
    path = tmp_path / "hubfs.toml"
    path.write_text(text)
    os.chmod(path, mode)
    return str(path)


def test_loads_and_interpolates(tmp_path):
    cfg = config.load(write(tmp_path, GOOD), environ={"SH_KEY_FOR_TEST": "k" * 32})
    remote = cfg.remotes["zyte"]
    assert remote.type == "scrapinghub"
    assert remote.options["apikey"] == "k" * 32
    assert remote.options["projects"] is None  # default filled in
    assert cfg.cache_dir == "/tmp/x"
    assert cfg.cache_max_bytes == 512 * 1024**2
    assert cfg.retry_attempts == 3
    assert "k" * 32 not in repr(remote)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_refuses_file_others_can_read(tmp_path, mode):
    with pytest.raises(ConfigError, match="chmod 600"):
        config.load(write(tmp_path, GOOD, mode), environ={"SH_KEY_FOR_TEST": "x"})


def test_missing_env_var_is_named_not_leaked(tmp_path):
    with pytest.raises(ConfigError, match="SH_KEY_FOR_TEST is not set"):
        config.load(write(tmp_path, GOOD), environ={})


@pytest.mark.parametrize("text,message", [
    ('[remotes.a]\ntype = "nope"\n', "unknown type 'nope'"),
    ('[remotes.a]\napikey = "x"\n', "missing 'type'"),
    ('[remotes.a]\ntype = "scrapinghub"\n', "missing required key 'apikey'"),
    ('[remotes.a]\ntype = "scrapinghub"\napikey = "x"\nbogus = 1\n', "unknown key 'bogus'"),
    ('[remotes.a]\ntype = "scrapinghub"\napikey = ""\n', "must not be empty"),
    ('[remotes.a]\ntype = "scrapinghub"\napikey = "x"\nprojects = 5\n', "expected a list"),
    ('[remotes."a/b"]\ntype = "scrapinghub"\napikey = "x"\n', "remote name"),
    ('[hubfs]\ncache_max_size = "lots"\n[remotes.a]\ntype = "scrapinghub"\napikey = "x"\n', "size"),
    ('[hubfs]\nretries = 0\n[remotes.a]\ntype = "scrapinghub"\napikey = "x"\n', "positive"),
    ('', "no remotes configured"),
    ('[remotes\n', "not valid TOML"),
])
def test_validation_messages(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        config.load(write(tmp_path, text), environ={})


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="No such file"):
        config.load(str(tmp_path / "absent.toml"))


@pytest.mark.parametrize("type_name, options", [
    ("scrapinghub", {"apikey": "k", "storage_url": "http://127.0.0.1:1/"}),
    ("aliyun-log", {"endpoint": "http://127.0.0.1:1", "access_key_id": "a", "access_key_secret": "b"}),
])
def test_fstat_during_render_is_one_option_checked_alike_by_every_streaming_backend(type_name, options):
    import backends

    module = backends.load(type_name)
    assert module.OPTIONS["fstat_during_render"] is config.FSTAT_DURING_RENDER
    assert module.Remote("r", dict(options, fstat_during_render="partial")).site.fstat_during_render == "partial"
    with pytest.raises(ConfigError, match=r"'fstat_during_render' must be \"wait\" or \"partial\", not 'sometimes'"):
        module.Remote("r", dict(options, fstat_during_render="sometimes"))
