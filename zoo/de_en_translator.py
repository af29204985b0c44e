"""de-en-translator: German sentences to English, sequence to sequence with attention.

Data: the aligned example sentences of Debian's `trans-de-en` dictionary
(see `german_english`), split by the recipe into train, dev and test with no
sentence in two splits. Subwords: one sentencepiece BPE vocabulary learned
from the training sentences of both languages. Network: `seq2seq.Network`
(bidirectional `keras_lstm.LSTM` encoder, `keras_lstm.LSTM` decoder with
additive attention and a lexical output layer). Decoding: greedy or beam search.

Baseline: word-by-word lookup in the same dictionary (`german_english.word_by_word`).
Metrics: BLEU and chrF from sacrebleu on the test split.
"""

import argparse
import re

from keras_lstm.zoo import german_english, parallel_corpus, seq2seq

NAME = "de-en-translator"
# Sennrich & Zhang (2019) for small data: a small BPE vocabulary, dropout on
# whole words as well as units, label smoothing, and a lexical output layer
# (Nguyen & Chiang 2018, also in their list). The dictionary's words and short
# phrases are mixed into the sentence pairs (see `relevant_phrases`); a few
# epochs on the sentences alone then fit the network to the sentences it is
# tested on (dev BLEU 4.71 -> 6.20 greedy, measured).
DEFAULT_CONFIG = {
    **seq2seq.DEFAULT_CONFIG, "vocabulary": 2000, "embedding": 192, "word_dropout": 0.1,
    "label_smoothing": 0.1, "dictionary_phrases": 100_000, "lexical": True,
    "fine_tune_epochs": 6, "fine_tune_learning_rate": 1e-3,
    # Translated Debian packages' pairs (`parallel_corpus.SOURCES` names) mixed into the
    # first stage's training pairs, those of at most `corpus_max_words` words a side
    # (the dictionary's sentences are 3-20 words): a batch's time grows faster than its
    # length (0.19 s at 16 subwords, 0.43 s at 32, on 2 cores), so the fifth of the
    # pairs over 20 words would take about half of the corpus's training time.
    "corpus_sources": [],
    "corpus_max_words": 20,
    # With `domain_tags`, each German text starts with a tag of its domain (Kobus et al.
    # 2017): its source's (`parallel_corpus.SOURCES`) or the dictionary's, DICTIONARY_DOMAIN,
    # which `translate` gives by default.
    "domain_tags": False,
}
DICTIONARY_DOMAIN = "dictionary examples"


def domain_tag(domain):
    """The one subword that starts a German text of `domain` in a model trained with tags."""
    return "<" + domain.replace(" ", "-") + ">"


def tagged(pairs, domain):
    return [(f"{domain_tag(domain)} {de}", en) for de, en in pairs]


class Model(seq2seq.Seq2SeqModel):
    """The trained translator: `.model` (Keras, teacher forcing), `.translate(sentences)`."""

    name = NAME

    def translate(self, sentences, beam_size=5, length_penalty=1.0, domain=DICTIONARY_DOMAIN):
        """English for German text: one str, or a list (or tuple) of them, each of any length.

        Each line is split into sentences (`german_english.sentences`), a sentence longer
        than the network was trained on into pieces (`pieces`); all are translated in one
        batch and joined again, lines by newlines. `beam_size=1` decodes greedily. A model
        trained with domain tags reads each piece as text of `domain`, one of `domains()`.
        An empty list gives an empty list; a blank text is a ValueError and anything but a
        str a TypeError, each naming `sentences` (or `sentences[k]`)."""
        if self.config.get("domain_tags") and domain not in self.domains():
            raise ValueError(f"domain={domain!r}; expected one of {self.domains()}")
        single, texts = seq2seq.checked_texts(sentences, "sentences")
        flat, counts = [], []  # every piece; per text, per non-blank line, its number of pieces
        for k, text in enumerate(texts):
            counts.append([])
            name = "sentences" if single else f"sentences[{k}]"
            for line in text.splitlines():
                pieces = [piece for s in german_english.sentences(line) for piece in self.pieces(s, argument=name)]
                if pieces:
                    flat.extend(pieces)
                    counts[-1].append(len(pieces))
        if self.config.get("domain_tags"):
            flat = [f"{domain_tag(domain)} {piece}" for piece in flat]
        english = iter(self.generate(flat, beam_size, length_penalty, argument="sentences") if flat else [])
        outputs = ["\n".join(" ".join(next(english) for _ in range(n)) for n in lines) for lines in counts]
        return outputs[0] if single else outputs

    def domains(self):
        """The domains a model trained with tags knows (none without)."""
        if not self.config.get("domain_tags"):
            return []
        return [DICTIONARY_DOMAIN] + sorted({parallel_corpus.SOURCES[name].domain for name in self.config["corpus_sources"]})

    def pieces(self, sentence, argument="sentence"):
        """`sentence` (normalised) in pieces of at most `seq2seq.MAX_SUBWORDS` subwords, the
        longest the network was trained on: itself if it fits, else cut after , ; or :
        where the pieces fit, else between words. A single word longer than that is a
        ValueError naming `argument`."""
        sentence = german_english.normalize(sentence)
        size = lambda text: len(self.subwords.encode(text))  # noqa: E731
        if size(sentence) <= seq2seq.MAX_SUBWORDS:
            return [sentence]
        pieces = []
        for clause in re.split(r"(?<=[,;:])\s+", sentence):
            parts = [clause] if size(clause) <= seq2seq.MAX_SUBWORDS else clause.split()
            for part in parts:
                if size(part) > seq2seq.MAX_SUBWORDS:
                    raise ValueError(
                        f"{argument} has a word of {size(part)} subwords ({part[:40]!r}...); the translator "
                        f"reads at most {seq2seq.MAX_SUBWORDS} at a time"
                    )
                joined = f"{pieces[-1]} {part}" if pieces else part
                if pieces and size(joined) <= seq2seq.MAX_SUBWORDS:
                    pieces[-1] = joined
                else:
                    pieces.append(part)
        return pieces


def data():
    """(train, dev, test) sentence pairs."""
    return german_english.split(german_english.sentence_pairs())


def relevant_phrases(train_pairs, count, seed):
    """Up to `count` of the dictionary's words and short phrases, only those whose German
    words all occur in the training sentences (the everyday vocabulary, not the
    dictionary's 300,000 technical terms), drawn at random with `seed`."""
    import numpy as np

    known = {w.lower() for de, _ in train_pairs for w in german_english.tokens(de)}
    phrases = [
        (de, en) for de, en in german_english.phrase_pairs()
        if all(w.lower() in known for w in german_english.tokens(de))
    ]
    order = np.random.default_rng(seed).permutation(len(phrases))[:count]
    return [phrases[k] for k in sorted(order)]


def first_stage_pairs(sentence_pairs, config, seed):
    """The first stage's training pairs: the dictionary's `sentence_pairs`, then
    `dictionary_phrases` of its words and phrases (`relevant_phrases`), then the training
    pairs of each of `corpus_sources` with at most `corpus_max_words` words on either side;
    with `domain_tags`, each German text tagged with its domain."""
    tag = tagged if config.get("domain_tags") else lambda pairs, domain: list(pairs)
    pairs = list(sentence_pairs)
    if config.get("dictionary_phrases"):
        pairs += relevant_phrases(sentence_pairs, config["dictionary_phrases"], seed)
    pairs = tag(pairs, DICTIONARY_DOMAIN)
    if config.get("corpus_sources"):
        corpus = parallel_corpus.corpus(config["corpus_sources"])
        limit = config.get("corpus_max_words") or float("inf")
        for name in config["corpus_sources"]:
            short = [(de, en) for de, en in corpus[name][0] if len(de.split()) <= limit and len(en.split()) <= limit]
            pairs += tag(short, parallel_corpus.SOURCES[name].domain)
    return pairs


def train(output=None, *, epochs=30, seed=0, batch_size=64, checkpoint_dir=None, data_parallel=False, config=None, callbacks=()):
    """The recipe: a vocabulary from the training sentences and phrases, teacher forcing with
    Adam on both for `epochs`, then on the sentences alone (`fine_tune_epochs` of the config)."""
    if data_parallel:
        raise ValueError("de-en-translator trains on one device: --data-parallel is for the other recipes")
    sentence_pairs, dev_pairs, _ = data()
    config = {**DEFAULT_CONFIG, **(config or {})}
    train_pairs = first_stage_pairs(sentence_pairs, config, seed)
    if config.get("domain_tags"):
        # The dictionary's dev sentences and the second stage's are tagged as its own.
        sentence_pairs, dev_pairs = tagged(sentence_pairs, DICTIONARY_DOMAIN), tagged(dev_pairs, DICTIONARY_DOMAIN)
        domains = [DICTIONARY_DOMAIN] + [parallel_corpus.SOURCES[name].domain for name in config["corpus_sources"]]
        config = {**config, "subword_symbols": sorted({domain_tag(domain) for domain in domains})}
    zoo_model, trained = seq2seq.train(
        Model, train_pairs, dev_pairs, config, epochs=epochs, seed=seed, batch_size=batch_size,
        checkpoint_dir=checkpoint_dir, callbacks=callbacks, fine_tune_pairs=sentence_pairs,
    )
    if output is not None:
        zoo_model.save(output, training=trained)
    return zoo_model, trained


# --- evaluation ------------------------------------------------------------


def scores(hypotheses, references):
    """Corpus BLEU and chrF of one hypothesis per sentence against its list of references."""
    import sacrebleu

    if len(hypotheses) != len(references) or not all(references):
        raise ValueError(
            f"{len(hypotheses)} hypotheses and {len(references)} reference lists; expected one non-empty list each"
        )
    # sacrebleu takes reference streams of equal length: a sentence with fewer
    # references repeats its first, which changes neither metric.
    width = max(len(options) for options in references)
    streams = [[options[k] if k < len(options) else options[0] for options in references] for k in range(width)]
    return {
        "bleu": sacrebleu.corpus_bleu(hypotheses, streams).score,
        "chrf": sacrebleu.corpus_chrf(hypotheses, streams).score,
    }


def evaluate(zoo_model, *, baselines=True, beam_size=5, sources=None):
    """BLEU and chrF on the dictionary's test split (each German sentence once, against all
    its translations there): greedy, beam search (none with `beam_size=None`), and the
    word-by-word baseline; then the same on the test split of each of `sources`
    (`parallel_corpus.SOURCES` names; by default those the model trained on), each row
    named "SOURCE: ..." (a model trained with domain tags reads each as its domain's text)."""
    train_pairs, _, test_pairs = data()
    words = german_english.lexicon(train_pairs) if baselines else None
    results = scores_on(zoo_model, test_pairs, words, beam_size)
    sources = zoo_model.config.get("corpus_sources", []) if sources is None else sources
    for name, (_, _, source_test) in (parallel_corpus.corpus(sources).items() if sources else ()):
        domain = parallel_corpus.SOURCES[name].domain if zoo_model.config.get("domain_tags") else DICTIONARY_DOMAIN
        scored = scores_on(zoo_model, source_test, words, beam_size, domain)
        results.update({f"{name}: {row}": value for row, value in scored.items()})
    return results


def scores_on(zoo_model, test_pairs, words=None, beam_size=5, domain=DICTIONARY_DOMAIN):
    """{system: BLEU and chrF} on `test_pairs` (German read as text of `domain`): greedy,
    beam search (none with `beam_size=None`), and with a lexicon `words`, word-by-word lookup."""
    test = german_english.with_references(test_pairs)
    sources = [de for de, _ in test]
    references = [options for _, options in test]
    results = {"LSTM seq2seq, greedy": scores(zoo_model.translate(sources, beam_size=1, domain=domain), references)}
    if beam_size:
        english = zoo_model.translate(sources, beam_size=beam_size, domain=domain)
        results[f"LSTM seq2seq, beam {beam_size}"] = scores(english, references)
    if words is not None:
        results["word-by-word dictionary lookup"] = scores(
            [german_english.word_by_word(de, words) for de in sources], references
        )
    return results


def metrics_table(results):
    lines = ["| system | BLEU | chrF |", "|---|---|---|"]
    for name, values in results.items():
        lines.append(f"| {name} | {values['bleu']:.2f} | {values['chrf']:.2f} |")
    return "\n".join(lines)


def plot(zoo_model, path, sentences=None):
    """Attention maps of a few test sentences' greedy translations."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sentences = sentences or [de for de, _ in german_english.with_references(data()[2])[:4]]
    figure, axes = plt.subplots(2, 2, figsize=(12, 10))
    for axis, sentence in zip(axes.flat, sentences):
        source, output, weights = zoo_model.attention(sentence)
        axis.imshow(weights, cmap="Greys", aspect="auto", vmin=0, vmax=1)
        axis.set_xticks(range(len(source)), source, rotation=90, fontsize=8)
        axis.set_yticks(range(len(output)), output, fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


# --- `keras-lstm zoo run de-en-translator "SENTENCE" ...` -------------------


def run(zoo_model, argv):
    parser = argparse.ArgumentParser(prog=f"keras-lstm zoo run {NAME}", description="Translate German sentences to English.")
    parser.add_argument("sentences", nargs="+", help="German sentences")
    parser.add_argument("--beam", type=int, default=5, help="beam size (1: greedy)")
    args = parser.parse_args(argv)
    for translation in zoo_model.translate(args.sentences, beam_size=args.beam):
        print(translation)
    return 0
