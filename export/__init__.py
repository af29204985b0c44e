"""ONNX and TFLite export, imported as `keras_lstm.export`.

The exporters arrive with the export issue; this package holds their place in
the layout.
"""
