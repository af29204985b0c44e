"""Trained reference models, imported as `keras_lstm.zoo`.

The models (forecasting, speech recognition, translation, a chatbot) arrive
with the zoo issues; this package holds their place in the layout.
"""
