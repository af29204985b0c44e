"""The `keras-lstm` command.

    keras-lstm demo
    keras-lstm chat [--beam N]                   (talk to the qa-chatbot zoo model; tell it a story, ask about it)
    keras-lstm zoo list|train|evaluate|run ...   (see keras_lstm/zoo/cli.py)
    keras-lstm export MODEL.keras --format onnx|tflite --out PATH
                      [--streaming] [--quantize dynamic|int8] [--batch-size 1] [--sample FILE.npy|.npz]

The backend is Keras's: set KERAS_BACKEND (tensorflow, jax, torch) before
running. `export` loads a saved model (.keras) and writes it with
`keras_lstm.export`, checked in onnxruntime or LiteRT (on random inputs of 7
steps, or on `--sample`: a model that needs longer inputs, such as the speech
recognizer's raw audio, is checked on a real one); it prints the report as
JSON and exits non-zero (with the reason) if the export is refused.
"""

import argparse
import json
import sys
import zipfile
from pathlib import Path


def _import_our_layers(path):
    """Imports the modules of ours that the .keras file's layers come from (keras_lstm's
    own, and the zoo's: a saved speech recognizer names keras_lstm.zoo.digit_speech_recognizer):
    importing a module registers its layers, which Keras needs before it can load them."""
    import importlib

    import keras_lstm  # noqa: F401

    def modules(config):
        if isinstance(config, dict):
            module = config.get("module")
            if isinstance(module, str) and module.startswith("keras_lstm."):
                yield module
            for value in config.values():
                yield from modules(value)
        elif isinstance(config, list):
            for value in config:
                yield from modules(value)

    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json")) if "config.json" in archive.namelist() else {}
    for module in sorted(set(modules(config))):
        importlib.import_module(module)


def _read_sample(path):
    """--sample: one array (.npy), or one per model input (.npz, in the inputs' order)."""
    import numpy as np

    if not Path(path).is_file():
        raise FileNotFoundError(f"--sample {path}: no such file; expected a .npy array or a .npz of arrays")
    loaded = np.load(path)
    if isinstance(loaded, np.ndarray):
        return loaded
    arrays = [loaded[name] for name in loaded.files]
    return arrays[0] if len(arrays) == 1 else arrays


def _export(args):
    import keras

    # Keras says "File not found" for a file that exists but is no .keras archive.
    if not Path(args.model).is_file():
        raise FileNotFoundError(f"{args.model}: no such file; expected a model saved as .keras")
    if not zipfile.is_zipfile(args.model):
        raise ValueError(f"{args.model} is not a .keras file (not a zip archive); expected a model saved as .keras")
    _import_our_layers(args.model)
    model = keras.saving.load_model(args.model)
    sample = None if args.sample is None else _read_sample(args.sample)
    given = len(sample) if isinstance(sample, list) else 1
    if sample is not None and given != len(model.inputs):
        names = [tensor.name for tensor in model.inputs]
        raise ValueError(
            f"--sample {args.sample} holds {given} array(s); the model takes {len(names)} inputs {names}: "
            "expected an .npz with one array per input, in that order"
        )
    if args.format == "onnx":
        from keras_lstm.export.onnx import to_onnx

        if args.quantize or args.batch_size != 1:
            raise ValueError("--quantize and --batch-size apply to --format tflite only")
        report = to_onnx(model, args.out, streaming=args.streaming, sample_inputs=sample)
    else:
        from keras_lstm.export.tflite import to_tflite

        if args.quantize == "int8":
            raise ValueError("--quantize int8 needs calibration data: use keras_lstm.export.tflite.to_tflite")
        report = to_tflite(
            model, args.out, batch_size=args.batch_size, quantize=args.quantize, streaming=args.streaming,
            sample_inputs=sample,
        )
    print(json.dumps(report, indent=1))


def _demo(args):
    from keras_lstm import demo

    return demo.main()


def _chat(args):
    from keras_lstm.zoo import qa_chatbot

    if args.beam is not None and args.beam < 1:
        raise ValueError(f"--beam {args.beam}: expected 1 or more")
    return qa_chatbot.chat(sys.stdin, sys.stdout, beam_size=args.beam)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="keras-lstm", description="keras-lstm tools")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="run the zoo models, export one, check parity")
    chat = commands.add_parser("chat", help="talk to the qa-chatbot model (reads lines from stdin)")
    chat.add_argument("--beam", type=int, help="reply with the seq2seq network, this beam size (1: greedy), not the ranker")
    export = commands.add_parser("export", help="export a saved .keras model to ONNX or TFLite")
    export.add_argument("model", help="a .keras file")
    export.add_argument("--format", choices=("onnx", "tflite"), required=True)
    export.add_argument("--out", required=True, help="the file to write")
    export.add_argument("--streaming", action="store_true", help="one step with explicit state")
    export.add_argument("--quantize", choices=("dynamic", "int8"), help="TFLite quantization")
    export.add_argument("--batch-size", type=int, default=1, help="TFLite's fixed batch size")
    export.add_argument(
        "--sample", help="inputs to check the file on (.npy, or .npz with one array per input); default random, 7 steps"
    )
    from keras_lstm.zoo import cli as zoo_cli

    zoo_cli.add_commands(commands)
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            return _demo(args)
        if args.command == "chat":
            return _chat(args)
        if args.command == "zoo":
            return zoo_cli.main(args)
        _export(args)
        return 0
    # Bad input the user gave (OSError: a file named on the command line that is missing
    # or unreadable) is one line and exit status 2, not a traceback.
    except (ValueError, RuntimeError, OSError) as error:
        print(f"keras-lstm {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
