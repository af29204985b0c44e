"""`ZooModel`: a trained Keras model plus the task method users call.

A subclass names its zoo folder (`name`), builds its Keras model from the
configuration stored in the manifest (`build_model`), and adds the task's own
method (`forecast`, `recognize`, ...). Weights travel as a Keras
`.weights.h5` file, which loads the same on every backend.
"""

from pathlib import Path

from keras_lstm.zoo import artifacts

WEIGHTS_FILE = "model.weights.h5"


class ZooModel:
    name = None

    def __init__(self, model, config, manifest=None):
        self.model = model
        self.config = dict(config)
        self.manifest = manifest or {"config": self.config}

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
        return cls(model, manifest["config"], manifest)

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
        self.manifest = {
            **self.manifest,
            "name": self.name,
            "config": self.config,
            "weights": artifacts.describe_weights(path),
            **sections,
        }
        artifacts.write_manifest(directory, self.manifest)

    def __repr__(self):
        return f"<zoo model {self.name!r}: {self.model.count_params():,} parameters>"
