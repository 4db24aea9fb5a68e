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


def test_what_the_program_writes_goes_to_the_user_folders_by_default(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    settings = Settings.load(environ={})
    assert settings.cache_path == tmp_path / "cache" / "myeloma-kg"
    assert settings.data_path == tmp_path / "share" / "myeloma-kg"
    assert settings.home not in settings.cache_path.parents and settings.home not in settings.data_path.parents


def test_cache_and_data_folders_are_set_by_mapping_or_environment():
    settings = Settings.load({"cache_dir": "/tmp/c1", "data_dir": "/tmp/d1"}, environ={})
    assert (settings.cache_path, settings.data_path) == (Path("/tmp/c1"), Path("/tmp/d1"))
    settings = Settings.load({"cache_dir": "/tmp/c1"}, environ={"MYELOMA_KG_CACHE_DIR": "/tmp/c2",
                                                              "MYELOMA_KG_DATA_DIR": "/tmp/d2"})
    assert (settings.cache_path, settings.data_path) == (Path("/tmp/c2"), Path("/tmp/d2"))


def test_home_points_the_program_at_another_copy_of_the_content(tmp_path):
    (tmp_path / "ontology").mkdir()
    settings = Settings.load(environ={"MYELOMA_KG_HOME": str(tmp_path)})
    assert settings.tbox_file == tmp_path / "ontology" / "myeloma-kg.ttl"
    assert settings.queries_dir == tmp_path / "queries" and settings.shapes_dir == tmp_path / "shapes"
