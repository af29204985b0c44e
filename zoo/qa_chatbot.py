"""qa-chatbot: a chat model you can talk to, and a story reader that answers questions.

Chat: sequence to sequence with attention (`seq2seq.Network`, the
translator's network) from a prompt to a reply, trained on the English
conversations of chatterbot-corpus and the fixed question-answer pairs of
the ALICE AIML set (`dialogue_pairs`). Baselines on the same held-out pairs:
retrieval (the reply of the most similar training prompt, TF-IDF cosine) and
the most common reply. Metrics: token F1 and exact match (SQuAD's
normalisation), and the seq2seq model's perplexity.

Stories: `story_reader` models trained on 1,000 and 10,000 generated
questions per bAbI-style task, kept in `zoo/qa-chatbot/story-reader-1k` and
`-10k`; `.answer(story, question)` uses the 10k one.
"""

import argparse
import re
import string
from collections import Counter
from pathlib import Path

import numpy as np

from keras_lstm.zoo import artifacts, dialogue_pairs, seq2seq, story_reader, training

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


class Model(seq2seq.Seq2SeqModel):
    """`.reply(prompt)` and `.answer(story, question)`."""

    name = NAME

    def reply(self, prompts, beam_size=1):
        """The reply to one prompt (str) or each of a list (or tuple); greedy unless `beam_size` > 1.
        A blank prompt is a ValueError and anything but a str a TypeError, naming `prompts`."""
        return self.generate(prompts, beam_size, argument="prompts")

    def story_reader(self, size="10k"):
        """The story reader trained on `size` questions per task, from beside this chat model's
        files (the committed ones for a model neither loaded nor saved)."""
        if size not in STORY_READERS:
            raise ValueError(f"size={size!r}; expected one of {sorted(STORY_READERS)}")
        cache = self.__dict__.setdefault("_readers", {})
        if size not in cache:
            cache[size] = story_reader.Model.load(story_reader_dir(size, self.directory))
        return cache[size]

    def answer(self, story, question):
        """One word answering `question` about `story` (sentences, or one text), bAbI-style;
        a ValueError for a story or question the reader cannot read (see `story_reader`)."""
        return self.story_reader("10k").answer(story, question)


def story_reader_dir(size, folder=None):
    """Where the story reader trained on `size` questions per task lives, beside the chat model."""
    return Path(folder or artifacts.folder(NAME)) / f"story-reader-{size}"


def data():
    """{"chatterbot": (train, dev, test), "alice": (train, dev, test)}: pairs with one prompt stay in one split."""
    by_prompt = lambda pair: [pair[0].lower()]  # noqa: E731
    return {
        "chatterbot": training.grouped_split(dialogue_pairs.chatterbot_pairs(), by_prompt, CHATTERBOT_TEST, CHATTERBOT_DEV, SPLIT_SEED),
        "alice": training.grouped_split(dialogue_pairs.aiml_pairs(), by_prompt, ALICE_TEST, ALICE_DEV, SPLIT_SEED),
    }


def train(output=None, *, epochs=12, seed=0, batch_size=64, checkpoint_dir=None, data_parallel=False, config=None,
          callbacks=(), story_readers=True):
    """The chat model's recipe (and, with `story_readers`, both story readers')."""
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
        if story_readers:
            for size, per_task in STORY_READERS.items():
                story_reader.train(story_reader_dir(size, output), per_task=per_task, seed=seed)
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


def evaluate(zoo_model, *, baselines=True, stories=True, beam=True):
    splits = data()
    train_all = splits["chatterbot"][0] + splits["alice"][0]
    most_common = Counter(r for _, r in train_all).most_common(1)[0][0]
    results = {}
    for source, (_, _, test) in splits.items():
        prompts, references = [p for p, _ in test], [r for _, r in test]
        row = {"seq2seq greedy": reply_scores(zoo_model.reply(prompts), references)}
        if beam:
            row["seq2seq beam 5"] = reply_scores(zoo_model.reply(prompts, beam_size=5), references)
        row["seq2seq greedy"]["perplexity"] = zoo_model.perplexity(test)
        if baselines:
            row["retrieval (TF-IDF)"] = reply_scores(retrieval_replies(train_all, prompts), references)
            row[f"most common reply ({most_common!r})"] = reply_scores([most_common] * len(test), references)
        results[source] = row
    if stories:
        # Task numbers as strings, as they come back from model.json.
        as_json = lambda accuracy: {str(task): value for task, value in accuracy.items()}  # noqa: E731
        results["stories"] = {size: as_json(story_reader.evaluate(zoo_model.story_reader(size))) for size in STORY_READERS}
        if baselines:
            results["stories"]["majority answer"] = as_json(story_reader.majority_baseline())
    return results


PAPER_LSTM_1K = {1: 50, 2: 20, 3: 20, 6: 48, 7: 49}


def metrics_table(results):
    from keras_lstm.zoo import babi_tasks

    lines = ["| held-out pairs | system | token F1 | exact match | perplexity |", "|---|---|---|---|---|"]
    for source in ("chatterbot", "alice"):
        for system, values in results[source].items():
            perplexity = f"{values['perplexity']:.1f}" if "perplexity" in values else ""
            lines.append(f"| {source} | {system} | {values['token_f1']:.1f} | {values['exact_match']:.1f} | {perplexity} |")
    if "stories" in results:
        tasks = sorted(babi_tasks.TASKS)
        lines += ["", "| story reader | " + " | ".join(f"task {t}: {babi_tasks.TASKS[t]}" for t in tasks) + " |",
                  "|---|" + "---|" * len(tasks)]
        for name, accuracy in results["stories"].items():
            label = f"LSTM, {name} questions per task" if name in STORY_READERS else name
            lines.append(f"| {label} | " + " | ".join(f"{accuracy[str(t)]:.1f}%" for t in tasks) + " |")
        lines.append("| paper's LSTM, 1k (bAbI data, Weston et al. 2015) | " + " | ".join(f"{PAPER_LSTM_1K[t]}%" for t in tasks) + " |")
    return "\n".join(lines)


# --- `keras-lstm zoo run qa-chatbot ...` and `keras-lstm chat` --------------


def run(zoo_model, argv):
    parser = argparse.ArgumentParser(
        prog=f"keras-lstm zoo run {NAME}",
        description="Reply to prompts, or answer a question about a story (--story, --question).",
    )
    parser.add_argument("prompts", nargs="*", help="things to say to the chat model")
    parser.add_argument("--story", help="a story, sentences ending in full stops")
    parser.add_argument("--question", help="a question about --story, e.g. 'Where is Mary?'")
    parser.add_argument("--beam", type=int, default=1, help="beam size for replies (1: greedy)")
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


def chat(stream, out, beam_size=1):
    """The `keras-lstm chat` loop: a reply for each line of `stream` until it ends or says "bye"."""
    zoo_model = Model.load()
    interactive = stream.isatty()
    if interactive:
        print("Talk to the keras-lstm chat model (an LSTM seq2seq); an empty line or 'bye' ends.", file=out)
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
