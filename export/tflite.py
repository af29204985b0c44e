"""`to_tflite`: Keras models with keras_lstm layers as TFLite's fused LSTM builtin.

Keras 3's `model.export(format="litert")` turns an LSTM into a `WHILE` loop of
Flex (select TF) ops that the Python interpreters cannot run with a dynamic
batch. TF 2.21's converter still fuses tf-keras 2's LSTM layer into the
`UNIDIRECTIONAL_SEQUENCE_LSTM` builtin when the function is traced with a
static batch (docs/tflite-fused-lstm.md). So this exporter rebuilds
the model in tf-keras with the same weights (`tflite_lstm`), traces it with a
fixed batch size and converts that, then writes each LSTM's weights and
options into its fused op (`tflite_fused_lstm`): no Flex ops, runnable by the
plain LiteRT interpreter. The time axis stays free unless the model or
`steps` fixes it: the fused op runs at any length.

Any model, Sequential or functional, is walked with Keras's own traversal
(`export/common.py`). Layers: `keras_lstm.LSTM` (what the fused op takes, per
`keras_lstm/variants.py`: the plain LSTM, peepholes, projection and its clip,
coupled gates, cell clip; anything else as a `WHILE` loop of plain builtins,
named in the report's "fallbacks"), `Bidirectional` of one, `StackedLSTM`,
`Embedding`, `Dense`, `Concatenate`, `Add`, `Attention` (dot scores),
`AdditiveAttention`, `GlobalAveragePooling1D`, `UnitNormalization`,
`LayerNormalization`, `Rescaling`, `Reshape`, `Identity`, `Dropout`,
`Activation`, fixed slices (`x[..., -16:]`), the `not_equal` op of Embedding's
mask, functional models inside the model, and layers with their own
`export_tflite` (`common.OWN_EXPORT`).

Running the file: the fused op keeps its final h and c in variable tensors,
so a second `invoke()` of one interpreter would start from the last state:
call `interpreter.reset_all_variables()` before each. Its batch is fixed at
`batch_size`; another batch needs the op's two state tensors resized too.
`keras_lstm.export.litert.run` does both.
"""

import keras
import numpy as np

from keras_lstm.export import common, litert, tflite_fused_lstm, tflite_lstm

QUANTIZATIONS = (None, "dynamic", "int8")
_FUSED_LSTM = "UNIDIRECTIONAL_SEQUENCE_LSTM"


def to_tflite(
    model,
    path,
    batch_size=1,
    quantize=None,
    representative_data=None,
    verify=True,
    sample_inputs=None,
    tolerance=None,
    streaming=False,
    steps=None,
):
    """Writes `model` to `path` as a TFLite flatbuffer; returns a report dict.

    Args:
        model: a built Keras model (any backend; need not have been called).
        path: the .tflite file.
        batch_size: the batch the file is made for: the fused LSTM op is
            emitted only for a static batch (`litert.run` runs another). A
            file without fused ops (a streaming step, LSTMs that all run as
            loops) takes any batch.
        quantize: None (float32), "dynamic" (weights int8, dynamic-range),
            or "int8" (full integer, needs `representative_data`: an
            iterable of input batches of shape (batch_size, ...)). Plain
            LSTMs only.
        verify: run the file in the LiteRT interpreter (in a subprocess, so a
            crash is a failure, not the end of the caller) on `sample_inputs`
            (default: the first representative batch, else random inputs) and
            raise, writing nothing, if its outputs differ from the model's by
            more than `tolerance` relative (default 1e-4; 0.1 quantized).
        sample_inputs: an array, or a list with one array per input.
        streaming: export one step: inputs the frame, then "<lstm>_h" and
            "<lstm>_c" of each LSTM layer in order; outputs this step's output,
            then "<lstm>_h_out", "<lstm>_c_out". A step is a few plain
            builtins (no loop, no fused op). Running T steps equals the full
            model. Forward LSTMs only; one input.
        steps: fix every free axis (time) to this length; by default the
            time axis stays free.

    A model with one input and one output has them named "inputs" and
    "outputs"; otherwise they take the Keras names.

    Returns:
        {"path", "size_bytes", "inputs", "outputs", "input_shapes" (None for
        a free axis), "ops", "fused_lstm_ops",
        "fallbacks", "max_error", "states" (streaming: [(name, size)]),
        "state_sizes" (their sizes)}.
    """
    import tensorflow as tf

    if quantize not in QUANTIZATIONS:
        raise ValueError(f"`quantize` must be one of {QUANTIZATIONS}. Received: quantize={quantize!r}")
    if quantize == "int8" and representative_data is None:
        raise ValueError("`quantize='int8'` needs `representative_data`: input batches to calibrate on.")
    if streaming and len(model.inputs) != 1:
        raise ValueError("streaming=True takes a model with one input (the frame).")
    twin, specs, input_names, output_names = _rebuild(model, batch_size, steps, streaming, quantize)
    function = tf.function(
        lambda *inputs: dict(zip(output_names, keras.tree.flatten(twin.model(list(inputs)))))
    )
    concrete = function.get_concrete_function(*specs)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], twin.model)
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "dynamic":
        # TF 2.21's new dynamic-range quantizer leaves the fused LSTM's
        # weights in float32 (file size unchanged, measured); the legacy one
        # quantizes them to int8 (73 kB -> 25 kB for LSTM(64)).
        converter.experimental_new_dynamic_range_quantizer = False
    if quantize == "int8":
        dtypes = [spec.dtype.as_numpy_dtype for spec in specs]
        converter.representative_dataset = lambda: (
            [np.asarray(x, dtype) for x, dtype in zip(_as_list(batch), dtypes)] for batch in representative_data
        )
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    flatbuffer = _write_fused_lstms(converter.convert(), twin, quantize)

    if sample_inputs is None and representative_data is not None:
        # A quantized model is only accurate on data like its calibration
        # data, so it is checked on that, not on random inputs.
        sample_inputs = next(iter(representative_data))
    if sample_inputs is None:
        samples = common.sample_inputs(model, batch=batch_size, steps=steps or 7)
    else:
        samples = [np.asarray(x) for x in _as_list(sample_inputs)]
    run = litert.run_in_subprocess(flatbuffer, dict(zip(input_names, samples)), twin.states)
    report = {
        "path": str(path),
        "size_bytes": len(flatbuffer),
        "inputs": input_names,
        "outputs": output_names,
        "input_shapes": run["input_shapes"],
        "ops": run["ops"],
        "fused_lstm_ops": run["ops"].count(_FUSED_LSTM),
        "fallbacks": list(twin.fallbacks),
        "max_error": None,
        "states": list(twin.states),
        "state_sizes": [size for _, size in twin.states],
    }
    if verify:
        expected = common.keras_outputs(model, samples)
        actual = [run["outputs"][name] for name in output_names]
        if streaming and actual[0].ndim != expected[0].ndim:  # the model returns its last output
            actual[0] = actual[0][:, -1]
        tolerance = common.default_tolerance(quantize) if tolerance is None else tolerance
        report["max_error"] = common.check_agreement("TFLite", output_names, actual, expected, tolerance)
    with open(path, "wb") as file:
        file.write(flatbuffer)
    return report


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _rebuild(model, batch_size, steps, streaming, quantize):
    """The tf-keras twin of `model` (of one step of it, when streaming), its
    input specs, and the names of its inputs and outputs.

    A first pass may find an LSTM whose final c is used, which the fused op
    does not give; the rebuild then runs again with that LSTM as a loop. A
    twin without fused ops is rebuilt with a free batch.
    """
    needs_cell_state = set()
    while True:
        try:
            rebuilt = _rebuild_once(model, batch_size, steps, streaming, quantize, needs_cell_state)
            break
        except tflite_lstm.CellStateUsed as used:
            if used.layer_name in needs_cell_state:
                raise
            needs_cell_state.add(used.layer_name)
    if not rebuilt[0].stand_ins:
        # No fused op, which alone needs a static batch: the file takes any batch.
        rebuilt = _rebuild_once(model, None, steps, streaming, quantize, needs_cell_state)
    return rebuilt


def _rebuild_once(model, batch_size, steps, streaming, quantize, needs_cell_state):
    import tensorflow as tf
    import tf_keras

    twin = tflite_lstm.Twin(tf, tf_keras, batch_size, streaming, quantize, needs_cell_state)
    single = len(model.inputs) == 1 and len(model.outputs) == 1
    inputs, specs, input_names = [], [], []
    for name, shape, dtype in common.model_inputs(model):
        name = "inputs" if single else name
        if streaming:
            shape = shape[1:]  # one frame: no time axis
        shape = tuple(d if d is not None else steps for d in shape)
        inputs.append(tf_keras.Input(shape, batch_size=batch_size, dtype=dtype, name=name))
        specs.append(tf.TensorSpec((batch_size, *shape), tf.as_dtype(dtype), name=name))
        input_names.append(name)
    outputs = common.walk(model, lambda layer, *args, **kwargs: _emit(twin, layer, *args, **kwargs), inputs)
    tflite_lstm.check_no_cell_state(outputs)
    output_names = ["outputs"] if single else common.output_names(model, len(outputs))
    if streaming:
        names = [name for name, _ in twin.states]
        specs += [tf.TensorSpec((batch_size, size), tf.float32, name=name) for name, size in twin.states]
        input_names += names
        outputs += twin.state_outputs
        output_names += [f"{name}_out" for name in names]
        inputs += twin.state_inputs
    twin.model = tf_keras.Model(inputs, outputs)
    for rebuilt, weights in twin.pending_weights:
        rebuilt.set_weights(weights)
    return twin, specs, input_names, output_names


def _emit(twin, layer, *args, **kwargs):
    """The tf-keras twin of one layer: what its outputs become."""
    tf, tf_keras = twin.tf, twin.tf_keras
    tflite_lstm.check_no_cell_state((args, kwargs))
    x = args[0]
    if isinstance(layer, (keras.layers.Dropout, keras.layers.InputLayer)):
        return x
    if isinstance(layer, keras.layers.Identity):
        return tf_keras.layers.Activation("linear", name=twin.name(layer.name))(x)
    if type(layer).__name__ == "NotEqual" and len(args) == 2 and np.isscalar(args[1]):
        return tf.math.not_equal(x, args[1])
    if isinstance(layer, keras.layers.Embedding):
        return _with_weights(twin, tf_keras.layers.Embedding(layer.input_dim, layer.output_dim, name=twin.name(layer.name)), layer)(x)
    if isinstance(layer, keras.layers.Dense):
        activation = tflite_lstm.tf_activation(common.activation_name(layer, f"Layer {layer.name!r}"))
        dense = tf_keras.layers.Dense(layer.units, use_bias=layer.use_bias, name=twin.name(layer.name))
        return activation(_with_weights(twin, dense, layer)(x))
    if isinstance(layer, keras.layers.Activation):
        return tflite_lstm.tf_activation(common.activation_name(layer, f"Layer {layer.name!r}"))(x)
    if isinstance(layer, keras.layers.Concatenate):
        return tf_keras.layers.Concatenate(axis=layer.axis)(list(x))
    if isinstance(layer, keras.layers.Add):
        return tf_keras.layers.Add()(list(x))
    if type(layer).__name__ == "GetItem":
        common.slice_bounds(layer, args[1])  # the keys both exporters take, or the ValueError
        return x[args[1]]
    if isinstance(layer, keras.layers.Reshape):
        return tf_keras.layers.Reshape(layer.target_shape, name=twin.name(layer.name))(x)
    if isinstance(layer, (keras.layers.Attention, keras.layers.AdditiveAttention)):
        return _attention(tf, layer, x, kwargs)
    if isinstance(layer, keras.layers.GlobalAveragePooling1D):
        common.check_average_pooling(layer)
        mask = kwargs.get("mask")
        if mask is None:
            return tf.reduce_mean(x, axis=1)
        kept = tf.cast(mask, x.dtype)[:, :, None]
        return tf.reduce_sum(x * kept, axis=1) / tf.reduce_sum(kept, axis=1)
    if isinstance(layer, keras.layers.UnitNormalization):
        common.check_unit_normalization(layer)
        return x * tf.minimum(tf.math.rsqrt(tf.reduce_sum(x * x, axis=-1, keepdims=True)), 1e12)
    if isinstance(layer, keras.layers.Rescaling):
        scale, offset = (np.asarray(keras.ops.convert_to_numpy(v), np.float32) for v in (layer.scale, layer.offset))
        return x * scale + offset
    if isinstance(layer, keras.layers.LayerNormalization):
        common.check_layer_normalization(layer)
        gamma, beta = common.layer_normalization_weights(layer)
        return tflite_lstm.TensorFlowOps().layer_norm(x, 1.0 if gamma is None else gamma, beta, layer.epsilon)
    if common.is_recurrent(layer):
        return common.emit_recurrent(layer, x, kwargs, lambda *args: tflite_lstm.emit(twin, *args))
    if common.is_nested_model(layer):
        return common.walk_nested(layer, lambda *a, **k: _emit(twin, *a, **k), args)
    if common.own_export(layer, "TFLite"):
        return layer.export_tflite(tflite_lstm.TensorFlowOps(), x)
    raise common.unsupported(layer, "TFLite")


def _with_weights(twin, rebuilt, layer):
    twin.pending_weights.append((rebuilt, layer.get_weights()))
    return rebuilt


def _attention(tf, layer, inputs, kwargs):
    additive = common.check_attention(layer, kwargs)
    query, value = inputs[0], inputs[1]
    key = inputs[2] if len(inputs) > 2 else value
    query_mask, value_mask = kwargs.get("mask") or (None, None)
    if additive:
        summed = tf.tanh(query[:, :, None, :] + key[:, None, :, :])
        if layer.use_scale:
            summed = summed * keras.ops.convert_to_numpy(layer.scale)
        scores = tf.reduce_sum(summed, axis=-1)
    else:
        scores = tf.matmul(query, key, transpose_b=True)
    if value_mask is not None:
        scores = tf.where(tf.cast(value_mask, tf.bool)[:, None, :], scores, scores - 1e9)
    weights = tf.nn.softmax(scores, axis=-1)
    output = tf.matmul(weights, value)
    if query_mask is not None:
        output = tf.where(tf.cast(query_mask, tf.bool)[:, :, None], output, tf.zeros_like(output))
    return (output, weights) if kwargs.get("return_attention_scores") else output


def _write_fused_lstms(flatbuffer, twin, quantize):
    """Each stand-in's op gets its LSTM's weights and options (float), found by
    its marker bias; a quantized op keeps the converter's weights and loses
    the converter's cell clip of 10 (dynamic; full-integer ops keep theirs)."""
    model = tflite_fused_lstm.read(flatbuffer)
    by_marker = {marker: (cell, weights) for marker, cell, weights in twin.fused}
    for subgraph, operator in tflite_fused_lstm.fused_ops(model):
        if quantize == "int8":
            continue
        if quantize:
            operator.builtinOptions.cellClip = 0.0
            continue
        marker = tflite_fused_lstm.bias_marker(model, subgraph, operator)
        cell, weights = by_marker.pop(marker)
        tflite_fused_lstm.rewrite(model, subgraph, operator, cell, weights)
    if by_marker:
        raise RuntimeError(f"The converter did not fuse {len(by_marker)} of the model's LSTM layers.")
    return tflite_fused_lstm.write(model)
