"""reply-ranker: a chat model that picks its reply from a bank of known replies.

A dual encoder (Lowe et al. 2015, on the Ubuntu Dialogue Corpus): a prompt
encoder and a reply encoder, each a subword embedding (shared), a
bidirectional `keras_lstm.LSTM`, the mean of its outputs over the real
subwords, a dense projection and unit length. A reply's score for a prompt is

    s(p, r) = scale * e_p . e_r        (cosine times a fixed scale)

Trained on the qa-chatbot pairs (`qa_chatbot.data`) with in-batch negatives:
in a batch of B pairs, each prompt's reply is the right one among the B
replies and each reply's prompt among the B prompts (softmax cross-entropy
both ways, averaged). A pair whose reply (or prompt) reads the same as
another's once normalised ("Yes." and "yes") is not counted as that other
pair's negative.

Choosing a reply from a bank is one prompt encoding and a matrix product
with the bank's encodings, computed once (`choose`, `encode_replies`).

Evaluation (`evaluate`), on each source's held-out pairs:
- Recall@k among 10 candidates (Lowe et al.): the pair's reply and 9 other
  held-out replies of the same source, drawn at random (seeded), none
  reading the same as the reply; the share of pairs whose reply ranks in the
  top k. Baselines: Lowe's TF-IDF (cosine between the prompt and each
  candidate), and TF-IDF through the training pairs (how well a candidate
  matches the replies of the training prompts nearest the prompt).
- Token F1 and exact match (`qa_chatbot.reply_scores`) of the reply chosen
  from all unique training replies, the score plus half the log of the
  reply's share of the training pairs (see `Model.choose`), beside
  `qa_chatbot.retrieval_replies`.
"""

import functools
import json
import math
import shutil
from collections import Counter
from pathlib import Path

import keras
import numpy as np
from keras import ops

import keras_lstm
from keras_lstm.zoo import qa_chatbot, seq2seq, training

NAME = "reply-ranker"
DEFAULT_CONFIG = {
    "vocabulary": 2000, "embedding": 128, "units": 128, "dimension": 256, "dropout": 0.25, "scale": 20.0,
    # Rankers averaged (`Network`): two measured better than one on both sources' dev pairs
    # (Recall@1 50.0 / 33.0 against 46.7 / 32.8; see the card).
    "members": 2, "source_batches": True,
}
# Subwords read per text: 99% of the training prompts and replies are shorter;
# a longer reply is known by its start.
MAX_SUBWORDS = 32
SUBWORDS_FILE = seq2seq.SUBWORDS_FILE
CANDIDATES = 10
RECALL_AT = (1, 2, 5)
EVALUATION_SEED = 0
# chatterbot's 1,049 training pairs against ALICE's 53,551: each is seen this many times an
# epoch (30 against 10 measured 51.7 against 41.7% Recall@1 on chatterbot's dev pairs, ALICE's the same).
CHATTERBOT_REPEATS = 30
# How much of the log-prior `choose` adds when picking from the whole bank: 0.5 measured
# better than 1 (and 0) on both sources' dev pairs.
PRIOR_WEIGHT = 0.5
# How much `choose` adds of a reply's TF-IDF neighbour similarity (`PromptNeighbours`):
# token F1 on chatterbot's / ALICE's dev pairs at weight 0: 12.3 / 13.8; 5: 20.2 / 14.4;
# 10: 23.4 / 13.8; 20: 26.4 / 13.2; 40: 24.9 / 12.3. 20 has the best mean of the two.
NEIGHBOUR_WEIGHT = 20.0
LEARNING_RATE = 2e-3


# --- the network -------------------------------------------------------------


@keras.saving.register_keras_serializable(package="keras_lstm.zoo")
class Similarities(keras.layers.Layer):
    """(prompts (B, d), replies (C, d)) unit vectors -> (B, C) scores, scale * cosine."""

    def __init__(self, scale, **kwargs):
        super().__init__(**kwargs)
        self.scale = float(scale)

    def call(self, prompts, replies):
        return self.scale * ops.matmul(prompts, ops.transpose(replies))

    def compute_output_shape(self, prompts_shape, replies_shape):
        return (prompts_shape[0], replies_shape[0])

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


class Network:
    """The shared embedding, the two encoders (separate Keras models: ids -> unit vectors)
    and `training`: (prompt ids (B, T), reply ids (B, T')) -> (B, B) scores.

    With config["members"] = n > 1, n such networks trained apart (`train`: seeds 0 ... n-1)
    and averaged: each encoder is the members' encoders side by side, each scaled by
    1/sqrt(n), so that one dot product is the mean of the members' cosines and the pair is
    again a dual encoder of unit vectors (`.members`: the member networks)."""

    def __init__(self, config, prefix=""):
        self.config, self.prefix = config, prefix
        members = config.get("members", 1)
        if members > 1:
            self.members = [Network({**config, "members": 1}, prefix=f"member_{k}_") for k in range(members)]
            self.prompt_encoder, self.reply_encoder = (self._average(side) for side in ("prompt", "reply"))
        else:
            self.members = [self]
            self.embedding = keras.layers.Embedding(
                config["vocabulary"], config["embedding"], mask_zero=True, name=f"{prefix}embedding"
            )
            self.prompt_encoder = self._encoder("prompt")
            self.reply_encoder = self._encoder("reply")
        prompts = keras.Input((None,), dtype="int32", name="prompts")
        replies = keras.Input((None,), dtype="int32", name="replies")
        scores = Similarities(config["scale"], name=f"{prefix}scores")(self.prompt_encoder(prompts), self.reply_encoder(replies))
        self.training = keras.Model([prompts, replies], scores, name=f"{prefix}dual_encoder")

    def _encoder(self, side):
        config, name = self.config, lambda part: f"{self.prefix}{side}_{part}"  # noqa: E731
        ids = keras.Input((None,), dtype="int32", name=name("ids"))
        embedded = keras.layers.Dropout(config["dropout"], name=name("dropout"))(self.embedding(ids))
        outputs = keras.layers.Bidirectional(
            keras_lstm.LSTM(config["units"], return_sequences=True, name=name("lstm")), name=name("bidirectional")
        )(embedded)
        pooled = keras.layers.GlobalAveragePooling1D(name=name("mean"))(outputs)  # over the real subwords (mask)
        projected = keras.layers.Dense(config["dimension"], name=name("projection"))(pooled)
        return keras.Model(ids, keras.layers.UnitNormalization(name=name("unit"))(projected), name=name("encoder"))

    def _average(self, side):
        ids = keras.Input((None,), dtype="int32", name=f"{side}_ids")
        encoded = [getattr(member, f"{side}_encoder")(ids) for member in self.members]
        joined = keras.layers.Concatenate(name=f"{side}_members")(encoded)
        scaled = keras.layers.Rescaling(1.0 / math.sqrt(len(encoded)), name=f"{side}_average")(joined)
        return keras.Model(ids, scaled, name=f"{side}_encoder")


@keras.saving.register_keras_serializable(package="keras_lstm.zoo")
class InBatchSoftmax(keras.losses.Loss):
    """Symmetric in-batch softmax cross-entropy of a (B, B) score matrix whose diagonal
    holds the true pairs. `groups` (B, 2): the prompt's and the reply's text id; an
    off-diagonal entry whose prompt or reply has the row's text is no negative."""

    def __init__(self, name="in_batch_softmax", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, groups, scores):
        same_prompt = ops.equal(groups[:, None, 0], groups[None, :, 0])
        same_reply = ops.equal(groups[:, None, 1], groups[None, :, 1])
        diagonal = ops.eye(ops.shape(scores)[0], dtype="bool")
        dropped = ops.logical_and(ops.logical_or(same_prompt, same_reply), ops.logical_not(diagonal))
        scores = ops.where(dropped, ops.full_like(scores, -1e9), scores)
        rows = ops.diagonal(ops.log_softmax(scores, axis=1))  # each prompt: which reply
        columns = ops.diagonal(ops.log_softmax(scores, axis=0))  # each reply: which prompt
        return -(rows + columns) / 2


# --- data ----------------------------------------------------------------------


def text_ids(texts):
    """An id per distinct normalised text (`qa_chatbot.normalize`), in order of first appearance."""
    ids = {}
    return [ids.setdefault(qa_chatbot.normalize(t), len(ids)) for t in texts]


def pad_batch(sequences):
    return training.pad([s[:MAX_SUBWORDS] or [seq2seq.UNK] for s in sequences], 8, "int32")


class PairBatches(keras.utils.PyDataset):
    """Random batches of (prompt ids, reply ids) with their text ids; a new draw each epoch,
    fixed by (seed, epoch) so that a resumed run sees what an unbroken one would. With
    `sources` (a label per pair), each batch holds one source's pairs: a chatterbot prompt
    then learns its reply against chatterbot's other replies, the distractors it is
    tested among, not against ALICE's, which differ in style and are easy to rule out."""

    def __init__(self, pairs, subwords, batch_size, seed, sources=None):
        super().__init__()
        self.prompts = [subwords.encode(p) for p, _ in pairs]
        self.replies = [subwords.encode(r) for _, r in pairs]
        self.groups = np.stack([text_ids([p for p, _ in pairs]), text_ids([r for _, r in pairs])], 1)
        self.sources = np.zeros(len(pairs), "int64") if sources is None else np.unique(sources, return_inverse=True)[1]
        self.batch_size, self.seed = batch_size, seed
        self.epoch, self._batches = 0, None

    def set_epoch(self, epoch):
        self.epoch, self._batches = epoch, None

    def _draw(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        batches = []
        for source in np.unique(self.sources):
            order = rng.permutation(np.flatnonzero(self.sources == source))
            batches += [order[k : k + self.batch_size] for k in range(0, len(order), self.batch_size)]
        return [batches[k] for k in rng.permutation(len(batches))]

    def __len__(self):
        return sum(math.ceil(n / self.batch_size) for n in np.unique(self.sources, return_counts=True)[1])

    def __getitem__(self, index):
        if self._batches is None:
            self._batches = self._draw()
        batch = self._batches[index]
        prompts = pad_batch([self.prompts[k] for k in batch])
        replies = pad_batch([self.replies[k] for k in batch])
        return (prompts, replies), self.groups[batch].astype("float32")


class _DrawEachEpoch(keras.callbacks.Callback):
    def __init__(self, batches):
        super().__init__()
        self.batches = batches

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.set_epoch(epoch)


# --- the zoo model ---------------------------------------------------------------


class Model(seq2seq.SubwordNetworkModel):
    """`.scores(prompt, candidates)` and `.choose(prompts, bank)`."""

    name = NAME
    network_class = Network

    def _ids(self, texts, argument):
        if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
            raise TypeError(f"{argument} is {type(texts).__name__}; expected a list of str")
        for k, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"{argument}[{k}] is {type(text).__name__}; expected a str")
        return [self.subwords.encode(" ".join(t.split())) for t in texts]

    def _encode(self, encoder, texts, argument, batch_size):
        ids = self._ids(texts, argument)
        vectors = np.zeros((len(ids), encoder.outputs[0].shape[-1]), "float32")
        for batch in training.length_batches([min(len(s), MAX_SUBWORDS) for s in ids], batch_size):
            # predict_on_batch: compiled on JAX and TF (a call runs op by op there, ~10x slower).
            vectors[batch] = ops.convert_to_numpy(encoder.predict_on_batch(pad_batch([ids[k] for k in batch])))
        return vectors

    def encode_prompts(self, prompts, batch_size=256):
        """(len(prompts), dimension) unit vectors."""
        return self._encode(self.network.prompt_encoder, prompts, "prompts", batch_size)

    def encode_replies(self, replies, batch_size=256):
        """(len(replies), dimension) unit vectors: a bank's, computed once, serve every prompt."""
        return self._encode(self.network.reply_encoder, replies, "replies", batch_size)

    def scores(self, prompt, candidates):
        """Each candidate reply's score for `prompt` (a str): scale * cosine, higher is better."""
        if not isinstance(prompt, str):
            raise TypeError(f"prompt is {type(prompt).__name__}; expected a str")
        return self.config["scale"] * self.encode_replies(candidates) @ self.encode_prompts([prompt])[0]

    def choose(self, prompts, bank, bank_vectors=None, prior=None, neighbours=None):
        """The best reply in `bank` (a list of str) for one prompt (str) or each of a list.
        `bank_vectors`: `encode_replies(bank)`, when already computed. `prior`: a log-prior
        per bank reply added to its score, e.g. `reply_bank()`'s: in-batch negatives teach
        the scores log p(r | p) - log p(r) plus a constant (how much more likely the prompt
        makes the reply), so log p(r) turns them into the reply's probability.
        `neighbours`: a `PromptNeighbours` over `bank`, whose similarity is added with
        weight NEIGHBOUR_WEIGHT."""
        single = isinstance(prompts, str)
        if bank_vectors is None:
            bank_vectors = self.encode_replies(bank)
        if len(bank_vectors) != len(bank) or not len(bank):
            raise ValueError(f"a bank of {len(bank)} replies and {len(bank_vectors)} vectors; expected one each, some")
        scores = self.config["scale"] * self.encode_prompts([prompts] if single else prompts) @ bank_vectors.T
        if prior is not None:
            if len(prior) != len(bank):
                raise ValueError(f"a bank of {len(bank)} replies and a prior of {len(prior)}; expected one each")
            scores = scores + np.asarray(prior, "float32")
        if neighbours is not None:
            if neighbours.bank_size != len(bank):
                raise ValueError(f"a bank of {len(bank)} replies and neighbours over {neighbours.bank_size}; expected the same bank")
            scores = scores + NEIGHBOUR_WEIGHT * neighbours.similarity([prompts] if single else prompts)
        chosen = [bank[k] for k in scores.argmax(axis=1)]
        return chosen[0] if single else chosen


class PromptNeighbours:
    """How near a prompt is to the training prompts each bank reply answered: per reply,
    the best TF-IDF cosine between the prompt and one of them (0 for none).

    The dual encoder ranks replies by what they say; a held-out chatterbot prompt is
    often a near copy of a training prompt ("What is your favorite book?"), whose reply
    is then the one to give. TF-IDF retrieval takes only that reply; added to the
    ranker's score (`choose`), it decides where a prompt has a close neighbour and
    leaves the ranker to decide where none is close."""

    def __init__(self, pairs, bank):
        index = {reply: k for k, reply in enumerate(bank)}
        missing = [reply for _, reply in pairs if reply not in index]
        if missing:
            raise ValueError(f"{len(missing)} replies of the pairs are not in the bank, e.g. {missing[0]!r}")
        self.prompts = [prompt for prompt, _ in pairs]
        self.vectorizer = _vectorizer(self.prompts)
        self.answers = answers = np.array([index[reply] for _, reply in pairs], "int64")
        # The training prompts grouped by the reply they got, so that each reply's best
        # cosine is one `maximum.reduceat` over its group's block of columns.
        order = np.argsort(answers, kind="stable")
        self.known = self.vectorizer.transform(self.prompts)[order]
        self.starts = np.flatnonzero(np.diff(answers[order], prepend=-1))
        self.answered = answers[order][self.starts]
        self.bank_size = len(bank)

    def similarity(self, prompts, chunk=256):
        """(len(prompts), bank size) float32."""
        result = np.zeros((len(prompts), self.bank_size), "float32")
        for start in range(0, len(prompts), chunk):
            cosines = (self.vectorizer.transform(prompts[start:start + chunk]) @ self.known.T).toarray()
            result[start:start + chunk, self.answered] = np.maximum.reduceat(cosines, self.starts, axis=1)
        return result


# --- the recipe ------------------------------------------------------------------


def training_pairs(splits=None):
    splits = splits or qa_chatbot.data()
    return splits["chatterbot"][0] * CHATTERBOT_REPEATS + splits["alice"][0]


def training_sources(splits=None):
    """The source of each of `training_pairs`."""
    splits = splits or qa_chatbot.data()
    return ["chatterbot"] * (len(splits["chatterbot"][0]) * CHATTERBOT_REPEATS) + ["alice"] * len(splits["alice"][0])


def neighbours(splits=None):
    """`PromptNeighbours` over `reply_bank()`, from the training pairs (each once)."""
    splits = splits or qa_chatbot.data()
    return PromptNeighbours(splits["chatterbot"][0] + splits["alice"][0], reply_bank(splits)[0])


def reply_bank(splits=None):
    """(replies, log-prior): the unique replies of the training pairs (chatterbot's, then
    ALICE's, each once) and the log of each one's share of the pairs the model trains on
    (chatterbot's repeated): the distribution its in-batch negatives came from."""
    splits = splits or qa_chatbot.data()
    counts = Counter(r for _, r in training_pairs(splits))
    return list(counts), np.log(np.array(list(counts.values()), "float64") / sum(counts.values()))


def fit_pairs(model_class, train_pairs, dev_pairs, config, *, epochs, seed, batch_size, checkpoint_dir, callbacks=(),
              sources=None):
    """A subword vocabulary from the training texts, then Adam on the in-batch loss;
    returns (zoo model, training record)."""
    keras.utils.set_random_seed(seed)
    subwords = seq2seq.Subwords.train([text for pair in train_pairs for text in pair], config["vocabulary"])
    config = {**config, "vocabulary": len(subwords)}
    dataset = PairBatches(train_pairs, subwords, batch_size, seed, sources=sources)
    validation = PairBatches(dev_pairs, subwords, batch_size, seed)
    model = model_class.build_model(config)
    print(f"{model_class.name}: {len(subwords)} subwords, {model.count_params():,} parameters, "
          f"backend {keras.backend.backend()}")
    schedule = keras.optimizers.schedules.CosineDecay(config.get("learning_rate", LEARNING_RATE), epochs * len(dataset), alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(schedule, clipnorm=1.0), loss=InBatchSoftmax())
    checkpoint_dir = Path(checkpoint_dir or training.default_checkpoint_dir(model_class.name))
    history, seconds = training.fit(
        model, training.fit_data(dataset, shuffle=False), None, validation_data=training.fit_data(validation, shuffle=False),
        checkpoint_dir=checkpoint_dir,
        epochs=epochs, verbose=1, shuffle=False, callbacks=[_DrawEachEpoch(dataset), *callbacks],
    )
    shutil.rmtree(checkpoint_dir, ignore_errors=True)
    trained = {
        "seed": seed, "epochs": epochs, "batch_size": batch_size, "backend": keras.backend.backend(),
        "seconds": round(seconds, 1), "training_pairs": len(train_pairs),
        "final_loss": float(history.history["loss"][-1]), "final_dev_loss": float(history.history["val_loss"][-1]),
    }
    return model_class(model, config, assets={SUBWORDS_FILE: subwords.model_bytes}), trained


def train(output=None, *, epochs=6, seed=0, batch_size=256, checkpoint_dir=None, data_parallel=False, config=None,
          callbacks=()):
    """The recipe: chatterbot's training pairs (repeated) and ALICE's; dev pairs for the dev
    loss. With config["members"] = n (2 in DEFAULT_CONFIG), n rankers trained at seeds
    `seed` ... `seed` + n - 1, averaged (`Network`)."""
    if data_parallel:
        raise ValueError(f"{NAME} trains on one device: --data-parallel is for the other recipes")
    config = {**DEFAULT_CONFIG, **(config or {})}
    splits = qa_chatbot.data()
    dev_pairs = splits["chatterbot"][1] + splits["alice"][1]
    checkpoint_dir = Path(checkpoint_dir or training.default_checkpoint_dir(NAME))
    # A member's folder holds its checkpoint, then the finished member (`done`): a resumed
    # run loads the finished ones and retrains the unfinished one.
    member_dirs = [checkpoint_dir.with_name(f"{checkpoint_dir.name}-member-{k}") for k in range(config["members"])]
    members = []
    for k, member_dir in enumerate(member_dirs):
        done = member_dir / "done"
        if done.is_dir():
            members.append((Model.load(done), json.loads((done / "trained.json").read_text())))
            continue
        member, trained = fit_pairs(
            Model, training_pairs(splits), dev_pairs, {**config, "members": 1},
            epochs=epochs, seed=seed + k, batch_size=batch_size, checkpoint_dir=member_dir / "checkpoint",
            callbacks=callbacks, sources=training_sources(splits) if config["source_batches"] else None,
        )
        member.save(done)
        (done / "trained.json").write_text(json.dumps(trained))
        members.append((member, trained))
    zoo_model = assemble([member for member, _ in members])
    trained = {"source_batches": config["source_batches"], "members": [trained for _, trained in members],
               "seconds": sum(t["seconds"] for _, t in members)}
    if output is not None:
        zoo_model.save(output, training=trained)
    for member_dir in member_dirs:
        shutil.rmtree(member_dir, ignore_errors=True)
    return zoo_model, trained


def assemble(members):
    """One ranker that averages the scores of trained `members` (of one config and vocabulary)."""
    first = members[0]
    if any(m.assets[SUBWORDS_FILE] != first.assets[SUBWORDS_FILE] for m in members):
        raise ValueError("the members were trained on different subword vocabularies; expected one")
    if len(members) == 1:
        return first
    config = {**first.config, "members": len(members)}
    model = Model.build_model(config)
    for network, member in zip(model.network.members, members):
        network.training.set_weights(member.model.get_weights())
    return Model(model, config, assets=dict(first.assets))


# --- evaluation --------------------------------------------------------------------


def candidate_sets(pairs, seed=EVALUATION_SEED, size=CANDIDATES):
    """For each (prompt, reply) pair: (prompt, candidates), the reply first, then `size` - 1
    replies of the other pairs drawn at random without replacement, none reading the same
    as the reply once normalised."""
    normalised = [qa_chatbot.normalize(r) for _, r in pairs]
    rng = np.random.default_rng(seed)
    sets = []
    for k, (prompt, reply) in enumerate(pairs):
        others = [j for j in range(len(pairs)) if j != k and normalised[j] != normalised[k]]
        if len(others) < size - 1:
            raise ValueError(f"pair {k} has {len(others)} other replies to draw from; {size - 1} needed")
        drawn = rng.choice(len(others), size - 1, replace=False)
        sets.append((prompt, [reply] + [pairs[others[j]][1] for j in drawn]))
    return sets


def recall_at_k(scores, k):
    """The share of rows (%) whose first column, the true reply, ranks in the top k of its row.
    Ties count as a fair random order: a true reply level with t others just past r better
    ones is in the top k with probability clip((k - r) / (t + 1), 0, 1)."""
    scores = np.asarray(scores, "float64")
    truth = scores[:, :1]
    better = (scores[:, 1:] > truth).sum(axis=1)
    level = (scores[:, 1:] == truth).sum(axis=1)
    return 100 * float(np.mean(np.clip((k - better) / (level + 1), 0, 1)))


def recalls(scores, at=RECALL_AT):
    return {f"recall@{k}": recall_at_k(scores, k) for k in at}


@functools.lru_cache(maxsize=4)
def _fitted_vectorizer(texts):
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(lowercase=True, ngram_range=(1, 2), sublinear_tf=True).fit(texts)


def _vectorizer(texts):
    """A TF-IDF vectorizer fit on `texts`; `evaluate` asks for the same few fits once per
    source and system, so the last four are kept (fitting is most of the baselines' time)."""
    return _fitted_vectorizer(tuple(texts))


def tfidf_scores(train_pairs, sets):
    """Lowe et al.'s TF-IDF baseline: the cosine between the prompt's TF-IDF vector and each
    candidate's, the vectorizer fit on the training prompts and replies. (len(sets), candidates)."""
    vectorizer = _vectorizer([text for pair in train_pairs for text in pair])
    prompts = vectorizer.transform([p for p, _ in sets])
    candidates = _candidate_rows(vectorizer, sets)
    return np.stack([(candidates[k] @ prompts[k].T).toarray()[:, 0] for k in range(len(sets))])


def _candidate_rows(vectorizer, sets):
    """Each set's candidates as TF-IDF rows, [k] for set k: one `transform` for all of them
    (a call per set spent most of `evaluate`'s time in scikit-learn's per-call overhead)."""
    rows = vectorizer.transform([c for _, candidates in sets for c in candidates]).tocsr()
    starts = np.cumsum([0] + [len(candidates) for _, candidates in sets])
    return [rows[a:b] for a, b in zip(starts[:-1], starts[1:])]


def nearest_prompt_scores(train_pairs, sets, neighbours=20):
    """TF-IDF through the training pairs: a candidate's score is the best, over the `neighbours`
    training prompts most similar to the prompt, of cos(prompt, training prompt) times
    cos(candidate, that prompt's reply). A candidate that replies as the nearest training
    prompts' replies do scores high even when it shares no word with the prompt ("Yes.")."""
    prompt_vectorizer = _vectorizer([p for p, _ in train_pairs])
    reply_vectorizer = _vectorizer([r for _, r in train_pairs])
    known_prompts = prompt_vectorizer.transform([p for p, _ in train_pairs])
    known_replies = reply_vectorizer.transform([r for _, r in train_pairs])
    similar = (prompt_vectorizer.transform([p for p, _ in sets]) @ known_prompts.T).toarray()
    candidates = _candidate_rows(reply_vectorizer, sets)
    rows = []
    for k in range(len(sets)):
        nearest = np.argsort(-similar[k], kind="stable")[:neighbours]
        matches = (candidates[k] @ known_replies[nearest].T).toarray()
        rows.append((matches * similar[k, nearest]).max(axis=1))
    return np.stack(rows)


def model_scores(zoo_model, sets):
    prompts = zoo_model.encode_prompts([p for p, _ in sets])
    replies = zoo_model.encode_replies([c for _, candidates in sets for c in candidates]).reshape(len(sets), -1, prompts.shape[1])
    return np.einsum("nd,ncd->nc", prompts, replies)


def evaluate(zoo_model, *, split="test", baselines=True):
    """{source: {system: figures}} on each source's `split` ("test" or "dev") pairs."""
    splits = qa_chatbot.data()
    index = {"dev": 1, "test": 2}[split]
    train_all = splits["chatterbot"][0] + splits["alice"][0]
    bank, prior = reply_bank(splits)
    bank_vectors, near = zoo_model.encode_replies(bank), neighbours(splits)
    results = {}
    for source in ("chatterbot", "alice"):
        pairs = splits[source][index]
        sets = candidate_sets(pairs)
        prompts, references = [p for p, _ in pairs], [r for _, r in pairs]
        choose = lambda *terms: qa_chatbot.reply_scores(zoo_model.choose(prompts, bank, bank_vectors, *terms), references)  # noqa: E731
        row = {
            "dual encoder": {**recalls(model_scores(zoo_model, sets)), **choose(PRIOR_WEIGHT * prior, near)},
            "dual encoder, no neighbour term": choose(PRIOR_WEIGHT * prior),
            "dual encoder alone": choose(),
        }
        if baselines:
            row["TF-IDF (Lowe et al.)"] = recalls(tfidf_scores(train_all, sets))
            row["TF-IDF via training prompts"] = recalls(nearest_prompt_scores(train_all, sets))
            row["retrieval (TF-IDF)"] = qa_chatbot.reply_scores(qa_chatbot.retrieval_replies(train_all, prompts), references)
        results[source] = row
    return results


# --- export -------------------------------------------------------------------------

EXPORTED_FILES = {"onnx": ("prompt_encoder.onnx", "reply_encoder.onnx"), "tflite": ("prompt_encoder.tflite", "reply_encoder.tflite")}
BANK_FILE = "reply_bank.npz"


def export(zoo_model, folder, bank, prior=None, neighbours=None, formats=("onnx", "tflite")):
    """Writes both encoders of `zoo_model` to `folder` (ONNX: dynamic batch and length;
    TFLite: batch 1, texts padded to MAX_SUBWORDS), each checked against Keras by the
    exporter, with the subword vocabulary and the reply bank: its texts, their encodings
    computed once here, the log-prior `choose` adds, and (with `neighbours`, a
    `PromptNeighbours` over `bank`) the training prompts with the index of the reply each
    answered. A device then encodes a prompt and takes one matrix
    product, plus a TF-IDF lookup over those prompts for the neighbour term. Returns the
    exporters' reports."""
    from keras_lstm.export.onnx import to_onnx
    from keras_lstm.export.tflite import to_tflite

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SUBWORDS_FILE).write_bytes(zoo_model.assets[SUBWORDS_FILE])
    prior = np.zeros(len(bank), "float32") if prior is None else np.asarray(prior, "float32")
    if neighbours is not None and neighbours.bank_size != len(bank):
        raise ValueError(f"a bank of {len(bank)} replies and neighbours over {neighbours.bank_size}; expected the same bank")
    np.savez(folder / BANK_FILE, replies=np.array(bank), vectors=zoo_model.encode_replies(bank), prior=prior,
             scale=np.float32(zoo_model.config["scale"]),
             prompts=np.array(neighbours.prompts if neighbours else [], dtype=str),
             answers=np.array(neighbours.answers if neighbours else [], "int64"))
    samples = pad_batch([zoo_model.subwords.encode(text) for text in bank[:4]])
    reports = {}
    for form in formats:
        if form not in EXPORTED_FILES:
            raise ValueError(f"format {form!r}; expected one of {sorted(EXPORTED_FILES)}")
        for encoder, file in zip((zoo_model.network.prompt_encoder, zoo_model.network.reply_encoder), EXPORTED_FILES[form]):
            if form == "onnx":
                reports[file] = to_onnx(encoder, folder / file, sample_inputs=samples)
            else:
                fixed = np.zeros((1, MAX_SUBWORDS), "int32")
                fixed[0, : samples.shape[1]] = samples[0]
                reports[file] = to_tflite(encoder, folder / file, batch_size=1, steps=MAX_SUBWORDS, sample_inputs=fixed)
    return reports


class OnnxRanker:
    """An exported prompt encoder run by onnxruntime, with the exported bank: `choose` as
    `Model.choose` does, from the files alone."""

    def __init__(self, folder):
        import onnxruntime

        folder = Path(folder)
        self.encoder = onnxruntime.InferenceSession(str(folder / EXPORTED_FILES["onnx"][0]), providers=["CPUExecutionProvider"])
        self.subwords = seq2seq.Subwords((folder / SUBWORDS_FILE).read_bytes())
        with np.load(folder / BANK_FILE) as bank:
            self.replies, self.vectors = [str(r) for r in bank["replies"]], bank["vectors"]
            self.prior, self.scale = bank["prior"], float(bank["scale"])
            pairs = [(str(p), self.replies[k]) for p, k in zip(bank["prompts"], bank["answers"])]
        self.neighbours = PromptNeighbours(pairs, self.replies) if pairs else None

    def encode_prompts(self, prompts):
        ids = pad_batch([self.subwords.encode(" ".join(p.split())) for p in prompts])
        return self.encoder.run(None, {self.encoder.get_inputs()[0].name: ids})[0]

    def choose(self, prompts):
        scores = self.scale * self.encode_prompts(prompts) @ self.vectors.T + self.prior
        if self.neighbours is not None:
            scores = scores + NEIGHBOUR_WEIGHT * self.neighbours.similarity(prompts)
        return [self.replies[k] for k in scores.argmax(axis=1)]
