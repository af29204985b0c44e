# Ported from Keras 3.15.1 (https://github.com/keras-team/keras, tag v3.15.1),
# keras/src/layers/rnn/stacked_rnn_cells_test.py.
# Copyright The Keras Authors. Licensed under the Apache License, Version 2.0
# (see LICENSE in this folder).
# Changed: only the LSTMCell cases (test_basics keeps its LSTMCell
# stack); `layers.LSTMCell` -> `keras_lstm.LSTMCell` (and the import).
import numpy as np

from keras.src import layers
from keras.src import testing

import keras_lstm


class StackedRNNTest(testing.TestCase):
    def test_basics(self):
        self.run_layer_test(
            layers.RNN,
            init_kwargs={
                "cell": [
                    keras_lstm.LSTMCell(3, dropout=0.1, recurrent_dropout=0.1),
                    keras_lstm.LSTMCell(4, dropout=0.1, recurrent_dropout=0.1),
                    keras_lstm.LSTMCell(5, dropout=0.1, recurrent_dropout=0.1),
                ],
                "return_sequences": True,
            },
            input_shape=(2, 3, 4),
            expected_output_shape=(2, 3, 5),
            expected_num_trainable_weights=9,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=3,
            supports_masking=True,
        )

    def test_return_state_stacked_lstm_cell(self):
        layer = layers.RNN(
            [keras_lstm.LSTMCell(10), keras_lstm.LSTMCell(10)], return_state=True
        )
        out = layer(np.zeros((2, 3, 5)))
        self.assertLen(out, 3)
        self.assertEqual(out[0].shape, (2, 10))
        self.assertEqual(out[1][0].shape, (2, 10))
        self.assertEqual(out[1][1].shape, (2, 10))
        self.assertEqual(out[2][0].shape, (2, 10))
        self.assertEqual(out[2][1].shape, (2, 10))

        shape = layer.compute_output_shape((2, 3, 5))
        self.assertLen(shape, 3)
        self.assertEqual(shape[0], (2, 10))
        self.assertEqual(shape[1][0], (2, 10))
        self.assertEqual(shape[1][1], (2, 10))
        self.assertEqual(shape[2][0], (2, 10))
        self.assertEqual(shape[2][1], (2, 10))

    def test_stacked_lstm_cell_mask(self):
        sequence = np.ones((2, 3, 4))
        mask = np.array([[True, True, True], [True, True, False]])
        cell_kwargs = dict(
            units=1, kernel_initializer="ones", recurrent_initializer="ones"
        )
        rnn_cells = [keras_lstm.LSTMCell(**cell_kwargs) for _ in range(2)]
        stacked_rnn = layers.RNN(rnn_cells)
        output = stacked_rnn(sequence, mask=mask)
        self.assertAllClose(output, np.array([[0.7793], [0.5998]]), atol=1e-4)
