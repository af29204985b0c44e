"""Keras's own test set-up for the ported tests (see README.md in this folder).

From Keras 3.15.1's conftest.py and pyproject.toml ([tool.pytest.ini_options]):
its markers and its warning filters, which turn every other warning into an
error (so a TracerWarning while torch traces our layer fails a test, as it
would fail Keras's). Full float32 on a GPU is already asked for by
tests/conftest.py.
Copyright The Keras Authors. Licensed under the Apache License, Version 2.0.
"""

import pytest

from keras.src.backend import backend

# Keras's filterwarnings, in its order: the last match decides.
_KERAS_WARNING_FILTERS = (
    "error",
    "ignore::DeprecationWarning",
    "ignore::ImportWarning",
    "ignore::RuntimeWarning",
    "ignore::PendingDeprecationWarning",
    "ignore::FutureWarning",
    "ignore::UserWarning",
    "ignore:Custom mask layers require a config",
)


def pytest_configure(config):
    config.addinivalue_line("markers", "requires_trainable_backend: mark test for trainable backend only")
    config.addinivalue_line("markers", "multi_device: mark test for running with multiple devices only")


def pytest_collection_modifyitems(config, items):
    requires_trainable_backend = pytest.mark.skipif(
        backend() in ["numpy", "openvino"],
        reason="Trainer not implemented for NumPy and OpenVINO backend.",
    )
    for item in items:
        if "keras_suite" not in item.nodeid:
            continue
        # pytest applies an item's filterwarnings marks in the order added,
        # each in front of the last, so the last one wins, as in pytest.ini.
        for warning_filter in _KERAS_WARNING_FILTERS:
            item.add_marker(pytest.mark.filterwarnings(warning_filter))
        if "requires_trainable_backend" in item.keywords:
            item.add_marker(requires_trainable_backend)
