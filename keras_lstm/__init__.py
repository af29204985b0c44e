"""keras-lstm: the LSTM as a first-class, fast, portable Keras 3 component."""

from keras_lstm.cell import LSTMCell
from keras_lstm.lstm import LSTM
from keras_lstm.stacked import StackedLSTM

__all__ = ["LSTM", "LSTMCell", "StackedLSTM"]
__version__ = "0.1.0"
