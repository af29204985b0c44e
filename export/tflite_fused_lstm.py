"""A keras_lstm cell's weights and options written into TFLite's fused LSTM op.

TF 2.21's converter turns tf-keras's LSTM layer into the builtin
`UNIDIRECTIONAL_SEQUENCE_LSTM`, but only the plain LSTM, and with
`cell_clip = 10` written into every op (tensorflow/compiler/mlir/lite/utils/
lstm_utils.cc): once |c_t| passes 10 the file computes another function.
The op itself takes more (peepholes, projection with its clip, coupled
input-forget gates, cell clipping; see `variants.TFLITE_FUSED`), so the
exporter converts a placeholder LSTM of the right width and this module
rewrites each fused op in the flatbuffer: every weight its own constant (the
converter's constants can be merged with a state tensor of the same shape
and zeros, which then reads the running state as weights), the optional
inputs the cell does not use absent (-1), a cell-state variable of its own,
and the clips as the cell has them (0 is none). Measured in LiteRT against a
float64 implementation of our equations: 1e-7 to 4e-7 relative, each variant
alone and all together (docs/tflite-fused-lstm.md).

The op's 24 inputs (gate order i, f, c, o, as Keras's; matrices are
(units, inputs), the transpose of Keras's blocks):
    0 input; 1-4 input-to-{i,f,c,o} weights; 5-8 recurrent-to-{i,f,c,o};
    9-11 cell-to-{i,f,o} (peepholes); 12-15 {i,f,c,o} gate biases;
    16 projection weights; 17 projection bias; 18 h state (variable);
    19 c state (variable); 20-23 layer-norm coefficients (TFLite's layer
    norm differs from ours: no norm on c_t, epsilon 1e-8, peepholes inside
    the norm, so they stay absent).
Without coupled gates the input gate's slots (1, 5, 9, 12) are present.
"""

import numpy as np

from keras_lstm import gates

_GATE_SLOTS = {"i": (1, 5, 9, 12), "f": (2, 6, 10, 13), "c": (3, 7, None, 14), "o": (4, 8, 11, 15)}
_PROJECTION, _H_STATE, _C_STATE = 16, 18, 19


def op_inputs(cell, weights):
    """{slot: float32 array} for the cell's weights (numpy, by name)."""
    names = gates.gate_names(cell.coupled_gates)
    blocks = {
        key: dict(zip(names, np.split(np.asarray(weights[key]), len(names), axis=-1)))
        for key in ("kernel", "recurrent_kernel")
    }
    bias = weights.get("bias")
    biases = dict(zip(names, np.split(bias, len(names)))) if bias is not None else {}
    inputs = {}
    for name in names:
        kernel_slot, recurrent_slot, peephole_slot, bias_slot = _GATE_SLOTS[name]
        inputs[kernel_slot] = blocks["kernel"][name].T
        inputs[recurrent_slot] = blocks["recurrent_kernel"][name].T
        # The op needs the biases of the gates it has, zeros for use_bias=False.
        inputs[bias_slot] = biases.get(name, np.zeros(cell.units, np.float32))
        if cell.peephole and peephole_slot is not None:
            inputs[peephole_slot] = weights[f"peephole_{name}"]
    if cell.proj_units:
        inputs[_PROJECTION] = np.asarray(weights["projection_kernel"]).T
    return {slot: np.ascontiguousarray(value, np.float32) for slot, value in inputs.items()}


def fused_ops(model):
    """[(subgraph, operator)] of every UNIDIRECTIONAL_SEQUENCE_LSTM, in the file's order."""
    from ai_edge_litert import schema_py_generated as schema

    found = []
    for subgraph in model.subgraphs:
        for operator in subgraph.operators:
            code = model.operatorCodes[operator.opcodeIndex]
            if max(code.builtinCode, code.deprecatedBuiltinCode) == schema.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM:
                found.append((subgraph, operator))
    return found


def read(flatbuffer):
    from ai_edge_litert import schema_py_generated as schema

    return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(flatbuffer, 0))


def bias_marker(model, subgraph, operator):
    """The placeholder's forget-gate bias value, which tells the ops apart: the
    converter does not keep the layers' order (a Bidirectional's backward op
    can come first), so each placeholder gets a distinct constant bias."""
    buffer = model.buffers[subgraph.tensors[operator.inputs[13]].buffer]
    return float(np.frombuffer(bytes(np.asarray(buffer.data, np.uint8)), np.float32)[0])


def rewrite(model, subgraph, operator, cell, weights):
    """Rewrites one fused op of `model` (a ModelT) to compute `cell` with `weights`."""
    from ai_edge_litert import schema_py_generated as schema

    inputs = [int(i) for i in operator.inputs]
    h_state = subgraph.tensors[inputs[_H_STATE]]
    batch = int(h_state.shape[0])
    name = subgraph.tensors[operator.outputs[0]].name.decode() or "lstm"
    new = [inputs[0]] + [-1] * 23
    for slot, value in op_inputs(cell, weights).items():
        new[slot] = _add_tensor(model, subgraph, f"{name}/input_{slot}", value)
    new[_H_STATE] = inputs[_H_STATE]
    new[_C_STATE] = _add_tensor(model, subgraph, f"{name}/cell_state", shape=[batch, cell.units], variable=True)
    operator.inputs = np.array(new, np.int32)
    options = operator.builtinOptions
    assert isinstance(options, schema.UnidirectionalSequenceLSTMOptionsT)
    options.cellClip = float(cell.cell_clip or 0.0)
    options.projClip = float(cell.proj_clip or 0.0)


def write(model):
    """The flatbuffer of `model`, with the buffers no op reads any more emptied
    and each buffer's data 16-byte aligned (the schema's `force_align`)."""
    import flatbuffers

    _empty_unread_buffers(model)
    aligned = _aligned_buffer_class()
    for buffer in model.buffers:
        buffer.__class__ = aligned
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _add_tensor(model, subgraph, name, value=None, shape=None, variable=False):
    from ai_edge_litert import schema_py_generated as schema

    buffer = schema.BufferT()
    if value is not None:
        buffer.data = np.frombuffer(value.tobytes(), np.uint8)
        shape = value.shape
    model.buffers.append(buffer)
    tensor = schema.TensorT()
    tensor.shape = np.array(shape, np.int32)
    tensor.type = schema.TensorType.FLOAT32
    tensor.buffer = len(model.buffers) - 1
    tensor.name = name.encode()
    tensor.isVariable = variable
    subgraph.tensors.append(tensor)
    return len(subgraph.tensors) - 1


def _empty_unread_buffers(model):
    read, unread = set(), set()
    for subgraph in model.subgraphs:
        used = {int(i) for i in subgraph.inputs} | {int(i) for i in subgraph.outputs}
        for operator in subgraph.operators:
            used |= {int(i) for i in operator.inputs if i >= 0} | {int(i) for i in operator.outputs}
            if operator.intermediates is not None:
                used |= {int(i) for i in operator.intermediates}
        for index, tensor in enumerate(subgraph.tensors):
            (read if index in used else unread).add(tensor.buffer)
    for buffer in unread - read - {0}:
        model.buffers[buffer].data = None


def _aligned_buffer_class():
    from ai_edge_litert import schema_py_generated as schema

    class AlignedBuffer(schema.BufferT):
        def Pack(self, builder):
            data = None
            if self.data is not None:
                raw = bytes(np.asarray(self.data, np.uint8))
                builder.StartVector(1, len(raw), 16)
                builder.head = builder.head - len(raw)
                builder.Bytes[builder.head : builder.head + len(raw)] = raw
                data = builder.EndVector()
            schema.BufferStart(builder)
            if data is not None:
                schema.BufferAddData(builder, data)
            schema.BufferAddOffset(builder, self.offset)
            schema.BufferAddSize(builder, self.size)
            return schema.BufferEnd(builder)

    return AlignedBuffer
