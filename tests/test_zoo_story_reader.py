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


def hop_reading_before_the_recency_read(size, sharpness=50.0):
    """A MemoryHop (facts of `size` features) whose score is sharpness * tanh(e_j) of the
    previous hop's recency read (the third of the four position features: e and p of the
    softmax read, then of the recency read): it reads the facts before that read and
    nothing else."""
    hop = memory_network.MemoryHop(4)
    hop.build((None, None, size), (None, None, 0))  # facts; no word matches
    kernel = np.zeros((4 * size + 4, 4), "float32")
    kernel[4 * size + 2, 0] = 1.0  # after the four interaction blocks and the softmax read's (e, p)
    hop.gate_hidden.set_weights([kernel, np.zeros(4, "float32")])
    hop.gate_score.set_weights([np.array([[sharpness], [0], [0], [0]], "float32"), np.zeros(1, "float32")])
    return hop


def test_a_hop_knows_which_facts_lie_before_each_previous_read():
    size = 3
    hop = hop_reading_before_the_recency_read(size)
    tensor = keras.ops.convert_to_tensor  # `reads` is called with what `call` gets: tensors
    facts = tensor(np.random.default_rng(0).normal(size=(2, 4, size)).astype("float32"))
    question = memory = tensor(np.zeros((2, size), "float32"))
    present = tensor(np.array([[True] * 4, [False, True, True, True]]))
    # A read need not sum to 1: it counts as shares. The softmax read looked elsewhere
    # (fact 0, fact 1): its positions are features of their own, which this hop ignores.
    softmax_read = tensor(np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0]], "float32"))
    recency_read = tensor(np.array([[0, 0, 0.5, 0], [0, 0, 0, 2.0]], "float32"))
    previous = (softmax_read, recency_read)
    matches = tensor(np.zeros((2, 4, 0), "float32"))
    attention, recency = (keras.ops.convert_to_numpy(w) for w in hop.reads(facts, question, memory, present, matches, previous))
    # Row 1: facts 0 and 1 lie before the recency read (fact 2); row 2: facts 1 and 2
    # (fact 0 is absent, fact 3 was read).
    np.testing.assert_allclose(attention, [[0.5, 0.5, 0, 0], [0, 0.5, 0.5, 0]], atol=1e-6)
    # Gates: sigmoid(50 tanh 1) = 1 before the recency read, sigmoid(0) = 1/2 elsewhere; the
    # recency read: row 1: fact 1 keeps (1 - 1/2)(1 - 1/2), fact 2 1/2 * 1/2, fact 3 1/2.
    # (recency_weights' 1e-6 inside the logarithm moves them by about that much.)
    np.testing.assert_allclose(recency, [[0, 0.25, 0.25, 0.5], [0, 0, 0.5, 0.5]], atol=1e-5)
    memory_out, *reads = hop(facts, question, memory, present, matches, *previous)
    found = keras.ops.convert_to_numpy(memory_network.Found()(reads))
    np.testing.assert_allclose(found, 1 - (1 - attention) * (1 - recency), atol=1e-6)
    assert tuple(memory_out.shape) == (2, size)
    # The first hop has no previous read: every present fact counts as before it.
    first, _ = hop.reads(facts, question, memory, present, matches)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(first), [[0.25] * 4, [0, 1 / 3, 1 / 3, 1 / 3]], atol=1e-6)


def test_word_matches_say_which_last_words_of_a_sentence_are_which_of_the_question():
    # Word ids, left-padded: a story of two sentences (the second is padding) and a question.
    story = np.array([[[0, 5, 6, 7], [0, 0, 0, 0]]], "int32")
    question = np.array([[7, 0, 5]], "int32")[:, [1, 0, 2]]  # left-padded: 0, 7, 5
    matches = keras.ops.convert_to_numpy(memory_network.WordMatches(3)(story, question))
    assert matches.shape == (1, 2, 9)
    expected = np.zeros((3, 3))  # [k-th of the sentence's last 3 words, l-th of the question's]
    expected[0, 2] = 1  # the sentence's 5 is the question's last word
    expected[2, 1] = 1  # its 7 the question's middle one; 6 is not asked; padding matches nothing
    np.testing.assert_array_equal(matches[0, 0].reshape(3, 3), expected)
    assert not matches[0, 1].any()
    # A window longer than the words: the missing ones are padding. Window 0: no features.
    wide = keras.ops.convert_to_numpy(memory_network.WordMatches(5)(story, question)).reshape(2, 5, 5)
    np.testing.assert_array_equal(wide[0, 2:, 2:], expected)
    assert wide.sum() == 2
    assert keras.ops.convert_to_numpy(memory_network.WordMatches(0)(story, question)).shape == (1, 2, 0)


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


def test_supporting_targets_mark_the_columns_of_the_supporting_sentences():
    words = story_reader.vocabulary()
    encoding = story_reader.Encoding(words, max_sentences=3)
    asked = [
        babi_tasks.Question(["Mary went to the kitchen.", "John went to the garden.", "Mary went to the office.",
                             "John got the milk."], "Where is the milk?", "garden", [3, 1]),
        babi_tasks.Question(["Sandra went to the hallway.", "Sandra went to the office."], "Where is Sandra?", "office", [1]),
        babi_tasks.Question(["Mary went to the office.", "John went to the garden.", "Mary went to the bedroom.",
                             "John got the milk."], "Where is the milk?", "garden", [3, 0]),
    ]
    stories, _ = story_reader.Encoding.arrays([encoding.example(q.story, q.question) for q in asked])
    targets = encoding.supporting(asked, stories.shape[1], hops=3)
    assert targets.shape == (3, 3, stories.shape[1]) and set(np.unique(targets)) <= {0.0, 1.0}
    for row, q in enumerate(asked):
        for hop in range(3):
            marked = np.flatnonzero(targets[hop, row])
            # A hop past the question's facts is taught its last one.
            fact = q.supporting[min(hop, len(q.supporting) - 1)]
            # A fact cut off the story's start has no target.
            if fact < len(q.story) - 3:
                assert marked.size == 0, (row, hop)
                continue
            (column,) = marked
            ids = [i for i in stories[row, column] if i]
            assert ids == encoding.ids(q.story[fact]), (row, hop)
    # Row 3's second fact (sentence 0) was cut: only the last three sentences are kept; the
    # third hop is taught that cut fact too, so nothing.
    assert not targets[1, 2].any() and not targets[2, 2].any()
    # Row 2 has one fact: every hop is taught it (column 3 of 4: stories are right-aligned).
    assert [np.flatnonzero(targets[hop, 1]).tolist() for hop in range(3)] == [[stories.shape[1] - 1]] * 3


def test_supporting_fact_loss_is_minus_the_log_of_what_the_hop_found():
    targets = np.array([[0, 1, 0], [0, 0, 0]], "float32")
    found = np.array([[0.9, 0.5, 0.2], [0.3, 0.3, 0.3]], "float32")
    loss = keras.ops.convert_to_numpy(story_reader.supporting_fact_loss(keras.ops.convert_to_tensor(targets),
                                                                        keras.ops.convert_to_tensor(found)))
    # Row 1: -log 0.5, whatever the other facts hold (no renormalising); row 2: no target, no loss.
    np.testing.assert_allclose(loss, [np.log(2), 0.0], atol=1e-6)
    # Exclusive: the other facts cost -log(1 - found_j) too, in a row with a target only.
    exclusive = keras.ops.convert_to_numpy(story_reader.supporting_fact_loss(
        keras.ops.convert_to_tensor(targets), keras.ops.convert_to_tensor(found), exclusive=True))
    np.testing.assert_allclose(exclusive, [-np.log(0.5) - np.log(0.1) - np.log(0.8), 0.0], atol=1e-5)


def test_the_network_with_found_outputs_what_each_hop_found():
    config = {**story_reader.DEFAULT_CONFIG, "embedding": 8, "units": 8, "hops": 2, "words": story_reader.vocabulary(),
              "answers": story_reader.answers()}
    network = story_reader.build_network(config, found=True)
    encoding = story_reader.Encoding(config["words"], 50)
    examples = babi_tasks.examples(2, 3, seed=1)
    stories, questions = story_reader.Encoding.arrays([encoding.example(s, q) for s, q, _ in examples])
    answer, *found = [keras.ops.convert_to_numpy(out) for out in network([stories, questions])]
    assert answer.shape == (3, len(config["answers"])) and len(found) == 2
    present = (stories != 0).any(axis=-1)
    for share in found:
        # Each read gives a fact at most all of itself, and together the reads at most 2.
        assert np.all((share >= 0) & (share <= 1 + 1e-6)) and np.all(share.sum(axis=-1) <= 2 + 1e-5)
        assert np.all(share[~present] < 1e-5) and np.all(share.sum(axis=-1) >= 1 - 1e-5)
    # The answering network is the same one without the reads.
    plain = keras.Model(network.inputs, network.outputs[0])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(plain([stories, questions])), answer, rtol=1e-5)


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
    assert trained["questions"] == 80 and trained["renamed"] is True and trained["supporting_facts"] is True
    loaded = story_reader.Model.load(folder)
    assert loaded.config["tasks"] == [1, 8] and loaded.config["data"] == "generator"
    examples = [(story, question) for story, question, _ in babi_tasks.examples(8, 12, 3)]
    assert loaded.answer_many(examples) == zoo_model.answer_many(examples)
    # One at a time, checked, as in a batch; answers are the model's own words.
    assert [loaded.answer(story, question) for story, question in examples[:4]] == loaded.answer_many(examples[:4])
    assert set(loaded.answer_many(examples)) <= set(story_reader.answers())
    # evaluate() asks the tasks the reader was trained on.
    assert sorted(story_reader.evaluate(loaded)) == [1, 8]


def test_training_goes_on_from_a_trained_reader(small_reader, tmp_path):
    """`initial` carries the weights over: an epoch at a vanishing learning rate leaves the
    answers as they were (a fresh network, seeded differently, would not give them)."""
    zoo_model, _, _ = small_reader
    examples = story_reader.generated(40, story_reader.TRAINING_SEED, [1, 8])
    went_on, _ = story_reader.fit(
        examples, zoo_model.config, epochs=1, learning_rate=1e-12, initial=zoo_model, seed=5,
        checkpoint_dir=tmp_path / "checkpoint",
    )
    asked = [(story, question) for story, question, _ in babi_tasks.examples(8, 12, 3)]
    np.testing.assert_allclose(
        went_on.model.predict_on_batch(story_reader.Encoding.arrays([went_on.encoding.example(*a) for a in asked])),
        zoo_model.model.predict_on_batch(story_reader.Encoding.arrays([zoo_model.encoding.example(*a) for a in asked])),
        atol=1e-5,
    )


def test_readers_by_question_form_give_each_question_to_the_reader_of_its_tasks(small_reader):
    """A specialist takes a question when it was trained on every task that asks its form:
    the small reader (tasks 1 and 8) takes "What is Mary carrying?" (task 8's alone), not
    "Where is Mary?" (tasks 1 and 11), which stays with the general reader."""
    specialist, _, _ = small_reader

    class General:
        config = {"tasks": [1, 7, 8, 11]}

        def answer_many(self, examples, batch_size=256):
            return [f"general {k}" for k, _ in enumerate(examples)]

    readers = story_reader.ByQuestionForm(General(), [specialist])
    assert readers.config["tasks"] == [1, 7, 8, 11]
    assert readers.reader_for("What is Mary carrying?") is specialist
    assert readers.reader_for("Where is Mary?") is readers.general
    assert readers.reader_for("How many objects is Mary carrying?") is readers.general
    examples = [(story, question) for task in (8, 1, 7, 8) for story, question, _ in babi_tasks.examples(task, 3, 4)]
    answered = readers.answer_many(examples)
    # In order: the specialist's answers where it was asked, the general reader's (numbered by
    # its own batch) elsewhere.
    carrying = [examples[k] for k in (0, 1, 2, 9, 10, 11)]
    assert [answered[k] for k in (0, 1, 2, 9, 10, 11)] == specialist.answer_many(carrying)
    assert answered[3:9] == [f"general {k}" for k in range(6)]
    assert readers.answer(*examples[0]) == specialist.answer(*examples[0])
    with pytest.raises(ValueError, match=r"question='Mary Mary\?' is not a question the model reads"):
        readers.answer(examples[0][0], "Mary Mary?")


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
    """bAbI-format files for tasks 1 and 6, written from the generator with their supporting
    facts (the test's stand-in for the dataset)."""
    for task, name in ((1, "single-supporting-fact"), (6, "yes-no-questions")):
        babi_files.write(folder / f"qa{task}_{name}_train.txt", babi_tasks.questions(task, 60, 11))
        babi_files.write(folder / f"qa{task}_{name}_test.txt", babi_tasks.questions(task, 20, 12))


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
    # The files' supporting facts taught the hops.
    assert reader.manifest["training"]["supporting_facts"] is True and reader.config["supporting_weight"] > 0
    recorded = reader.manifest["metrics"]
    assert story_reader.accuracy(reader, test) == pytest.approx(recorded["6"])
    assert reader.answer(["the kitchen went to Mary."], "Is Mary in the kitchen?") in ("yes", "no")
    with pytest.raises(ValueError, match=r"uses words the model does not know: \['paris'\]"):
        reader.answer(["Mary went to Paris."], "Where is Mary?")


def test_the_babi_command_names_a_missing_task_file(tmp_path, capsys):
    write_babi_folder(tmp_path)
    assert cli_main(["zoo", "babi", str(tmp_path), "--tasks", "2", "--epochs", "1"]) != 0
    assert "bAbI task 2's train file: no file named 'qa2_*_train.txt'" in capsys.readouterr().err
