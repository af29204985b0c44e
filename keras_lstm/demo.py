"""`make demo`: the zoo models at work, then exported and checked.

1. electricity-forecaster forecasts each of the 14 held-out days.
2. digit-speech-recognizer listens to held-out connected digit strings, and
   hears the same digits exported (raw audio in) to ONNX and TFLite.
3. qa-chatbot replies to held-out prompts (ranked from its reply bank), its
   prompt and reply encoders exported to ONNX choose the same replies in
   onnxruntime, and it is told a generated story, then asked about it.
4. de-en-translator translates held-out German sentences, beside the
   word-by-word dictionary baseline.
5. The forecaster's network is exported to ONNX and TFLite and run in
   onnxruntime and LiteRT beside Keras.

Run: `KERAS_BACKEND=jax python -m keras_lstm.demo` (any backend).
"""

import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

from keras_lstm import zoo


def forecaster_demo():
    from keras_lstm.zoo import electricity_forecaster as ef

    forecaster = zoo.load("electricity-forecaster")
    series = ef.load_series()
    times = ef.series_times(len(series))
    origins = np.arange(len(series) - ef.TEST_SIZE, len(series), ef.DAY)
    median, lower, upper = forecaster.forecast_origins(series, times, origins)
    # The smoothing inside the model, alone: Taylor's method, the card's best baseline.
    smoothing = ef.smoothed_forecasts(ef.smooth(series[: origins.max()], forecaster.config), origins, forecaster.config)
    actual = series[origins[:, None] + np.arange(ef.DAY)]
    print("\n== electricity-forecaster: each held-out day, forecast at midnight ==")
    print(f"  {'day':<12} {'model MAPE':>10} {'smoothing':>10} {'in 80% band':>12}")
    for k, origin in enumerate(origins):
        inside = ef.interval_coverage(actual[k], lower[k], upper[k])
        day = str(times[origin].astype("datetime64[D]"))
        print(f"  {day:<12} {ef.mape(median[k], actual[k]):9.2f}% {ef.mape(smoothing[k], actual[k]):9.2f}% {inside:11.0f}%")
    print(f"  {'all':<12} {ef.mape(median, actual):9.2f}% {ef.mape(smoothing, actual):9.2f}%")
    return forecaster


def recognizer_demo():
    from keras_lstm.zoo import digit_speech_recognizer as dsr
    from keras_lstm.zoo import spoken_digits

    print("\n== digit-speech-recognizer: held-out recordings ==")
    try:
        clips = spoken_digits.load_clips()
    except FileNotFoundError as missing:
        print(f"  skipped: {missing}")
        return
    recognizer = zoo.load("digit-speech-recognizer")
    _, test = spoken_digits.official_split(clips)
    audio, said = dsr.test_strings(test, count=8, seed=11)
    heard = recognizer.recognize(audio)
    for recording, reference, text in zip(audio, said, heard):
        mark = "ok" if reference == text else "MISS"
        print(f"  {len(recording) / 8000:4.1f} s  said {reference:<8} heard {text:<8} {mark}")
    accuracy = dsr.single_digit_accuracy(recognizer, test)
    print(f"  single digits, official test takes (250 recordings): {accuracy:.1f}% recognised")
    recognizer_export_demo(recognizer, audio, heard)


def recognizer_export_demo(recognizer, audio, heard):
    """The whole network, raw audio in (front end included), in onnxruntime and LiteRT."""
    import onnxruntime

    from keras_lstm.export import litert
    from keras_lstm.zoo import digit_speech_recognizer as dsr

    recordings = [recognizer.prepare(a)[None] for a in audio]
    with tempfile.TemporaryDirectory() as folder:
        reports = dsr.export(recognizer, folder)
        onnx_file, tflite_file = (Path(folder) / dsr.EXPORTED_FILES[form] for form in ("onnx", "tflite"))
        session = onnxruntime.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
        runs = {
            "ONNX": lambda x: session.run(None, {"inputs": x})[0],
            "TFLite": lambda x: _silenced(litert.run, tflite_file, {"inputs": x})["outputs"],
        }
        for name, run in runs.items():
            same = sum(
                dsr.greedy_decode(logits, [logits.shape[1]]) == [text] for logits, text in zip(map(run, recordings), heard)
            )
            report = reports[dsr.EXPORTED_FILES[name.lower()]]
            print(f"  exported with its front end ({name}, {report['size_bytes'] / 2**20:.1f} MiB, max rel. error "
                  f"{report['max_error']:.1e}): {same}/{len(heard)} strings heard as in Keras")


def chatbot_demo():
    from keras_lstm.zoo import babi_tasks, qa_chatbot, reply_ranker

    chatbot = zoo.load("qa-chatbot")
    splits = qa_chatbot.data()
    test = splits["chatterbot"][2][:4] + splits["alice"][2][:4]
    prompts = [prompt for prompt, _ in test]
    replies = chatbot.reply(prompts)
    print("\n== qa-chatbot: held-out prompts (never seen in training), replies ranked from the bank ==")
    for (prompt, expected), reply in zip(test, replies):
        print(f"  > {prompt}\n    model: {reply}\n    data:  {expected}")
    ranker, bank, prior, _, neighbours = chatbot.reply_bank()
    with tempfile.TemporaryDirectory() as folder:
        reply_ranker.export(ranker, folder, bank, prior, neighbours, formats=("onnx",))
        in_onnx = reply_ranker.OnnxRanker(folder).choose(prompts)
    same = sum(a == b for a, b in zip(in_onnx, replies))
    print(f"  exported prompt and reply encoders (ONNX): {same}/{len(prompts)} replies identical in onnxruntime")
    story, question, answer = babi_tasks.examples(2, 1, seed=7)[0]
    print("  a conversation:")
    for line in story + [question]:
        print(f"  > {line}\n    {chatbot.reply(line)}")
    print(f"  (true answer: {answer})")


def translator_demo():
    from keras_lstm.zoo import de_en_translator, german_english

    print("\n== de-en-translator: held-out German sentences ==")
    try:
        train, _, test = de_en_translator.data()
    except FileNotFoundError as missing:
        print(f"  skipped: {missing}")
        return
    translator = zoo.load("de-en-translator")
    test = german_english.with_references(test)[:4]
    words = german_english.lexicon(train)
    for (german, references), english in zip(test, translator.translate([de for de, _ in test])):
        print(f"  {german}\n    model:        {english}\n    word by word: "
              f"{german_english.word_by_word(german, words)}\n    dictionary:   {references[0]}")


def export_demo(forecaster):
    from keras_lstm.export.onnx import to_onnx
    from keras_lstm.export.tflite import to_tflite
    from keras_lstm.zoo import electricity_forecaster as ef

    # The exporters take LSTM/Dense chains: the network up to its raw outputs. (The
    # quantile ordering after it is three elementwise operations; the smoothing whose
    # misses it forecasts runs beside it, as the card describes.)
    network = keras.Model(forecaster.model.input, forecaster.model.get_layer("head").output)
    series = ef.load_series()
    origins = ef.test_origins(series)[:1]
    states = ef.smooth(series[: origins.max()], forecaster.config)
    sample = ef.windows(states, ef.series_times(len(series)), origins, forecaster.config)
    print("\n== export: the forecaster's LSTM network, checked against Keras on a test window ==")
    print(f"  {'format':<8} {'size':>9} {'max rel. error':>15}  {'runtime'}")
    with tempfile.TemporaryDirectory() as folder:
        for name, export, runtime in (
            ("ONNX", lambda path: to_onnx(network, path, sample_inputs=sample), "onnxruntime"),
            ("TFLite", lambda path: to_tflite(network, path, sample_inputs=sample), "LiteRT interpreter"),
        ):
            path = Path(folder) / f"forecaster.{name.lower()}"
            report = export(path)
            print(f"  {name:<8} {path.stat().st_size / 1024:7.1f} KiB {report['max_error']:15.1e}  {runtime}")


def _silenced(function, *args):
    """`function(*args)` with what native code writes to stderr dropped (LiteRT's
    "Created TensorFlow Lite XNNPACK delegate" line)."""
    with _native_stderr_silenced():
        return function(*args)


@contextlib.contextmanager
def _native_stderr_silenced():
    """Points file descriptor 2 at /dev/null: what C++ libraries write there goes nowhere."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def import_tensorflow_quietly():
    """Imports TensorFlow with the process's stderr silenced, if it is installed.

    Loading its libraries logs through absl before absl's logging is set up, and those
    lines (oneDNN, "Could not find cuda drivers") ignore TF_CPP_MIN_LOG_LEVEL. On JAX
    and torch the demo loads TensorFlow midway (the TFLite exporter), which put them in
    the middle of its tables. On TensorFlow
    `import keras` has loaded it before the demo starts, and this does nothing.
    """
    try:
        with _native_stderr_silenced():
            import tensorflow  # noqa: F401
    except ImportError:
        pass


def main(argv=None):
    start = time.perf_counter()
    import_tensorflow_quietly()
    print(f"keras-lstm demo on the {keras.backend.backend()} backend")
    forecaster = forecaster_demo()
    recognizer_demo()
    chatbot_demo()
    translator_demo()
    export_demo(forecaster)
    print(f"\ndone in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
