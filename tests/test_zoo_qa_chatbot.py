"""qa-chatbot: holds a conversation about a story, replies and reads stories on every backend;
exports reply the same; the card reproduces."""

import io

import pytest

from keras_lstm import zoo
from keras_lstm.cli import main as cli_main
from keras_lstm.zoo import babi_tasks, qa_chatbot, reply_ranker, story_reader
from seq2seq_support import check_bad_input, check_exported_decoding, check_tflite_export


@pytest.fixture(scope="module")
def loaded():
    return zoo.load("qa-chatbot")


@pytest.fixture
def chatbot(loaded):
    """The loaded chatbot at the start of a conversation."""
    loaded.forget()
    return loaded


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
    lines = ["Hello", "Mary went to the kitchen.", "Where is Mary?", "What is a computer?", "bye", "not read"]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    assert cli_main(["chat"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed == chatbot.reply(lines[:5])
    assert printed[1:3] == [qa_chatbot.REMEMBERED, "kitchen"]


def test_conversation_remembers_the_story_until_it_starts_over(chatbot):
    assert chatbot.reply("Where is Mary?") == qa_chatbot.NO_STORY
    said = ["Mary went to the kitchen.", "John picked up the football.", "John went to the garden. Mary moved to the office."]
    assert chatbot.reply(said) == [qa_chatbot.REMEMBERED] * 3
    assert chatbot.story == ["Mary went to the kitchen.", "John picked up the football.", "John went to the garden.",
                             "Mary moved to the office."]
    # Questions are answered from the story so far, by the 10k reader.
    assert chatbot.reply(["Where is Mary?", "where is john", "Is John in the garden?"]) == ["office", "garden", "yes"]
    assert chatbot.reply("What is John carrying?") == "football"
    assert chatbot.reply("Where is Mary?") == chatbot.answer(chatbot.story, "Where is Mary?")
    # Anything else is chat: the ranker's choice from the reply bank.
    ranker, bank, prior, vectors, neighbours = chatbot.reply_bank()
    assert chatbot.reply("Do you like music?") == ranker.choose("Do you like music?", bank, vectors, prior, neighbours)
    assert chatbot.reply("Do you like music?") in bank
    assert chatbot.reply("Start over.") == qa_chatbot.FORGOTTEN
    assert chatbot.story == [] and chatbot.reply("Where is Mary?") == qa_chatbot.NO_STORY
    chatbot.reply("Sandra journeyed to the hallway.")
    assert chatbot.reply("Where is Sandra?") == "hallway"
    chatbot.forget()
    assert chatbot.story == []


def test_a_line_that_is_partly_a_story_is_chat(chatbot):
    reply = chatbot.reply("Mary went to the kitchen. Then the moon.")
    assert reply != qa_chatbot.REMEMBERED and chatbot.story == []


def test_beam_size_replies_with_the_seq2seq_network(chatbot):
    assert chatbot.reply("What is a computer?", beam_size=1) == chatbot.generate("What is a computer?", beam_size=1)
    with pytest.raises(ValueError, match=r"beam_size=0; expected an int >= 1"):
        chatbot.reply("Hello", beam_size=0)


def test_exported_encoders_choose_the_same_replies_in_onnxruntime(chatbot, tmp_path):
    ranker, bank, prior, _, neighbours = chatbot.reply_bank()
    reports = reply_ranker.export(ranker, tmp_path, bank, prior, neighbours, formats=("onnx",))
    # One bidirectional LSTM node per averaged ranker (`reply_ranker.Network`).
    members = ranker.config["members"]
    assert all(report["max_error"] < 1e-4 and report["lstm_nodes"] == members for report in reports.values())
    prompts = ["What is a computer?", "Do you like music?", "Tell me a joke", "Hello", "Who are you?"]
    assert reply_ranker.OnnxRanker(tmp_path).choose(prompts) == ranker.choose(prompts, bank, None, prior, neighbours)


def test_encoders_export_to_tflite_with_fused_lstm_ops(chatbot, tmp_path):
    ranker, bank, prior, *_ = chatbot.reply_bank()
    reports = reply_ranker.export(ranker, tmp_path, bank[:50], prior[:50], formats=("tflite",))
    for report in reports.values():  # two directions per averaged ranker
        assert report["fused_lstm_ops"] == 2 * ranker.config["members"] and report["max_error"] < 1e-4
        assert not [op for op in report["ops"] if op.startswith("Flex") or op == "WHILE"]


def test_story_reader_answers_a_story(chatbot):
    story = ["Mary went to the kitchen.", "John moved to the garden.", "Mary travelled to the office."]
    assert chatbot.answer(story, "Where is Mary?") == "office"
    # One text, sentences without their full stop, a question without its mark: the same.
    assert chatbot.answer(" ".join(story), "Where is Mary?") == "office"
    assert chatbot.answer([s.rstrip(".") for s in story], "Where is  Mary") == "office"


def test_story_reader_answers_generated_stories_as_it_does_in_a_batch(chatbot):
    """`answer` (checked, one at a time) reads the generator's stories as `answer_many`
    does in a batch of stories of every length: the reader's LSTMs read padding (no mask),
    so `answer_many` batches a story only with stories padded to its own shape."""
    reader = chatbot.story_readers("10k")
    # 40 per task: batched by length alone (padded to the batch's longest), 6 of these 360
    # answers were not those given alone.
    examples = [(story, question) for task in babi_tasks.TASKS for story, question, _ in babi_tasks.examples(task, 40, 9)]
    alone = [reader.answer_many([example])[0] for example in examples]
    assert alone == reader.answer_many(examples)
    assert [chatbot.answer(story, question) for story, question in examples[::20]] == alone[::20]



STORY = ["Mary went to the kitchen."]
QUESTIONS = ("'Where is Mary\\?', 'Where is the football\\?', 'Where was the football before the kitchen\\?', "
             "'Is John in the garden\\?', 'How many objects is Daniel carrying\\?'")


@pytest.mark.parametrize(
    "story, question, match",
    [
        ([], "Where is Mary?", r"story=\[\] has no sentences; expected sentences such as 'Mary went to the kitchen.'"),
        ("", "Where is Mary?", r"story='' has no sentences"),
        (" . . ", "Where is Mary?", r"story=' . . ' has no sentences"),
        (None, "Where is Mary?", r"story is NoneType; expected a list of sentences or one text"),
        (["Mary went to the kitchen.", 3], "Where is Mary?", r"story\[1\] is int; expected a sentence \(str\)"),
        (["Mary went to Paris."], "Where is Mary?",
         r"story\[0\]='Mary went to Paris.' uses words the model does not know: \['paris'\]"),
        (["the the the."], "Where is Mary?", r"story\[0\]='the the the.' is not a sentence the model reads; expected one such as"),
        ("Mary went to the kitchen. Kitchen Mary.", "Where is Mary?", r"sentence 2 of story='Kitchen Mary.' is not a sentence"),
        (STORY, "", rf"question=''; expected a question such as {QUESTIONS}"),
        (STORY, None, r"question=None; expected a question such as"),
        (STORY, 7, r"question=7; expected a question such as"),
        (STORY, "What is love?", r"question='What is love\?' uses words the model does not know: \['love'\]"),
        (STORY, "Mary Mary?", rf"question='Mary Mary\?' is not a question the model reads; expected one such as {QUESTIONS}"),
    ],
)
def test_story_reader_refuses_what_it_cannot_read(chatbot, story, question, match):
    with pytest.raises(ValueError, match=match):
        chatbot.answer(story, question)


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


def test_questions_go_to_the_reader_trained_on_the_tasks_of_their_form(chatbot):
    readers = chatbot.story_readers("10k")
    assert readers.general is chatbot.story_reader("10k") and readers.general.config["tasks"] == sorted(babi_tasks.TASKS)
    asked = (("Where is the milk?", [2]), ("Where was the milk before the garden?", [3]), ("Where is Mary?", [1, 11]),
             ("What is the garden west of?", [4]))
    for question, tasks in asked:
        assert readers.reader_for(question).config["tasks"] == tasks
        assert readers.reader_for(question).config["questions_per_task"] == 10000
    assert readers.reader_for("Is Mary in the garden?") is readers.general
    # The one reader of the 1k size answers everything.
    assert chatbot.story_readers("1k").specialists == []
    with pytest.raises(ValueError, match=r"tasks=\(6,\); expected None or one of"):
        chatbot.story_reader("10k", (6,))


@pytest.mark.parametrize("size", sorted(qa_chatbot.STORY_READERS) + [f"10k {qa_chatbot.ONE_READER}"])
def test_story_reader_accuracies_reproduce(chatbot, size):
    recorded = chatbot.manifest["metrics"]["stories"][size]
    readers = chatbot.story_readers(size) if size in qa_chatbot.STORY_READERS else chatbot.story_reader(size.split()[0])
    accuracy = story_reader.evaluate(readers)
    for task in babi_tasks.TASKS:
        # JSON keys are strings; one answer in 1,000 either way for float rounding.
        assert accuracy[task] == pytest.approx(recorded[str(task)], abs=0.15)


def test_chat_scores_reproduce(chatbot):
    """The ranker's Recall@k and chosen replies, greedy seq2seq replies, perplexity and the
    baselines on every held-out pair. (Beam search's figures come from the same decoder: `zoo
    evaluate` recomputes them; the export test checks beam search itself.)"""
    recorded = chatbot.manifest["metrics"]
    results = qa_chatbot.evaluate(chatbot, stories=False, beam=False)
    for source in ("chatterbot", "alice"):
        for system, values in results[source].items():
            for metric, value in values.items():
                assert value == pytest.approx(recorded[source][system][metric], rel=0.03, abs=0.3), (source, system, metric)


# --- the metrics, against values worked out by hand ---------------------------


def test_normalize_is_squads():
    assert qa_chatbot.normalize("The Cat, a HAT and an  apple!") == "cat hat and apple"


def test_token_f1_counts_each_shared_word_as_often_as_both_have_it():
    # "The cat, the cat and the hat!" -> cat cat and hat (4 words); "A cat in a hat." -> cat
    # in hat (3). Shared: cat once (the reference has one), hat once = 2. Precision 2/4,
    # recall 2/3, F1 = 2 * (1/2) * (2/3) / (1/2 + 2/3) = 4/7 = 0.571. Counting every predicted
    # word found in the reference (3 of 4) gives 6/7; not normalising (The, cat,, ...) less.
    assert qa_chatbot.token_f1("The cat, the cat and the hat!", "A cat in a hat.") == pytest.approx(4 / 7)
    assert qa_chatbot.token_f1("The", "a") == 1.0  # both empty once normalised
    assert qa_chatbot.token_f1("hello", "the") == 0.0


def test_reply_scores_average_over_pairs():
    # F1: "The cat." / "cat" = 1; "a dog" / "the dog barked": precision 1/1, recall 1/2,
    # F1 2/3; "hello" / "bye" = 0. Mean (1 + 2/3 + 0) / 3 = 5/9 = 55.6 %. Exact match after
    # normalising: only the first, 1/3 = 33.3 % (without normalising: 0 %).
    scores = qa_chatbot.reply_scores(["The cat.", "a dog", "hello"], ["cat", "the dog barked", "bye"])
    assert scores == {"token_f1": pytest.approx(500 / 9), "exact_match": pytest.approx(100 / 3)}
    with pytest.raises(ValueError, match="2 predictions and 3 references"):
        qa_chatbot.reply_scores(["a", "b"], ["a", "b", "c"])


def test_retrieval_baseline_replies_as_the_most_similar_training_prompt():
    pairs = [("hello there", "Hi!"), ("what is your name", "I am a bot."), ("do you like music", "I like jazz.")]
    # "your name?" shares "your" and "name" (and the bigram) with the second prompt only.
    assert qa_chatbot.retrieval_replies(pairs, ["your name?", "music please"]) == ["I am a bot.", "I like jazz."]


def generated(train_answers, test_answers):
    """A stand-in for babi_tasks.examples: one task whose training and test questions have these answers."""
    def examples(task, count, seed):
        answers = train_answers if seed == story_reader.TRAINING_SEED else test_answers
        return [(["Mary went to the kitchen."], "Where is Mary?", answer) for answer in answers]

    return examples


def test_story_accuracy_and_the_majority_baseline(monkeypatch):
    monkeypatch.setattr(babi_tasks, "TASKS", {1: "single supporting fact"})
    training, test = ["kitchen", "kitchen", "garden"], ["kitchen", "garden", "garden", "garden"]
    monkeypatch.setattr(babi_tasks, "examples", generated(training, test))
    # The training answers' most common is kitchen; on the test answers it is right once
    # in 4 = 25 % (the test answers' own majority, garden, would give 75 %).
    assert story_reader.majority_baseline() == {1: pytest.approx(25.0)}

    class Reader:
        config = {"tasks": [1]}  # the tasks it was trained on: the ones evaluate asks

        def answer_many(self, examples):
            return ["kitchen", "garden", "kitchen", "garden"]

    # Predicted kitchen, garden, kitchen, garden against kitchen, garden, garden, garden:
    # 3 of 4 = 75 %.
    assert story_reader.evaluate(Reader()) == {1: pytest.approx(75.0)}
