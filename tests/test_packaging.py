"""The installed package: what a wheel of the repository holds.

Built from a copy of the source (setuptools writes build/ and egg-info beside it) with the
installed setuptools, no network."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from keras_lstm import zoo
from keras_lstm.zoo import artifacts

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "keras_lstm", "zoo", "export")


@pytest.fixture(scope="module")
def wheel_files(tmp_path_factory):
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy(ROOT / name, source / name)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(out), str(source)]
    subprocess.run(command, check=True, capture_output=True)
    (wheel,) = out.glob("keras_lstm-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_the_wheel_holds_every_zoo_model_users_load(wheel_files):
    for name in zoo.list_models():
        folders = [artifacts.folder(name)] + [p.parent for p in artifacts.folder(name).glob(f"*/{artifacts.MANIFEST}")]
        for folder in folders:
            if folder.name.startswith("holdout-"):
                continue
            manifest = artifacts.read_manifest(folder)
            inside = f"keras_lstm/zoo/{folder.relative_to(artifacts.ZOO_FOLDER).as_posix()}"
            assert f"{inside}/{artifacts.MANIFEST}" in wheel_files
            assert f"{inside}/{manifest['weights']['file']}" in wheel_files


def test_the_leave_one_speaker_out_models_stay_in_the_repository(wheel_files):
    assert list((artifacts.folder("digit-speech-recognizer")).glob("holdout-*/model.weights.h5")), "none in the checkout"
    assert not [name for name in wheel_files if "/holdout-" in name]
