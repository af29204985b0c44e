# Ported from Keras 3.15.1 (https://github.com/keras-team/keras, tag v3.15.1),
# keras/src/layers/core/masking_test.py.
# Copyright The Keras Authors. Licensed under the Apache License, Version 2.0
# (see LICENSE in this folder).
# Changed: only the test with an LSTM; `layers.LSTM` -> `keras_lstm.LSTM`
# (and the import).
import os

import numpy as np

from keras.src import layers
from keras.src import models
from keras.src import testing

import keras_lstm
from keras.src.saving import load_model


class MaskingTest(testing.TestCase):
    def test_masking_with_tensor(self):
        model = models.Sequential(
            [
                layers.Masking(mask_value=0.0),
                keras_lstm.LSTM(1),
            ]
        )
        x = np.array(
            [
                [[1.0, 2.0], [0.0, 0.0], [0.0, 0.0]],
                [[2.0, 2.0], [2.0, 1.0], [0.0, 0.0]],
            ]
        )
        model(x)
        temp_filepath = os.path.join(self.get_temp_dir(), "model.keras")
        model.save(temp_filepath)
        reload_model = load_model(temp_filepath)
        reload_model(x)
