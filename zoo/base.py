"""`ZooModel`: a trained Keras model plus the task method users call.

A subclass names its zoo folder (`name`), builds its Keras model from the
configuration stored in the manifest (`build_model`), and adds the task's own
method (`forecast`, `recognize`, ...). Weights travel as a Keras
`.weights.h5` file, which loads the same on every backend. Other files the
model needs (a vocabulary) are `assets`: bytes written beside the weights and
checked by digest like them.
"""

from pathlib import Path

from keras_lstm.zoo import artifacts

WEIGHTS_FILE = "model.weights.h5"


class ZooModel:
    name = None
    # "float16" halves the committed file; weights load back into float32
    # variables (rounded to 1 part in 2,000, far below what decoding notices).
    storage_dtype = "float32"

    def __init__(self, model, config, manifest=None, assets=None, directory=None):
        self.model = model
        self.config = dict(config)
        self.manifest = manifest or {"config": self.config}
        self.assets = dict(assets or {})  # file name -> bytes
        self.directory = directory  # where it was loaded from or last saved to (None: neither)

    @classmethod
    def build_model(cls, config):
        raise NotImplementedError

    @classmethod
    def load(cls, directory=None):
        """Rebuilds the model from `directory` (default: the committed files in zoo/NAME)."""
        directory = Path(directory) if directory is not None else artifacts.folder(cls.name)
        manifest = artifacts.read_manifest(directory)
        model = cls.build_model(manifest["config"])
        artifacts.load_weights(model, directory, manifest["weights"])
        assets = {
            entry["file"]: artifacts.check_weights(directory, entry, what="model file").read_bytes()
            for entry in manifest.get("assets", [])
        }
        return cls(model, manifest["config"], manifest, assets, directory)

    def save(self, directory, **sections):
        """Writes the weights and the manifest; `sections` (training, metrics) go in the manifest."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / WEIGHTS_FILE
        # A compiled model's weights file also holds the optimizer's state
        # (Adam: twice the parameters); an uncompiled twin holds the model only.
        twin = self.build_model(self.config)
        twin.set_weights(self.model.get_weights())
        twin.save_weights(path)
        if self.storage_dtype != "float32":
            _store_as(path, self.storage_dtype)
        for file, data in self.assets.items():
            (directory / file).write_bytes(data)
        self.manifest = {
            **self.manifest,
            "name": self.name,
            "config": self.config,
            "weights": artifacts.describe_weights(path),
            **({"assets": [artifacts.describe_weights(directory / f) for f in sorted(self.assets)]} if self.assets else {}),
            **sections,
        }
        artifacts.write_manifest(directory, self.manifest)
        self.directory = directory

    def __repr__(self):
        return f"<zoo model {self.name!r}: {self.model.count_params():,} parameters>"


def _store_as(path, dtype):
    """Rewrites a Keras weights file with every float32 array in `dtype`. The file is
    written anew: HDF5 does not give back the space of a replaced array."""
    import os

    import h5py
    import numpy as np

    rewritten = Path(f"{path}.{dtype}")
    with h5py.File(path, "r") as source, h5py.File(rewritten, "w") as target:
        target.attrs.update(source.attrs)

        def copy(name, item):
            if isinstance(item, h5py.Group):
                target.require_group(name).attrs.update(item.attrs)
                return
            data = item[()]
            if item.dtype == np.float32:
                data = data.astype(dtype)
            target.create_dataset(name, data=data).attrs.update(item.attrs)

        source.visititems(copy)
    os.replace(rewritten, path)
