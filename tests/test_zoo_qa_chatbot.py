"""qa-chatbot: replies and reads stories on every backend; exports decode the same; the card reproduces."""

import io

import pytest

from keras_lstm import zoo
from keras_lstm.cli import main as cli_main
from keras_lstm.zoo import babi_tasks, qa_chatbot, story_reader
from seq2seq_support import check_bad_input, check_exported_decoding, check_tflite_export


@pytest.fixture(scope="module")
def chatbot():
    return zoo.load("qa-chatbot")


def test_replies(chatbot):
    reply = chatbot.reply("What is a computer?")
    assert isinstance(reply, str) and reply.strip()
    assert len(chatbot.reply(["Hello", "Do you like music?"])) == 2


def test_bad_input_names_the_argument(chatbot):
    check_bad_input(chatbot, chatbot.reply, "prompts")


def test_exported_encoder_and_step_reply_the_same_in_onnxruntime(chatbot, tmp_path):
    check_exported_decoding(chatbot, ["What is a computer?", "Do you like music?", "Tell me a joke"], tmp_path)


def test_exports_to_tflite_with_fused_lstm_ops(chatbot, tmp_path):
    check_tflite_export(chatbot, tmp_path)


def test_chat_command_answers_each_line(chatbot, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("Hello\nWhat is a computer?\nbye\nnot read\n"))
    assert cli_main(["chat"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == chatbot.reply(["Hello", "What is a computer?", "bye"])


def test_story_reader_answers_a_story(chatbot):
    story = ["Mary went to the kitchen.", "John moved to the garden.", "Mary travelled to the office."]
    assert chatbot.answer(story, "Where is Mary?") == "office"
    with pytest.raises(ValueError, match="does not know"):
        chatbot.answer(["Mary went to Paris."], "Where is Mary?")


def test_story_readers_come_from_beside_the_loaded_chat_model(chatbot, tmp_path):
    import shutil

    copy = tmp_path / "qa-chatbot"
    shutil.copytree(chatbot.directory, copy)
    # In the copy, the 10k reader's folder holds the 1k reader: its weights show which was read.
    shutil.rmtree(copy / "story-reader-10k")
    shutil.copytree(copy / "story-reader-1k", copy / "story-reader-10k")
    read = qa_chatbot.Model.load(copy).story_reader("10k").model.get_weights()
    one_k, ten_k = (chatbot.story_reader(size).model.get_weights() for size in ("1k", "10k"))
    assert all((a == b).all() for a, b in zip(read, one_k))
    assert not all((a == b).all() for a, b in zip(read, ten_k))


@pytest.mark.parametrize("size", sorted(qa_chatbot.STORY_READERS))
def test_story_reader_accuracies_reproduce(chatbot, size):
    recorded = chatbot.manifest["metrics"]["stories"][size]
    accuracy = story_reader.evaluate(chatbot.story_reader(size))
    for task in babi_tasks.TASKS:
        # JSON keys are strings; one answer in 1,000 either way for float rounding.
        assert accuracy[task] == pytest.approx(recorded[str(task)], abs=0.15)


def test_chat_scores_reproduce(chatbot):
    """Greedy replies, perplexity and the baselines on every held-out pair. (Beam search's
    figures come from the same decoder: `zoo evaluate` recomputes them; the export test
    checks beam search itself.)"""
    recorded = chatbot.manifest["metrics"]
    results = qa_chatbot.evaluate(chatbot, stories=False, beam=False)
    for source in ("chatterbot", "alice"):
        for system, values in results[source].items():
            for metric, value in values.items():
                assert value == pytest.approx(recorded[source][system][metric], rel=0.03, abs=0.3), (source, system, metric)
