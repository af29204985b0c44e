"""ONNX and TFLite export, imported as `keras_lstm.export`.

    from keras_lstm.export import to_onnx, to_tflite

`to_onnx` writes native ONNX `LSTM` nodes (export/onnx.py), `to_tflite`
TFLite's fused `UNIDIRECTIONAL_SEQUENCE_LSTM` (export/tflite.py); what the
target's op does not take exports as the step in plain ops, named in the
report's "fallbacks". `litert.run` runs an exported .tflite file at any batch
size and length. Each exporter imports its toolchain (onnx, TensorFlow) only
when called.
"""

from keras_lstm.export.onnx import to_onnx
from keras_lstm.export.tflite import to_tflite

__all__ = ["to_onnx", "to_tflite"]
