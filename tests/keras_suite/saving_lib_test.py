# Ported from Keras 3.15.1 (https://github.com/keras-team/keras, tag v3.15.1),
# keras/src/saving/saving_lib_test.py.
# Copyright The Keras Authors. Licensed under the Apache License, Version 2.0
# (see LICENSE in this folder).
# Changed: only the test with an LSTM (of class SavingBattleTest);
# `keras.layers.LSTM` -> `keras_lstm.LSTM` (and the import).
import os

import numpy as np

import keras
from keras.src import testing

import keras_lstm


class SavingBattleTest(testing.TestCase):
    def test_bidirectional_lstm_saving(self):
        inputs = keras.Input((3, 2))
        outputs = keras.layers.Bidirectional(keras_lstm.LSTM(64))(inputs)
        model = keras.Model(inputs, outputs)
        temp_filepath = os.path.join(self.get_temp_dir(), "bidir_lstm.keras")
        model.save(temp_filepath)
        new_model = keras.saving.load_model(temp_filepath)
        x = np.random.random((1, 3, 2))
        ref_out = model(x)
        out = new_model(x)
        self.assertAllClose(out, ref_out)
