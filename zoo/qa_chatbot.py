"""qa-chatbot: a chatbot you can talk to, that remembers a story you tell it.

`reply` holds a conversation. A line of story sentences ("Mary went to the
kitchen.") is remembered; a question about them ("Where is Mary?") is
answered by the story reader from what was said so far; "start over" forgets
the story; anything else gets the chat model's reply.

Chat: a dual encoder (`reply_ranker`) picks the reply from the bank of the
training pairs' replies, its score plus a reply prior and a TF-IDF term for
replies whose training prompts are near the prompt; trained on the English conversations of
chatterbot-corpus and the fixed question-answer pairs of the ALICE AIML set
(`dialogue_pairs`). The sequence-to-sequence network it replaced
(`seq2seq.Network`, the translator's network) stays as `generate`, its
figures beside the ranker's. Baselines on the same held-out pairs: retrieval
(the reply of the most similar training prompt, TF-IDF cosine), Lowe et
al.'s TF-IDF ranking, and the most common reply. Metrics: Recall@k among 10
candidates, token F1 and exact match (SQuAD's normalisation), perplexity.

Stories: `story_reader` memory networks trained on 1,000 and 10,000
generated questions per bAbI-style task, kept in `zoo/qa-chatbot/story-reader-1k`
and `-10k`; at 10k, readers of some question forms' tasks alone beside it
(`story-reader-10k-tasks-2`, ...: `SPECIALISTS`). `.answer(story, question)`
uses the 10k readers.
"""

import argparse
import re
import string
from collections import Counter
from pathlib import Path

import numpy as np

from keras_lstm.zoo import artifacts, babi_tasks, dialogue_pairs, reply_ranker, seq2seq, story_reader, training

NAME = "qa-chatbot"
# Smaller than the translator's: replies are short (median one word on
# ALICE) and the float16 weights stay under 5 MB.
DEFAULT_CONFIG = {"vocabulary": 2000, "embedding": 192, "encoder_units": 192, "decoder_units": 256, "dropout": 0.2}
SPLIT_SEED = 0
CHATTERBOT_TEST, CHATTERBOT_DEV = 120, 60
ALICE_TEST, ALICE_DEV = 1000, 500
# chatterbot's conversations are 2% of the pairs but most of the small talk:
# each is seen this many times an epoch.
CHATTERBOT_REPEATS = 5
STORY_READERS = {"1k": 1000, "10k": 10000}
# The tasks of question forms that get a reader of their own at a size (each trained on those
# tasks alone, `story_reader.ByQuestionForm`): the forms whose tasks the reader of all nine
# leaves under 95% at 10k (the card). Task 4's reader also scores word matches and is
# taught its facts exclusively (`SPECIALIST_CONFIGS`).
SPECIALISTS = {"1k": (), "10k": ((1, 11), (2,), (3,), (4,))}
SPECIALIST_CONFIGS = {(4,): {"word_matches": 8, "exclusive_supporting": True}}
ONE_READER = "one reader for every task"
RANKER_FOLDER = "reply-ranker"


# Lines that make `reply` forget the story told so far.
START_OVER = ("start over", "new story", "forget the story", "forget it", "reset")
REMEMBERED = "OK, I'll remember that."
FORGOTTEN = "OK, I've forgotten the story. Tell me a new one."
NO_STORY = "I don't know any story yet. Tell me one, such as 'Mary went to the kitchen.'"


class Model(seq2seq.Seq2SeqModel):
    """`.reply(prompts)`, a conversation (see the module); `.answer(story, question)`;
    `.generate(prompts)`, the seq2seq network's reply."""

    name = NAME

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.story = []  # the sentences told in this conversation

    def reply(self, prompts, beam_size=None):
        """The reply to one prompt (str) or to each of a list, in order, as a conversation.
        `beam_size`: chat lines get the seq2seq network's reply with this beam instead of
        the ranker's. A blank prompt is a ValueError and anything but a str a TypeError,
        naming `prompts`."""
        single, _ = seq2seq.checked_texts(prompts, "prompts")
        if beam_size is not None and (not isinstance(beam_size, int) or isinstance(beam_size, bool) or beam_size < 1):
            raise ValueError(f"beam_size={beam_size!r}; expected an int >= 1 (1 is greedy), or None for the ranker")
        replies = [self._respond(" ".join(line.split()), beam_size) for line in ([prompts] if single else prompts)]
        return replies[0] if single else replies

    def _respond(self, line, beam_size):
        if line.lower().rstrip(".!") in START_OVER:
            self.forget()
            return FORGOTTEN
        sentences = story_sentences(line)
        if sentences:
            self.story += sentences
            return REMEMBERED
        if is_story_question(line):
            return self.answer(self.story, line) if self.story else NO_STORY
        if beam_size is not None:
            return self.generate(line, beam_size=beam_size, argument="prompts")
        ranker, bank, prior, vectors, neighbours = self.reply_bank()
        return ranker.choose(line, bank, vectors, prior, neighbours)

    def forget(self):
        """Starts the conversation over: the story told so far is forgotten."""
        self.story = []

    def ranker(self):
        """The reply ranker, from beside this chat model's files (the committed ones for a
        model neither loaded nor saved)."""
        cache = self.__dict__.setdefault("_ranker", {})
        if "model" not in cache:
            cache["model"] = reply_ranker.Model.load(Path(self.directory or artifacts.folder(NAME)) / RANKER_FOLDER)
        return cache["model"]

    def reply_bank(self):
        """(ranker, replies, weighted log-prior, reply encodings, `PromptNeighbours`): what
        `reply` chooses from, encoded once (6,846 replies, a few seconds)."""
        cache = self.__dict__.setdefault("_bank", {})
        if not cache:
            ranker = self.ranker()
            splits = data()
            bank, prior = reply_ranker.reply_bank(splits)
            cache["bank"] = (
                ranker, bank, reply_ranker.PRIOR_WEIGHT * prior, ranker.encode_replies(bank), reply_ranker.neighbours(splits),
            )
        return cache["bank"]

    def story_reader(self, size="10k", tasks=None):
        """The story reader trained on `size` questions per task, from beside this chat model's
        files (the committed ones for a model neither loaded nor saved): of every task, or of
        `tasks` alone (one of `SPECIALISTS[size]`)."""
        if size not in STORY_READERS:
            raise ValueError(f"size={size!r}; expected one of {sorted(STORY_READERS)}")
        if tasks is not None and tuple(tasks) not in SPECIALISTS[size]:
            raise ValueError(f"tasks={tasks!r}; expected None or one of {SPECIALISTS[size]} for size={size!r}")
        cache = self.__dict__.setdefault("_readers", {})
        key = (size, tasks and tuple(tasks))
        if key not in cache:
            cache[key] = story_reader.Model.load(story_reader_dir(size, self.directory, tasks))
        return cache[key]

    def story_readers(self, size="10k"):
        """The readers that answer questions at `size`: the reader of every task and those of
        `SPECIALISTS[size]`, each taking its questions by form (`story_reader.ByQuestionForm`)."""
        return story_reader.ByQuestionForm(self.story_reader(size), [self.story_reader(size, t) for t in SPECIALISTS[size]])

    def answer(self, story, question):
        """One word answering `question` about `story` (sentences, or one text), bAbI-style;
        a ValueError for a story or question the reader cannot read (see `story_reader`)."""
        return self.story_readers("10k").answer(story, question)


def story_sentences(line):
    """The story sentences `line` holds (one or more, each ending in a full stop), or None
    if any part of it is not a sentence the story reader reads."""
    if not line.rstrip().endswith("."):
        return None
    try:
        return story_reader.readable_story(line)
    except ValueError:
        return None


def is_story_question(line):
    """Whether `line` asks what the story reader answers ("Where is Mary?")."""
    line = line if line.endswith("?") else line + "?"
    return babi_tasks.QUESTION_FORM.fullmatch(line) is not None


def story_reader_dir(size, folder=None, tasks=None):
    """Where the story reader trained on `size` questions per task (of `tasks` alone, if given)
    lives, beside the chat model."""
    return Path(folder or artifacts.folder(NAME)) / f"story-reader-{size}{story_reader.tasks_suffix(tasks)}"


def data():
    """{"chatterbot": (train, dev, test), "alice": (train, dev, test)}: pairs with one prompt stay in one split."""
    by_prompt = lambda pair: [pair[0].lower()]  # noqa: E731
    return {
        "chatterbot": training.grouped_split(dialogue_pairs.chatterbot_pairs(), by_prompt, CHATTERBOT_TEST, CHATTERBOT_DEV, SPLIT_SEED),
        "alice": training.grouped_split(dialogue_pairs.aiml_pairs(), by_prompt, ALICE_TEST, ALICE_DEV, SPLIT_SEED),
    }


def train(output=None, *, epochs=12, seed=0, batch_size=64, checkpoint_dir=None, data_parallel=False, config=None,
          callbacks=(), story_readers=True, ranker=True):
    """The seq2seq network's recipe, then (with `ranker`) the reply ranker's and (with
    `story_readers`) both story readers', each saved beside it."""
    if data_parallel:
        raise ValueError("qa-chatbot trains on one device: --data-parallel is for the other recipes")
    splits = data()
    train_pairs = splits["chatterbot"][0] * CHATTERBOT_REPEATS + splits["alice"][0]
    dev_pairs = splits["chatterbot"][1] + splits["alice"][1]
    zoo_model, trained = seq2seq.train(
        Model, train_pairs, dev_pairs, {**DEFAULT_CONFIG, **(config or {})},
        epochs=epochs, seed=seed, batch_size=batch_size, checkpoint_dir=checkpoint_dir, callbacks=callbacks,
    )
    if output is not None:
        zoo_model.save(output, training=trained)
        if ranker:
            reply_ranker.train(Path(output) / RANKER_FOLDER, seed=seed)
        if story_readers:
            for size, per_task in STORY_READERS.items():
                for tasks in (None, *SPECIALISTS[size]):
                    story_reader.train(
                        story_reader_dir(size, output, tasks), per_task=per_task, tasks=tasks, seed=seed,
                        config=SPECIALIST_CONFIGS.get(tasks),
                    )
    return zoo_model, trained


# --- evaluation ------------------------------------------------------------


def normalize(text):
    """SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def token_f1(prediction, reference):
    predicted, expected = normalize(prediction).split(), normalize(reference).split()
    common = sum((Counter(predicted) & Counter(expected)).values())
    if not predicted or not expected:
        return float(predicted == expected)
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def reply_scores(predictions, references):
    """Token F1 and exact match (%), each reference the one reply of its held-out pair."""
    if len(predictions) != len(references) or not references:
        raise ValueError(f"{len(predictions)} predictions and {len(references)} references; expected one each, some")
    return {
        "token_f1": 100 * float(np.mean([token_f1(p, r) for p, r in zip(predictions, references)])),
        "exact_match": 100 * float(np.mean([normalize(p) == normalize(r) for p, r in zip(predictions, references)])),
    }


def retrieval_replies(train_pairs, prompts):
    """The baseline: the reply of the training prompt most similar to each prompt (TF-IDF cosine)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(lowercase=True, ngram_range=(1, 2), sublinear_tf=True)
    known = vectorizer.fit_transform([p for p, _ in train_pairs])
    nearest = (vectorizer.transform(prompts) @ known.T).toarray().argmax(axis=1)
    return [train_pairs[k][1] for k in nearest]


def evaluate(zoo_model, *, baselines=True, stories=True, beam=True, ranking=True):
    splits = data()
    train_all = splits["chatterbot"][0] + splits["alice"][0]
    most_common = Counter(r for _, r in train_all).most_common(1)[0][0]
    ranked = reply_ranker.evaluate(zoo_model.ranker(), baselines=baselines) if ranking else {}
    results = {}
    for source, (_, _, test) in splits.items():
        prompts, references = [p for p, _ in test], [r for _, r in test]
        row = dict(ranked.get(source, {}))
        row["seq2seq greedy"] = reply_scores(zoo_model.generate(prompts, beam_size=1), references)
        if beam:
            row["seq2seq beam 5"] = reply_scores(zoo_model.generate(prompts, beam_size=5), references)
        row["seq2seq greedy"]["perplexity"] = zoo_model.perplexity(test)
        if baselines:
            row.setdefault("retrieval (TF-IDF)", reply_scores(retrieval_replies(train_all, prompts), references))
            row[f"most common reply ({most_common!r})"] = reply_scores([most_common] * len(test), references)
        results[source] = row
    if stories:
        # Task numbers as strings, as they come back from model.json.
        as_json = lambda accuracy: {str(task): value for task, value in accuracy.items()}  # noqa: E731
        results["stories"] = {size: as_json(story_reader.evaluate(zoo_model.story_readers(size))) for size in STORY_READERS}
        # The reader of every task alone, where others take some forms' questions from it.
        results["stories"].update({
            f"{size} {ONE_READER}": as_json(story_reader.evaluate(zoo_model.story_reader(size)))
            for size in STORY_READERS if SPECIALISTS[size]
        })
        if baselines:
            results["stories"]["majority answer"] = as_json(story_reader.majority_baseline())
    return results


# Anchors (bAbI's own data, so a loose comparison: the generator is ours), as issue 19 quotes
# them. Keras's babi_rnn example, 1,000 questions per task, one model per task:
KERAS_EXAMPLE_1K = {1: 100.0, 2: 50.0, 3: 20.5, 6: 50.7, 7: 78.9}
# End-To-End Memory Networks (Sukhbaatar et al. 2015, Table 1), 10k, 100 - error: the LSTM
# column, and the memory network (tasks 1-3 only quoted).
MEMN2N_LSTM_10K = {1: 100.0}
MEMN2N_10K = {1: 100.0, 2: 99.7, 3: 97.9}
# The story reader before this one (one LSTM over story and question), 10k, from its card.
SINGLE_LSTM_10K = {1: 46.1, 2: 38.9, 3: 49.1, 6: 76.2, 7: 73.2}
# The memory network of the version before, trained on answers alone (no supporting facts,
# no previous-hop features), 10k, from its card.
ANSWERS_ONLY_10K = {1: 100.0, 2: 38.0, 3: 50.1, 4: 91.6, 6: 100.0, 7: 99.3, 8: 99.1, 9: 100.0, 11: 96.2}


def story_row_label(name):
    """The table's name for a row of `evaluate`'s "stories"."""
    size, _, alone = name.partition(" ")
    if size not in STORY_READERS:
        return name
    if alone:
        return f"memory network, {size} questions per task, {alone}"
    own = ", ".join("+".join(map(str, tasks)) for tasks in SPECIALISTS[size])
    return f"memory network, {size} questions per task" + (f" (tasks {own}: a reader each, by question form)" if own else "")


def metrics_table(results):
    columns = ["recall@1", "recall@2", "recall@5", "token_f1", "exact_match", "perplexity"]
    lines = ["| held-out pairs | system | R@1 of 10 | R@2 of 10 | R@5 of 10 | token F1 | exact match | perplexity |",
             "|---|---|---|---|---|---|---|---|"]
    for source in ("chatterbot", "alice"):
        for system, values in results[source].items():
            cells = [f"{values[c]:.1f}" if c in values else "" for c in columns]
            lines.append(f"| {source} | {system} | " + " | ".join(cells) + " |")
    if "stories" in results:
        tasks = sorted(babi_tasks.TASKS)
        cell = lambda figures, t: f"{figures[t]:.1f}%" if t in figures else ""  # noqa: E731
        lines += ["", "| story reader | " + " | ".join(f"task {t}: {babi_tasks.TASKS[t]}" for t in tasks) + " |",
                  "|---|" + "---|" * len(tasks)]
        for name, accuracy in results["stories"].items():
            label = story_row_label(name)
            lines.append(f"| {label} | " + " | ".join(cell({int(k): v for k, v in accuracy.items()}, t) for t in tasks) + " |")
        for label, figures in (
            ("previous memory network, trained on answers alone, 10k", ANSWERS_ONLY_10K),
            ("previous reader: one LSTM over story and question, 10k", SINGLE_LSTM_10K),
            ("Keras babi_rnn example, 1k (bAbI data)", KERAS_EXAMPLE_1K),
            ("LSTM in the MemN2N paper, 10k (bAbI data)", MEMN2N_LSTM_10K),
            ("MemN2N, 10k (bAbI data)", MEMN2N_10K),
        ):
            lines.append(f"| {label} | " + " | ".join(cell(figures, t) for t in tasks) + " |")
    return "\n".join(lines)


# --- `keras-lstm zoo run qa-chatbot ...` and `keras-lstm chat` --------------


def run(zoo_model, argv):
    parser = argparse.ArgumentParser(
        prog=f"keras-lstm zoo run {NAME}",
        description="Reply to prompts, in order, as one conversation (story sentences are remembered, "
        "questions about them answered); or answer a question about a story (--story, --question).",
    )
    parser.add_argument("prompts", nargs="*", help="things to say to the chatbot")
    parser.add_argument("--story", help="a story, sentences ending in full stops")
    parser.add_argument("--question", help="a question about --story, e.g. 'Where is Mary?'")
    parser.add_argument("--beam", type=int, help="reply with the seq2seq network, this beam size (1: greedy), not the ranker")
    args = parser.parse_args(argv)
    if (args.story is None) != (args.question is None):
        parser.error("--story and --question go together")
    if args.story is not None:
        print(zoo_model.answer(args.story, args.question))
    for prompt in args.prompts:
        print(zoo_model.reply(prompt, beam_size=args.beam))
    if not args.prompts and args.story is None:
        parser.error("give prompts, or --story and --question")
    return 0


def chat(stream, out, beam_size=None):
    """The `keras-lstm chat` loop: a reply for each line of `stream` until it ends or says
    "bye"; one conversation, so a story told is remembered until "start over"."""
    zoo_model = Model.load()
    interactive = stream.isatty()
    if interactive:
        print("Talk to the keras-lstm chatbot. Tell it a story ('Mary went to the kitchen.') and ask about it "
              "('Where is Mary?'); 'start over' forgets the story; an empty line or 'bye' ends.", file=out)
    while True:
        if interactive:
            print("> ", end="", file=out, flush=True)
        line = stream.readline()
        if not line or (interactive and not line.strip()):
            break
        if not line.strip():
            continue
        print(zoo_model.reply(line.strip(), beam_size=beam_size), file=out, flush=True)
        if line.strip().lower() in ("bye", "goodbye", "quit", "exit"):
            break
    return 0
