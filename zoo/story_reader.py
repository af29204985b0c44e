"""An LSTM that reads a bAbI-style story and a question, and answers with one word.

The classic LSTM baseline of Weston et al. (2015): the story's words, a
separator and the question's words are one sequence; a `keras_lstm.LSTM`
reads it and its last state picks the answer. One model learns all five
generated tasks (`babi_tasks`) at once; it is trained twice, on 1,000 and on
10,000 questions per task, as the paper's 1k and 10k settings.
"""

import keras
import numpy as np

import keras_lstm
from keras_lstm.zoo import babi_tasks, training
from keras_lstm.zoo.base import ZooModel

SEPARATOR = "<question>"
TEST_QUESTIONS = 1000  # per task
TRAINING_SEED, TEST_SEED = 1, 2  # disjoint random streams: training and test stories differ
DEFAULT_CONFIG = {"embedding": 64, "units": 128, "dropout": 0.2}


def vocabulary():
    """Every word the generator can write, in a fixed order; id 0 pads, 1 is the separator."""
    words = set()
    for group in (
        babi_tasks.PEOPLE, babi_tasks.PLACES, babi_tasks.OBJECTS, babi_tasks.MOVES, babi_tasks.TAKES,
        babi_tasks.DROPS, babi_tasks.COUNTS,
    ):
        for phrase in group:
            words.update(babi_tasks.tokens(phrase))
    words.update(babi_tasks.tokens("the there. where is was before how many objects carrying in yes no ?"))
    return ["<pad>", SEPARATOR] + sorted(words)


def answers():
    return sorted(set(babi_tasks.PLACES) | {"yes", "no"} | set(babi_tasks.COUNTS))


def word_ids(stories_and_questions):
    """(story sentences, question) pairs -> lists of word ids, or a ValueError naming an unknown word."""
    index = {word: k for k, word in enumerate(vocabulary())}
    rows = []
    for k, (story, question) in enumerate(stories_and_questions):
        words = [w for sentence in story for w in babi_tasks.tokens(sentence)] + [SEPARATOR] + babi_tasks.tokens(question)
        unknown = [w for w in words if w not in index]
        if unknown:
            raise ValueError(f"story {k} uses words the model does not know: {sorted(set(unknown))[:5]}")
        rows.append([index[w] for w in words])
    return rows


# What the model reads (the generator's forms), the stop each ends with, and examples.
READABLE = {
    "sentence": (
        babi_tasks.SENTENCE_FORM, ".",
        "'Mary went to the kitchen.', 'John picked up the football.', 'Sandra dropped the milk.'",
    ),
    "question": (
        babi_tasks.QUESTION_FORM, "?",
        "'Where is Mary?', 'Where is the football?', 'Where was the football before the kitchen?', "
        "'Is John in the garden?', 'How many objects is Daniel carrying?'",
    ),
}


def _readable(text, name, kind):
    """`text` with single spaces, ending in its stop (added if missing), or a ValueError
    naming it (`name`): a word the model does not know, or not a `kind` the model reads."""
    form, stop, examples = READABLE[kind]
    text = " ".join(text.split())
    text = text if text.endswith(stop) else text + stop
    unknown = sorted(set(babi_tasks.tokens(text)) - set(vocabulary()))
    if unknown:
        raise ValueError(f"{name}={text!r} uses words the model does not know: {unknown[:5]}")
    if not form.fullmatch(text):
        raise ValueError(f"{name}={text!r} is not a {kind} the model reads; expected one such as {examples}")
    return text


def readable_story(story):
    """`story` (a list of sentences, or one text of sentences ending in full stops) as a
    list of sentences the model reads, or a ValueError naming the first it does not."""
    if isinstance(story, str):
        sentences = [s.strip() + "." for s in story.split(".") if s.strip()]
        names = [f"sentence {k + 1} of story" for k in range(len(sentences))]
    elif isinstance(story, (list, tuple)):
        sentences, names = list(story), [f"story[{k}]" for k in range(len(story))]
    else:
        raise ValueError(f"story is {type(story).__name__}; expected a list of sentences or one text")
    if not sentences:
        raise ValueError(f"story={story!r} has no sentences; expected sentences such as {READABLE['sentence'][2]}")
    for sentence, name in zip(sentences, names):
        if not isinstance(sentence, str):
            raise ValueError(f"{name} is {type(sentence).__name__}; expected a sentence (str)")
    return [_readable(sentence, name, "sentence") for sentence, name in zip(sentences, names)]


def readable_question(question):
    """`question` with single spaces, or a ValueError when the model cannot read it."""
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"question={question!r}; expected a question such as {READABLE['question'][2]}")
    return _readable(question, "question", "question")


def encode(stories_and_questions):
    """Padded int32 ids (batch, length) of (story sentences, question) pairs."""
    return training.pad(word_ids(stories_and_questions), 16, "int32")


class Batches(keras.utils.PyDataset):
    """(ids, answer index) batches of similar length, in a fixed shuffled order."""

    def __init__(self, rows, labels, batch_size, seed):
        super().__init__()
        self.rows, self.labels = rows, np.asarray(labels, "int32")
        self.batches = training.shuffled(training.length_batches([len(r) for r in rows], batch_size), seed)

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        batch = self.batches[index]
        return training.pad([self.rows[k] for k in batch], 16, "int32"), self.labels[batch]


class Model(ZooModel):
    """`.answer(story, question)`: one word."""

    name = "story-reader"

    @classmethod
    def build_model(cls, config):
        words = keras.Input((None,), dtype="int32", name="story_and_question")
        x = keras.layers.Embedding(len(vocabulary()), config["embedding"], mask_zero=True, name="embedding")(words)
        x = keras.layers.Dropout(config["dropout"])(x)
        x = keras_lstm.LSTM(config["units"], name="reader")(x)
        x = keras.layers.Dropout(config["dropout"])(x)
        scores = keras.layers.Dense(len(answers()), activation="softmax", name="answer")(x)
        return keras.Model(words, scores, name="story_reader")

    def answer(self, story, question):
        """The answer word to `question` about `story` (a list of sentences, or one text).

        The model reads only the generator's sentences and questions (`babi_tasks`);
        a ValueError names anything else (an empty story, a sentence or question it
        cannot read, a word it does not know) rather than answer it.
        """
        story, question = readable_story(story), readable_question(question)
        scores = self.model.predict_on_batch(encode([(story, question)]))
        return answers()[int(np.argmax(scores[0]))]

    def answer_many(self, examples, batch_size=256):
        """Answers for (story, question) pairs, batched by length."""
        rows = word_ids(examples)
        predicted = [None] * len(examples)
        for batch in training.length_batches([len(r) for r in rows], batch_size):
            scores = self.model.predict_on_batch(training.pad([rows[k] for k in batch], 16, "int32"))
            for k, row in zip(batch, scores):
                predicted[k] = answers()[int(np.argmax(row))]
        return predicted


def dataset(per_task, seed):
    examples = []
    for task in babi_tasks.TASKS:
        examples += [(task, story, question, answer) for story, question, answer in babi_tasks.examples(task, per_task, seed)]
    return examples


def train(output=None, *, per_task=1000, epochs=None, seed=0, batch_size=32, config=None, checkpoint_dir=None):
    keras.utils.set_random_seed(seed)
    config = {**DEFAULT_CONFIG, **(config or {}), "questions_per_task": per_task}
    examples = dataset(per_task, TRAINING_SEED)
    order = np.random.default_rng(seed).permutation(len(examples))
    rows = word_ids([(examples[k][1], examples[k][2]) for k in order])
    labels = [answers().index(examples[k][3]) for k in order]
    held_out = len(rows) // 10  # a dev tenth, to watch for overfitting
    train_data = Batches(rows[held_out:], labels[held_out:], batch_size, seed)
    dev_data = Batches(rows[:held_out], labels[:held_out], 256, seed)
    epochs = epochs or (60 if per_task <= 1000 else 10)
    model = Model.build_model(config)
    model.compile(optimizer=keras.optimizers.Adam(2e-3, clipnorm=1.0), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history, seconds = training.fit(
        model, train_data, None, validation_data=dev_data,
        checkpoint_dir=checkpoint_dir or training.default_checkpoint_dir(f"story-reader-{per_task}"),
        epochs=epochs, verbose=2,
    )
    zoo_model = Model(model, config)
    trained = {
        "seed": seed, "epochs": epochs, "batch_size": batch_size, "backend": keras.backend.backend(),
        "seconds": round(seconds, 1), "questions": len(examples),
        "final_accuracy": float(history.history["accuracy"][-1]), "final_val_accuracy": float(history.history["val_accuracy"][-1]),
    }
    if output is not None:
        zoo_model.save(output, training=trained)
    return zoo_model, trained


def evaluate(zoo_model):
    """Accuracy per task (%) on TEST_QUESTIONS fresh questions per task."""
    results = {}
    for task in babi_tasks.TASKS:
        test = babi_tasks.examples(task, TEST_QUESTIONS, TEST_SEED)
        predicted = zoo_model.answer_many([(story, question) for story, question, _ in test])
        results[task] = 100 * float(np.mean([p == answer for p, (_, _, answer) in zip(predicted, test)]))
    return results


def majority_baseline():
    """Accuracy per task (%) of always answering the task's most common training answer."""
    results = {}
    for task in babi_tasks.TASKS:
        train = [a for _, _, a in babi_tasks.examples(task, 1000, TRAINING_SEED)]
        test = [a for _, _, a in babi_tasks.examples(task, TEST_QUESTIONS, TEST_SEED)]
        common = max(set(train), key=train.count)
        results[task] = 100 * float(np.mean([a == common for a in test]))
    return results
