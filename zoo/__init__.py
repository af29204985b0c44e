"""Trained reference models, imported as `keras_lstm.zoo`.

    >>> from keras_lstm import zoo
    >>> zoo.list_models()
    ['de-en-translator', 'digit-speech-recognizer', 'electricity-forecaster', 'qa-chatbot']
    >>> forecaster = zoo.load("electricity-forecaster")
    >>> forecaster.model        # the Keras model, on the active backend

Each model lives in `zoo/NAME/`: its card (CARD.md), manifest (model.json)
and weights; its code (data, model, recipe, evaluation) is one module here.
"""

import importlib

# Model name -> the module that builds, trains and evaluates it. Imported on
# first use so that `list_models()` costs nothing.
_MODULES = {
    "electricity-forecaster": "keras_lstm.zoo.electricity_forecaster",
    "digit-speech-recognizer": "keras_lstm.zoo.digit_speech_recognizer",
    "qa-chatbot": "keras_lstm.zoo.qa_chatbot",
    "de-en-translator": "keras_lstm.zoo.de_en_translator",
}


def list_models():
    """The names `load` accepts."""
    return sorted(_MODULES)


def recipe(name):
    """The module holding model `name`'s `Model` class, `train`, `evaluate` and `run`."""
    if not isinstance(name, str) or name not in _MODULES:
        raise ValueError(f"name={name!r} is not a zoo model; expected one of {list_models()}")
    return importlib.import_module(_MODULES[name])


def load(name, directory=None):
    """Loads zoo model `name` with its committed weights (or those in `directory`)."""
    return recipe(name).Model.load(directory)
