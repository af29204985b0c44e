"""The story reader: its layers against direct computations, its encoding against a hand-made
example, and a small reader that trains, saves, loads and answers, on generated stories and on
bAbI's own file format, on every backend."""

import keras
import numpy as np
import pytest

import keras_lstm
from keras_lstm.cli import main as cli_main
from keras_lstm.zoo import babi_files, babi_tasks, memory_network, story_reader

# --- the layers ----------------------------------------------------------------


def test_recency_weights_give_each_fact_what_later_facts_leave():
    gates = np.array([[0.5, 0.0, 1.0, 0.25], [0.9, 0.9, 0.0, 0.0]], "float32")
    # r_j = g_j * prod_{k > j} (1 - g_k), written out: row 1: the third gate is shut (1), so
    # nothing before it is read; the fourth keeps 3/4 of it. Row 2: 0.9 * 0.1, then 0.9.
    expected = [[0.5 * 1.0 * 0.0 * 0.75, 0.0, 1.0 * 0.75, 0.25], [0.9 * 0.1, 0.9, 0.0, 0.0]]
    weights = keras.ops.convert_to_numpy(memory_network.recency_weights(keras.ops.convert_to_tensor(gates)))
    np.testing.assert_allclose(weights, expected, atol=1e-5)


def test_each_sentence_runs_the_lstm_on_every_sentence_alone():
    layer = keras_lstm.LSTM(5)
    each = memory_network.EachSentence(layer)
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 6)).astype("float32")
    together = keras.ops.convert_to_numpy(each(x))
    for b in range(2):
        for s in range(3):
            alone = keras.ops.convert_to_numpy(layer(x[b : b + 1, s]))[0]
            np.testing.assert_allclose(together[b, s], alone, rtol=1e-5, atol=1e-6)


def test_bag_of_words_sums_the_words_there_are():
    ids = np.array([[0, 0, 3, 1], [2, 2, 2, 2]], "int32")
    vectors = np.arange(2 * 4 * 3, dtype="float32").reshape(2, 4, 3)
    bags = keras.ops.convert_to_numpy(memory_network.BagOfWords()(vectors, ids))
    np.testing.assert_allclose(bags, [vectors[0, 2] + vectors[0, 3], vectors[1].sum(axis=0)])


def test_sentences_present_are_the_rows_with_a_word():
    story = np.array([[[0, 0], [0, 4]], [[1, 0], [0, 0]]], "int32")
    present = keras.ops.convert_to_numpy(memory_network.SentencePresent()(story))
    assert present.tolist() == [[False, True], [True, False]]


# --- reading and encoding ------------------------------------------------------


def test_encoding_left_pads_words_and_right_aligns_sentences():
    words = ["<pad>", "mary", "went", "to", "the", "kitchen", ".", "where", "is", "?"]
    encoding = story_reader.Encoding(words, max_sentences=2)
    story = ["Mary went to the kitchen.", "Mary went to the kitchen.", "Mary went."]
    encoded = encoding.example(story, "Where is Mary?")
    # The last two sentences are kept.
    assert encoded == ([[1, 2, 3, 4, 5, 6], [1, 2, 6]], [7, 8, 1, 9])
    stories, questions = story_reader.Encoding.arrays([encoded, encoding.example(["Mary went."], "Where is Mary?")])
    assert stories.shape == (2, 4, 8) and questions.shape == (2, 4)
    assert stories[0, 2].tolist() == [0, 0, 1, 2, 3, 4, 5, 6]
    assert stories[0, 3].tolist() == [0, 0, 0, 0, 0, 1, 2, 6]
    assert not stories[0, :2].any() and not stories[1, :3].any()
    assert stories[1, 3].tolist() == [0, 0, 0, 0, 0, 1, 2, 6]
    assert questions[1].tolist() == [7, 8, 1, 9]


# --- a small reader, trained here -------------------------------------------------


@pytest.fixture(scope="module")
def small_reader(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reader")
    config = {"embedding": 8, "units": 8, "hops": 2}
    zoo_model, trained = story_reader.train(
        folder, per_task=40, tasks=[1, 8], epochs=2, config=config, checkpoint_dir=folder / "checkpoint"
    )
    return zoo_model, trained, folder


def test_a_reader_trains_saves_and_loads_the_same(small_reader):
    zoo_model, trained, folder = small_reader
    assert trained["questions"] == 80 and trained["renamed"] is True
    loaded = story_reader.Model.load(folder)
    assert loaded.config["tasks"] == [1, 8] and loaded.config["data"] == "generator"
    examples = [(story, question) for story, question, _ in babi_tasks.examples(8, 12, 3)]
    assert loaded.answer_many(examples) == zoo_model.answer_many(examples)
    # One at a time, checked, as in a batch; answers are the model's own words.
    assert [loaded.answer(story, question) for story, question in examples[:4]] == loaded.answer_many(examples[:4])
    assert set(loaded.answer_many(examples)) <= set(story_reader.answers())
    # evaluate() asks the tasks the reader was trained on.
    assert sorted(story_reader.evaluate(loaded)) == [1, 8]


def test_a_generator_reader_refuses_sentences_of_other_forms(small_reader):
    zoo_model, _, _ = small_reader
    with pytest.raises(ValueError, match=r"story\[0\]='the the the\.' is not a sentence the model reads"):
        zoo_model.answer(["the the the."], "Where is Mary?")
    with pytest.raises(ValueError, match=r"uses words the model does not know: \['paris'\]"):
        zoo_model.answer(["Mary went to Paris."], "Where is Mary?")


def test_renamed_training_stories_keep_their_answers_true():
    from test_zoo_babi_tasks import expected_answer

    rng = np.random.default_rng(0)
    changed = 0
    for task in babi_tasks.TASKS:
        for example in babi_tasks.examples(task, 60, 8):
            story, question, answer = babi_tasks.renamed(example, rng)
            expected = expected_answer(task, story, question)
            assert answer in expected if isinstance(expected, set) else answer == expected, (task, story, question, answer)
            changed += (story, question, answer) != tuple(example)
    assert changed > 0.8 * 60 * len(babi_tasks.TASKS)


# --- bAbI's own files --------------------------------------------------------------


def write_babi_folder(folder):
    """bAbI-format files for tasks 1 and 6, written from the generator (the test's stand-in for the dataset)."""
    for task, name in ((1, "single-supporting-fact"), (6, "yes-no-questions")):
        babi_files.write(folder / f"qa{task}_{name}_train.txt", babi_tasks.examples(task, 60, 11))
        babi_files.write(folder / f"qa{task}_{name}_test.txt", babi_tasks.examples(task, 20, 12))


def test_one_command_trains_and_tests_a_reader_on_babi_files(tmp_path, capsys):
    write_babi_folder(tmp_path)
    output = tmp_path / "reader"
    assert cli_main(["zoo", "babi", str(tmp_path), "--tasks", "1", "6", "--epochs", "1", "--output", str(output),
                     "--checkpoint-dir", str(tmp_path / "checkpoint")]) == 0
    printed = capsys.readouterr().out
    assert "| 1 |" in printed and "| 6 |" in printed and f"wrote {output}" in printed
    reader = story_reader.Model.load(output)
    # Its vocabulary and answers are the files'; it reads any sentence in those words.
    test = babi_files.read(tmp_path / "qa6_yes-no-questions_test.txt")
    assert set(reader.config["answers"]) == {a for _, _, a in babi_files.read(tmp_path / "qa1_single-supporting-fact_train.txt")
                                             + babi_files.read(tmp_path / "qa6_yes-no-questions_train.txt") + test
                                             + babi_files.read(tmp_path / "qa1_single-supporting-fact_test.txt")}
    assert reader.config["data"] == "bAbI files" and not reader.reads_generator_forms
    recorded = reader.manifest["metrics"]
    assert story_reader.accuracy(reader, test) == pytest.approx(recorded["6"])
    assert reader.answer(["the kitchen went to Mary."], "Is Mary in the kitchen?") in ("yes", "no")
    with pytest.raises(ValueError, match=r"uses words the model does not know: \['paris'\]"):
        reader.answer(["Mary went to Paris."], "Where is Mary?")


def test_the_babi_command_names_a_missing_task_file(tmp_path, capsys):
    write_babi_folder(tmp_path)
    assert cli_main(["zoo", "babi", str(tmp_path), "--tasks", "2", "--epochs", "1"]) != 0
    assert "bAbI task 2's train file: no file named 'qa2_*_train.txt'" in capsys.readouterr().err
