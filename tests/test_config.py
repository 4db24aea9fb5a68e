from pathlib import Path

import pytest

from myeloma_kg import Settings


def test_defaults_find_the_project_folder():
    settings = Settings.load(environ={})
    assert settings.tbox_file.is_file()
    assert settings.store == "memory"
    assert (settings.host, settings.port) == ("127.0.0.1", 5000)


def test_mapping_then_environment_override_defaults():
    settings = Settings.load({"port": 8000, "store": "/tmp/x"}, environ={"MYELOMA_KG_PORT": "9000"})
    assert settings.port == 9000
    assert settings.store == "/tmp/x"


def test_environment_values_are_typed():
    settings = Settings.load(environ={"MYELOMA_KG_QUERY_TIMEOUT_S": "2.5", "MYELOMA_KG_REASON": "no",
                                      "MYELOMA_KG_CACHE_DIR": "/tmp/c"})
    assert settings.query_timeout_s == 2.5
    assert settings.reason is False
    assert settings.cache_path == Path("/tmp/c")


def test_unknown_setting_is_refused():
    with pytest.raises(KeyError):
        Settings.load({"colour": "blue"}, environ={})
