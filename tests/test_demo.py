"""`make demo`'s own output: what native libraries log while TensorFlow loads goes nowhere.

(The demo itself is not run here: it takes a minute and loads every zoo model.)
"""

import os

from keras_lstm import demo


def test_native_stderr_is_silenced_inside_the_block_only(capfd):
    # os.write reaches file descriptor 2 as C++ logging does, around Python's sys.stderr.
    with demo._native_stderr_silenced():
        os.write(2, b"I0000 port.cc:153] oneDNN custom operations are on.\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"


def test_importing_tensorflow_quietly_can_be_repeated():
    demo.import_tensorflow_quietly()
    demo.import_tensorflow_quietly()  # already imported: nothing to do, nothing raised
