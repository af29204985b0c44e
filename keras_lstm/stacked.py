"""`StackedLSTM`: LSTM layers that feed each other, like torch's `num_layers`."""

import keras

from keras_lstm import validation
from keras_lstm.lstm import LSTM

# Arguments of keras.layers.Layer itself, kept for the stack.
_LAYER_ARGUMENTS = ("name", "dtype", "trainable")
# LSTM arguments that make no sense per layer of a stack.
_STACK_OWNED = ("return_sequences", "return_state", "go_backwards", "stateful")


@keras.saving.register_keras_serializable(package="keras_lstm")
class StackedLSTM(keras.layers.Layer):
    """`num_layers` LSTMs, each reading the sequence the previous one wrote.

    The same network as `torch.nn.LSTM(num_layers=..., bidirectional=...,
    dropout=...)`: layer k + 1 reads the hidden sequence of layer k (both
    directions concatenated when bidirectional), with dropout between layers
    in training.

    Args:
        units: size of each layer's LSTM (per direction).
        num_layers: how many layers, at least 1.
        bidirectional: wrap each layer in `keras.layers.Bidirectional`
            (merge_mode "concat").
        inter_layer_dropout: dropout rate in [0, 1) on each layer's output
            sequence before the next layer, in training.
        return_sequences: return the last layer's whole sequence
            (batch, time, features) instead of its last output.
        **lstm_kwargs: any other `keras_lstm.LSTM` argument (activations,
            initializers, dropout, variants such as proj_units or layer_norm),
            applied to every layer.

    Call arguments:
        sequences: (batch, time, features).
        mask: optional (batch, time) booleans, passed to every layer.
        training: whether dropout applies.

    Attributes:
        layers: the sub-layers, first to last (`keras_lstm.LSTM` or
            `keras.layers.Bidirectional` of one).

    Example:

    >>> stack = StackedLSTM(32, num_layers=3, bidirectional=True, inter_layer_dropout=0.2)
    >>> stack(np.zeros((4, 10, 8))).shape
    (4, 64)
    """

    def __init__(
        self,
        units,
        num_layers=2,
        bidirectional=False,
        inter_layer_dropout=0.0,
        return_sequences=False,
        **lstm_kwargs,
    ):
        layer_kwargs = {k: lstm_kwargs.pop(k) for k in _LAYER_ARGUMENTS if k in lstm_kwargs}
        super().__init__(**layer_kwargs)
        for name in _STACK_OWNED[1:]:
            if lstm_kwargs.get(name):
                raise ValueError(
                    f"StackedLSTM does not support `{name}`; build the layers "
                    f"with keras_lstm.LSTM yourself for that. Received: {name}=True"
                )
            lstm_kwargs.pop(name, None)
        self.units = validation.positive_int("units", units)
        self.num_layers = validation.positive_int("num_layers", num_layers)
        self.bidirectional = bool(bidirectional)
        self.inter_layer_dropout = validation.rate("inter_layer_dropout", inter_layer_dropout)
        self.return_sequences = bool(return_sequences)
        self._lstm_kwargs = lstm_kwargs
        self.supports_masking = True
        seed = lstm_kwargs.pop("seed", None)
        self.seed = seed
        # One seed per layer: a shared seed would draw the same dropout masks
        # in every layer.
        layer_seed = (lambda index: None) if seed is None else (lambda index: seed + index)
        self.layers = []
        for index in range(self.num_layers):
            last = index == self.num_layers - 1
            layer = LSTM(
                units,
                return_sequences=return_sequences if last else True,
                dtype=layer_kwargs.get("dtype"),
                name=f"lstm_{index}",
                seed=layer_seed(index),
                **lstm_kwargs,
            )
            if self.bidirectional:
                # The backward layer is built here rather than recreated by
                # Bidirectional from the forward layer's config: during a
                # model load, Keras's shared-object cache (keyed by id()) can
                # hand the forward layer back as the "backward" one.
                backward = LSTM(
                    units,
                    return_sequences=return_sequences if last else True,
                    go_backwards=True,
                    dtype=layer_kwargs.get("dtype"),
                    name=f"backward_lstm_{index}",
                    seed=layer_seed(2 * self.num_layers + index),
                    **lstm_kwargs,
                )
                layer = keras.layers.Bidirectional(layer, backward_layer=backward, name=f"bidirectional_{index}")
            self.layers.append(layer)
        self.dropout_layers = [
            keras.layers.Dropout(self.inter_layer_dropout, seed=layer_seed(self.num_layers + index))
            for index in range(self.num_layers - 1)
        ]

    def build(self, sequences_shape):
        validation.sequence_shape("sequences", sequences_shape)
        shape = tuple(sequences_shape)
        for layer in self.layers:
            layer.build(shape)
            shape = tuple(layer.compute_output_shape(shape))

    def call(self, sequences, mask=None, training=False):
        x = sequences
        for index, layer in enumerate(self.layers):
            if index > 0 and self.inter_layer_dropout > 0:
                x = self.dropout_layers[index - 1](x, training=training)
            x = layer(x, mask=mask, training=training)
        return x

    def compute_mask(self, sequences, mask=None):
        return mask if self.return_sequences else None

    def compute_output_shape(self, sequences_shape):
        shape = tuple(sequences_shape)
        for layer in self.layers:
            shape = tuple(layer.compute_output_shape(shape))
        return shape

    def get_config(self):
        first = self.layers[0]
        first_lstm = first.forward_layer if self.bidirectional else first
        lstm_config = first_lstm.get_config()
        return {
            **super().get_config(),
            "units": self.units,
            "num_layers": self.num_layers,
            "bidirectional": self.bidirectional,
            "inter_layer_dropout": self.inter_layer_dropout,
            "return_sequences": self.return_sequences,
            "seed": self.seed,
            **{name: lstm_config[name] for name in self._lstm_kwargs},
        }
