"""A zoo model's files: `zoo/NAME/model.json` and the weights it names.

`model.json` holds what rebuilds the model (its configuration), the weights
file's size and SHA-256, how it was trained, and the metrics `keras-lstm zoo
evaluate` measured. Checking the digest before Keras reads the file turns a
truncated or swapped file into one clear error instead of an h5py trace or,
worse, a model that loads the wrong numbers.
"""

import hashlib
import json
import os
from pathlib import Path

ZOO_FOLDER = Path(__file__).resolve().parent
MANIFEST = "model.json"


class WeightsError(ValueError):
    """A zoo weights file is missing, truncated or not the one its manifest names."""


def folder(name):
    """The folder holding zoo model `name`'s card, manifest and weights."""
    return ZOO_FOLDER / name


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(directory):
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise WeightsError(f"no {MANIFEST} in {directory}: train the model first (`keras-lstm zoo train`)")
    with open(path) as stream:
        return json.load(stream)


def write_manifest(directory, manifest):
    path = Path(directory) / MANIFEST
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as stream:
        json.dump(manifest, stream, indent=1)
        stream.write("\n")
    os.replace(tmp, path)


def describe_weights(path):
    """The manifest entry for a weights file just written."""
    path = Path(path)
    return {"file": path.name, "bytes": path.stat().st_size, "sha256": sha256(path)}


def check_weights(directory, entry, what="weights file"):
    """Returns the path of the file `entry` names (weights, or another file of the
    model's such as a vocabulary), after checking size and digest."""
    path = Path(directory) / entry["file"]
    if not path.is_file():
        raise WeightsError(f"{what} {path} is missing (the manifest names it)")
    size = path.stat().st_size
    if size != entry["bytes"]:
        raise WeightsError(
            f"{what} {path} has {size} bytes, expected {entry['bytes']}: truncated or replaced"
        )
    digest = sha256(path)
    if digest != entry["sha256"]:
        raise WeightsError(
            f"{what} {path} has SHA-256 {digest[:12]}…, expected {entry['sha256'][:12]}…: "
            "not the file this model was trained into"
        )
    return path


def load_weights(model, directory, entry):
    """Checks the file, then loads it into `model`, naming the file on any mismatch."""
    path = check_weights(directory, entry)
    try:
        model.load_weights(path)
    except (ValueError, OSError, KeyError) as error:
        raise WeightsError(f"weights file {path} does not fit the model: {error}") from error
