"""The build cache (docs/_hooks/build_cache.py) never serves an entry computed from other inputs."""

from __future__ import annotations

import sys

import build_cache
from build_cache import cached, key


def test_a_changed_input_file_changes_the_key(tmp_path):
    snippet = tmp_path / "pad_basics.py"
    snippet.write_text("a = 1\n", encoding="utf-8")
    before = key("pad-3d.en.svg", [snippet])
    snippet.write_text("a = 2\n", encoding="utf-8")
    assert key("pad-3d.en.svg", [snippet]) != before


def test_a_changed_module_of_lmloss_changes_every_key(tmp_path, monkeypatch):
    package = tmp_path / "lmloss"
    (package / "diagrams").mkdir(parents=True)
    module = package / "diagrams" / "pad.py"
    module.write_text("WIDTH = 1\n", encoding="utf-8")
    monkeypatch.setattr(build_cache, "_package", lambda: package)
    before = key("pad-3d.en.svg", [])
    module.write_text("WIDTH = 2\n", encoding="utf-8")
    assert key("pad-3d.en.svg", []) != before


def test_another_installed_version_changes_the_key(tmp_path, monkeypatch):
    (tmp_path / "nbconvert-7.0.0.dist-info").mkdir()
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    before = key("notebook.html", [])
    (tmp_path / "nbconvert-7.0.0.dist-info").rename(tmp_path / "nbconvert-7.1.0.dist-info")
    assert key("notebook.html", []) != before


def test_the_name_and_the_options_are_part_of_the_key():
    assert key("pad-3d.en.svg", []) != key("pad-3d.zh.svg", [])
    assert key("nb2html", [], "theme=light") != key("nb2html", [], "theme=dark")
    assert key("pad-3d.en.svg", []) == key("pad-3d.en.svg", [])


def test_an_entry_is_computed_once_then_read_back(tmp_path, monkeypatch):
    monkeypatch.setattr(build_cache, "CACHE", tmp_path)
    computed = []

    def draw() -> str:
        computed.append(1)
        return "<svg>图</svg>"

    entry = key("pad-3d.zh.svg", [])
    assert cached("diagrams", entry, draw) == "<svg>图</svg>"
    assert cached("diagrams", entry, draw) == "<svg>图</svg>"
    assert computed == [1]
    assert [p.name for p in (tmp_path / "diagrams").iterdir()] == [entry]  # no partial file left
