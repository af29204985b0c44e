"""keras_lstm.zoo: the registry, the committed files and their validation."""

import json
import shutil

import numpy as np
import pytest

from keras_lstm import zoo
from keras_lstm.zoo import artifacts
from keras_lstm.zoo.base import WEIGHTS_FILE


def test_list_models_names_the_trained_models():
    assert zoo.list_models() == ["de-en-translator", "digit-speech-recognizer", "electricity-forecaster", "qa-chatbot"]


@pytest.mark.parametrize("name", [None, "", "electricity", 3])
def test_unknown_name_is_a_value_error_listing_the_models(name):
    with pytest.raises(ValueError, match="is not a zoo model.*electricity-forecaster"):
        zoo.load(name)


@pytest.mark.parametrize("name", ["electricity-forecaster", "digit-speech-recognizer", "qa-chatbot", "de-en-translator"])
def test_committed_files_match_their_manifest(name):
    directory = artifacts.folder(name)
    manifest = artifacts.read_manifest(directory)
    assert manifest["name"] == name
    path = artifacts.check_weights(directory, manifest["weights"])
    assert path.stat().st_size < 6 * 2**20, "zoo weights are kept to a few MB"
    assert (directory / "CARD.md").is_file()
    card = (directory / "CARD.md").read_text()
    # The card's table is the one `evaluate --write` produced from model.json.
    table = zoo.recipe(name).metrics_table(manifest["metrics"])
    assert table in card


@pytest.fixture
def forecaster_copy(tmp_path):
    source = artifacts.folder("electricity-forecaster")
    for item in ("model.json", WEIGHTS_FILE):
        shutil.copy(source / item, tmp_path / item)
    return tmp_path


def test_load_from_a_copy_gives_the_committed_model(forecaster_copy):
    committed = zoo.load("electricity-forecaster")
    copied = zoo.load("electricity-forecaster", forecaster_copy)
    for a, b in zip(committed.model.get_weights(), copied.model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_missing_weights_file_is_named(forecaster_copy):
    (forecaster_copy / WEIGHTS_FILE).unlink()
    with pytest.raises(artifacts.WeightsError, match="is missing"):
        zoo.load("electricity-forecaster", forecaster_copy)


def test_missing_manifest_says_to_train(tmp_path):
    with pytest.raises(artifacts.WeightsError, match="no model.json.*zoo train"):
        zoo.load("electricity-forecaster", tmp_path)


def test_truncated_weights_file_is_refused_before_loading(forecaster_copy):
    path = forecaster_copy / WEIGHTS_FILE
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(artifacts.WeightsError, match="has 1000 bytes.*truncated"):
        zoo.load("electricity-forecaster", forecaster_copy)


def test_replaced_weights_file_is_refused_by_digest(forecaster_copy):
    path = forecaster_copy / WEIGHTS_FILE
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(artifacts.WeightsError, match="SHA-256.*not the file"):
        zoo.load("electricity-forecaster", forecaster_copy)


def test_weights_of_another_shape_are_a_clear_error(forecaster_copy):
    # A manifest whose configuration no longer matches its (intact) weights.
    manifest = json.loads((forecaster_copy / "model.json").read_text())
    manifest["config"]["units"] = 32
    (forecaster_copy / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(artifacts.WeightsError, match="does not fit the model"):
        zoo.load("electricity-forecaster", forecaster_copy)


def test_float16_storage_halves_the_file_and_loads_back_within_its_rounding(tmp_path):
    import keras

    from keras_lstm.zoo.base import ZooModel

    class Tiny(ZooModel):
        name = "tiny"

        @classmethod
        def build_model(cls, config):
            return keras.Sequential([keras.Input((64,)), keras.layers.Dense(config["width"])])

    model = Tiny.build_model({"width": 512})
    Tiny(model, {"width": 512}).save(tmp_path / "float32")
    Tiny.storage_dtype = "float16"
    Tiny(model, {"width": 512}).save(tmp_path / "float16")
    sizes = {d: (tmp_path / d / WEIGHTS_FILE).stat().st_size for d in ("float32", "float16")}
    assert sizes["float16"] < 0.6 * sizes["float32"]  # the replaced arrays' space is given back
    loaded = Tiny.load(tmp_path / "float16").model.get_weights()
    for original, stored in zip(model.get_weights(), loaded):
        assert stored.dtype == np.float32
        np.testing.assert_allclose(stored, original, rtol=1e-3, atol=1e-7)
        assert not np.array_equal(stored, original) or not original.any()
