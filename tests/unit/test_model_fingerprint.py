"""Model fingerprints: hashed once per artefact, recorded in a manifest, still content hashes."""

import hashlib
import json
import os

import pytest

from rewardgate.sources.model.runners import versioning
from rewardgate.sources.model.runners.versioning import MANIFEST, directory_version


def legacy_version(root) -> str:
    """The definition: sha256 over sorted (relative path, file sha256), manifest left out."""
    digest = hashlib.sha256()
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.name not in versioning._IGNORED and not p.name.endswith(".tmp")
    )
    for file in files:
        digest.update(str(file.relative_to(root)).encode() + b"\0")
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return "sha256:" + digest.hexdigest()


@pytest.fixture
def model(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "model"
    (root / "sub").mkdir(parents=True)
    (root / "model.safetensors").write_bytes(os.urandom(4096))
    (root / "config.json").write_text('{"a": 1}')
    (root / "sub" / "tokenizer.json").write_text("{}")
    return root


def count_reads(monkeypatch) -> list[str]:
    """Names of the files whose content gets hashed."""
    hashed: list[str] = []
    real = versioning.hashlib.file_digest

    def spy(handle, name):
        hashed.append(os.path.basename(handle.name))
        return real(handle, name)

    monkeypatch.setattr(versioning.hashlib, "file_digest", spy)
    return hashed


def test_first_load_hashes_everything_and_writes_a_manifest(model, monkeypatch):
    hashed = count_reads(monkeypatch)
    version = directory_version(model)
    assert version == legacy_version(model)
    assert sorted(hashed) == ["config.json", "model.safetensors", "tokenizer.json"]
    manifest = json.loads((model / MANIFEST).read_text())
    assert set(manifest["files"]) == {"config.json", "model.safetensors", "sub/tokenizer.json"}


def test_later_loads_read_no_file_and_give_the_same_version(model, monkeypatch):
    first = directory_version(model)
    hashed = count_reads(monkeypatch)
    assert directory_version(model) == first
    assert hashed == []


def test_a_changed_file_is_hashed_again_and_changes_the_version(model, monkeypatch):
    first = directory_version(model)
    hashed = count_reads(monkeypatch)
    (model / "config.json").write_text('{"a": 2}')  # same size, new mtime
    second = directory_version(model)
    assert hashed == ["config.json"]
    assert second != first and second == legacy_version(model)


def test_added_and_removed_files_change_the_version(model):
    first = directory_version(model)
    (model / "extra.bin").write_bytes(b"x")
    assert directory_version(model) == legacy_version(model) != first
    (model / "extra.bin").unlink()
    assert directory_version(model) == first


def test_a_forged_manifest_entry_is_ignored_when_size_or_mtime_differ(model):
    directory_version(model)
    data = json.loads((model / MANIFEST).read_text())
    data["files"]["config.json"]["sha256"] = "00" * 32
    data["files"]["config.json"]["size"] += 1
    (model / MANIFEST).write_text(json.dumps(data))
    assert directory_version(model) == legacy_version(model)


def test_a_manifest_being_written_by_another_process_is_not_hashed(model):
    first = directory_version(model)
    (model / f"{MANIFEST}.abc123.tmp").write_text("half written")
    assert directory_version(model) == first


def test_a_corrupt_manifest_is_rebuilt(model):
    first = directory_version(model)
    (model / MANIFEST).write_text("{not json")
    assert directory_version(model) == first
    assert json.loads((model / MANIFEST).read_text())["format"] == 1


def test_an_unwritable_model_directory_keeps_its_manifest_in_the_cache(model, monkeypatch, tmp_path):
    # A directory where the manifest would go: no write there succeeds, even as root
    # (a chmod'ed directory would not stop root).
    (model / MANIFEST).mkdir()
    first = directory_version(model)
    assert list((tmp_path / "cache" / "rewardgate" / "fingerprints").glob("*.json"))
    hashed = count_reads(monkeypatch)
    assert directory_version(model) == first == legacy_version(model)
    assert hashed == []
