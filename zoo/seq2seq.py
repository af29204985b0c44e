"""Sequence to sequence with attention: the network of the translator and the chat model.

Encoder: a subword embedding, then a bidirectional `keras_lstm.LSTM`. Decoder:
a `keras_lstm.LSTM` whose h and c start from the encoder's final outputs
(through dense bridges), additive attention over the encoder outputs
(Bahdanau et al. 2015: score v . tanh(h_t + W e_s), `keras.layers.AdditiveAttention`,
computed after the decoder LSTM as in Luong et al. 2015), then
tanh(W_c [h_t; context]) and a dense layer to the subword scores. With
`"lexical": true` in the config, the attention-weighted source embeddings
add their own scores (Nguyen & Chiang 2018).

Three Keras models share these layers:
- `training`: (source, target_in) -> logits for every target step (teacher
  forcing), the whole sequence through the fused LSTM kernels;
- `encoder`: source -> (memory, keys, h, c);
- `step`: one decoder step with explicit state, (token, h, c, memory, keys,
  source_mask) -> (logits, h, c, attention): what greedy and beam search run,
  and what exports as the decoder.

Subwords come from sentencepiece (BPE), one vocabulary for both sides.
"""

import io
import json
import shutil
from pathlib import Path

import keras
import numpy as np
from keras import ops

import keras_lstm
from keras_lstm.zoo import training
from keras_lstm.zoo.base import ZooModel

PAD, UNK, BOS, EOS = 0, 1, 2, 3
SUBWORDS_FILE = "subwords.model"
MAX_SUBWORDS = 96  # longer training pairs are left out
# The longest input `generate` takes (a network reads longer inputs than it was
# trained on, worse); a longer one is a ValueError, never cut silently.
MAX_INPUT_SUBWORDS = 4 * MAX_SUBWORDS


class Subwords:
    """A sentencepiece BPE vocabulary: text <-> ids, with PAD=0, UNK=1, BOS=2, EOS=3."""

    def __init__(self, model_bytes):
        import sentencepiece

        self.model_bytes = bytes(model_bytes)
        self.processor = sentencepiece.SentencePieceProcessor(model_proto=self.model_bytes)

    @classmethod
    def train(cls, texts, vocab_size, symbols=()):
        """Learns a vocabulary from `texts` (deterministic: one thread, fixed order); each
        of `symbols` (such as a tag "<news>") is one piece, never split."""
        import sentencepiece

        model = io.BytesIO()
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=iter(texts), model_writer=model, vocab_size=vocab_size, model_type="bpe",
            pad_id=PAD, unk_id=UNK, bos_id=BOS, eos_id=EOS, character_coverage=1.0, num_threads=1,
            minloglevel=2, hard_vocab_limit=False, **({"user_defined_symbols": list(symbols)} if symbols else {}),
        )
        return cls(model.getvalue())

    def __len__(self):
        return self.processor.get_piece_size()

    def encode(self, text):
        return self.processor.encode(text)

    def decode(self, ids):
        return self.processor.decode([int(i) for i in ids if i > EOS])

    def pieces(self, ids):
        return [self.processor.id_to_piece(int(i)) for i in ids]


@keras.saving.register_keras_serializable(package="keras_lstm.zoo")
class LastStep(keras.layers.Reshape):
    """(batch, 1, size) -> (batch, size): a decoder step's one step. The token's
    mask ends here (a plain Reshape would warn that it drops it)."""

    def __init__(self, target_shape=(-1,), **kwargs):
        super().__init__(target_shape, **kwargs)
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return None


DEFAULT_CONFIG = {"vocabulary": 4000, "embedding": 256, "encoder_units": 192, "decoder_units": 256, "dropout": 0.3}


class Network:
    """The layers, and the three models built from them (see the module docstring)."""

    def __init__(self, config):
        self.config = config
        width = config["embedding"]
        self.embedding = keras.layers.Embedding(config["vocabulary"], width, mask_zero=True, name="embedding")
        self.encoder_lstm = keras.layers.Bidirectional(
            keras_lstm.LSTM(config["encoder_units"], return_sequences=True, return_state=True, name="encoder"),
            name="bidirectional_encoder",
        )
        bridge = {} if config.get("bridge", True) else {"kernel_initializer": "zeros", "trainable": False}
        self.bridge_h = keras.layers.Dense(config["decoder_units"], activation="tanh", name="bridge_h", **bridge)
        self.bridge_c = keras.layers.Dense(config["decoder_units"], name="bridge_c", **bridge)
        self.keys = keras.layers.Dense(config["decoder_units"], use_bias=False, name="attention_keys")
        self.decoder_lstm = keras_lstm.LSTM(
            config["decoder_units"], return_sequences=True, return_state=True, name="decoder"
        )
        # Additive scores (Bahdanau et al. 2015), bounded by tanh. Dot scores
        # (Luong) grew to +-100 on this data and the softmax put all its
        # weight on the first source step for every output word (measured).
        self.attention = keras.layers.AdditiveAttention(name="attention")
        self.combine = keras.layers.Dense(width, activation="tanh", name="combine")
        self.dropout = keras.layers.Dropout(config["dropout"], name="dropout")
        # Whole words dropped from what the encoder and decoder read (Gal &
        # Ghahramani 2016; Sennrich & Zhang 2019 for small data).
        self.word_dropout = keras.layers.Dropout(config.get("word_dropout", 0.0), noise_shape=(None, None, 1), name="word_dropout")
        self.logits = keras.layers.Dense(config["vocabulary"], name="logits")
        # Lexical model (Nguyen & Chiang 2018): the memory also holds the source
        # embeddings, and the attention-weighted source embedding scores the
        # output words directly: a learned word-for-word translation, for the
        # rare words that little data teaches the context path poorly.
        self.lexical = config.get("lexical", False)
        if self.lexical:
            self.lexical_hidden = keras.layers.Dense(width, activation="tanh", use_bias=False, name="lexical_hidden")
            self.lexical_logits = keras.layers.Dense(config["vocabulary"], name="lexical_logits")
        self._compiled = {}  # JAX: the encoder and step models, jit-compiled on first use
        self.training = self._training_model()
        self.encoder = self._encoder_model()
        self.step = self._step_model()

    def _encode(self, source):
        embedded = self.dropout(self.word_dropout(self.embedding(source)))
        memory, forward_h, _, backward_h, _ = self.encoder_lstm(embedded)
        # Both decoder states start from the encoder's final outputs (not its
        # cell states): TFLite's fused LSTM op outputs only the sequence, so
        # an encoder that needs no c exports as that op.
        final = keras.layers.Concatenate()([forward_h, backward_h])
        if self.lexical:
            memory = keras.layers.Concatenate()([memory, embedded])
        return memory, self.keys(memory), self.bridge_h(final), self.bridge_c(final)

    def _decode(self, target, state, memory, keys, masks=None):
        outputs, h, c = self.decoder_lstm(self.dropout(self.word_dropout(self.embedding(target))), initial_state=state)
        context, attention = self.attention(
            [outputs, memory, keys], mask=masks, return_attention_scores=True
        )
        combined = self.combine(keras.layers.Concatenate()([outputs, context]))
        logits = self.logits(self.dropout(combined))
        if self.lexical:
            # The context's last features are the attended source embedding.
            attended = keras.layers.Activation("tanh")(context[..., -self.config["embedding"] :])
            lexical = keras.layers.Add()([self.lexical_hidden(attended), attended])
            logits = keras.layers.Add()([logits, self.lexical_logits(self.dropout(lexical))])
        return logits, h, c, attention

    # What `greedy` and `beam_search` call, numpy in and out; an exported
    # encoder and step (`OnnxNetwork`) offer the same two methods.
    def encode(self, source):
        """(memory, keys, h, c) for padded ids (batch, length)."""
        return tuple(ops.convert_to_numpy(t) for t in self._inference("encoder")(source))

    def decode_step(self, tokens, h, c, memory, keys, source_mask):
        """(scores, h, c, attention) after one token per row, (batch, 1)."""
        outputs = self._inference("step")([tokens, h, c, memory, keys, source_mask])
        return tuple(ops.convert_to_numpy(t) for t in outputs)

    def _inference(self, name):
        """`self.<name>(inputs, training=False)`, compiled once per input shape on JAX:
        eager JAX dispatches every op on its own, and decoding calls these models
        once per output token."""
        model = getattr(self, name)
        if keras.backend.backend() != "jax":
            return lambda inputs: model(inputs, training=False)
        if name not in self._compiled:
            import jax

            def run(trainable, non_trainable, inputs):
                return model.stateless_call(trainable, non_trainable, inputs, training=False)[0]

            compiled = jax.jit(run)
            # The variables' current values on each call: weights loaded later count.
            self._compiled[name] = lambda inputs: compiled(
                [v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables], inputs
            )
        return self._compiled[name]

    def _training_model(self):
        source = keras.Input((None,), dtype="int32", name="source")
        target = keras.Input((None,), dtype="int32", name="target_in")
        memory, keys, h, c = self._encode(source)
        logits, _, _, _ = self._decode(target, [h, c], memory, keys)
        return keras.Model([source, target], logits, name="seq2seq")

    def _encoder_model(self):
        source = keras.Input((None,), dtype="int32", name="source")
        return keras.Model(source, list(self._encode(source)), name="encoder")

    def _step_model(self):
        units = self.config["decoder_units"]
        token = keras.Input((1,), dtype="int32", name="token")
        h = keras.Input((units,), name="h")
        c = keras.Input((units,), name="c")
        memory = keras.Input((None, self.encoder.outputs[0].shape[-1]), name="memory")
        keys = keras.Input((None, units), name="keys")
        source_mask = keras.Input((None,), dtype="bool", name="source_mask")
        logits, h_next, c_next, attention = self._decode(token, [h, c], memory, keys, masks=[None, source_mask])
        outputs = [
            LastStep(name="scores")(logits),
            keras.layers.Identity(name="h_next")(h_next),
            keras.layers.Identity(name="c_next")(c_next),
            LastStep(name="attention_weights")(attention),
        ]
        return keras.Model([token, h, c, memory, keys, source_mask], outputs, name="decoder_step")


def pad_batch(sequences, multiple=8):
    """int32 (batch, length) padded with PAD (0)."""
    return training.pad(sequences, multiple, "int32")


length_batches = training.length_batches


class Batches(keras.utils.PyDataset):
    """Teacher-forcing batches of similar length: ((source, [BOS] + target), target + [EOS])."""

    def __init__(self, pairs, batch_size, seed):
        super().__init__()
        self.pairs = pairs
        self.batches = training.shuffled(length_batches([len(s) + len(t) for s, t in pairs], batch_size), seed)

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        return self.collate([self.pairs[k] for k in self.batches[index]])

    @staticmethod
    def collate(batch):
        source = pad_batch([s for s, _ in batch])
        target_in = pad_batch([[BOS] + list(t) for _, t in batch])
        target_out = pad_batch([list(t) + [EOS] for _, t in batch])
        return (source, target_in), target_out


@keras.saving.register_keras_serializable(package="keras_lstm.zoo")
class SmoothedCrossEntropy(keras.losses.Loss):
    """Cross-entropy of subword ids against logits with label smoothing, padding ignored:
    (1 - e) (-log p_target) + e mean_v(-log p_v) (Szegedy et al. 2016)."""

    def __init__(self, smoothing=0.1, name="smoothed_cross_entropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.smoothing = smoothing

    def call(self, targets, logits):
        targets = ops.cast(targets, "int32")
        log_p = ops.log_softmax(logits, axis=-1)
        target_log_p = ops.squeeze(ops.take_along_axis(log_p, ops.expand_dims(targets, -1), axis=-1), -1)
        loss = -(1.0 - self.smoothing) * target_log_p - self.smoothing * ops.mean(log_p, axis=-1)
        real = ops.not_equal(targets, PAD)
        loss = ops.where(real, loss, ops.zeros_like(loss))
        # Per-token losses with their mask, as Keras's own sparse cross-entropy
        # with `ignore_class` returns them: Keras then averages over the real
        # tokens of the batch.
        from keras.src.backend import set_keras_mask

        set_keras_mask(loss, real)
        return loss

    def get_config(self):
        return {**super().get_config(), "smoothing": self.smoothing}


LEARNING_RATE = 2e-3  # Adam's, at the start of the cosine decay


def compile_for_training(model, steps, learning_rate=LEARNING_RATE, label_smoothing=0.0):
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps, alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(schedule, clipnorm=1.0), loss=SmoothedCrossEntropy(label_smoothing))


def _log_softmax(logits):
    logits = logits - logits.max(axis=-1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))


def _run_encoder(network, sources):
    source = pad_batch(sources)
    memory, keys, h, c = network.encode(source)
    return source != PAD, memory, keys, h, c


def _step(network, tokens, h, c, memory, keys, mask):
    """One decoder step; padding and BOS are never chosen as output."""
    logits, h, c, attention = network.decode_step(tokens[:, None].astype("int32"), h, c, memory, keys, mask)
    logits = np.array(logits)
    logits[:, [PAD, BOS]] = -np.inf
    return logits, h, c, attention


def greedy(network, sources, max_length=None, batch_size=64):
    """The most likely next subword at each step, for a list of id sequences: (ids, attention maps)."""
    results, maps = [None] * len(sources), [None] * len(sources)
    for batch in length_batches([len(s) for s in sources], batch_size):
        mask, memory, keys, h, c = _run_encoder(network, [sources[k] for k in batch])
        limit = max_length or 2 * mask.shape[1] + 10
        tokens = np.full(len(batch), BOS, "int32")
        output, attention, done = [], [], np.zeros(len(batch), bool)
        for _ in range(limit):
            logits, h, c, weights = _step(network, tokens, h, c, memory, keys, mask)
            tokens = logits.argmax(axis=-1).astype("int32")
            tokens[done] = PAD
            output.append(tokens)
            attention.append(weights)
            done |= tokens == EOS
            if done.all():
                break
        output, attention = np.stack(output, 1), np.stack(attention, 1)
        for row, k in enumerate(batch):
            ids = list(output[row])
            length = ids.index(EOS) if EOS in ids else len(ids)
            results[k] = ids[:length]
            maps[k] = attention[row, : length + 1, : len(sources[k])]
    return results, maps


def beam_search(network, sources, beam_size=5, length_penalty=1.0, max_length=None, batch_size=32):
    """Beam search, all sentences of a batch at once (batch * beam rows per step).

    A hypothesis ends at EOS; hypotheses are ranked by log-probability
    divided by length**length_penalty. A sentence stops when its best live
    hypothesis can no longer beat its best finished one, or at `max_length`.
    """
    results = [None] * len(sources)
    for batch in length_batches([len(s) for s in sources], batch_size):
        mask, memory, keys, h, c = _run_encoder(network, [sources[k] for k in batch])
        n, k = len(batch), beam_size
        repeat = lambda a: np.repeat(a, k, axis=0)  # noqa: E731
        mask, memory, keys, h, c = map(repeat, (mask, memory, keys, h, c))
        scores = np.full((n, k), -np.inf)
        scores[:, 0] = 0.0
        hypotheses = [[[] for _ in range(k)] for _ in range(n)]
        finished = [[] for _ in range(n)]  # (normalised score, ids)
        done = np.zeros(n, bool)
        tokens = np.full(n * k, BOS, "int32")
        limit = max_length or 2 * mask.shape[1] + 10
        for length in range(1, limit + 1):
            logits, h, c, _ = _step(network, tokens, h, c, memory, keys, mask)
            candidates = scores[:, :, None] + _log_softmax(logits.astype("float64")).reshape(n, k, -1)
            vocabulary = candidates.shape[-1]
            top = np.argsort(-candidates.reshape(n, -1), axis=1)[:, : 2 * k]
            new_scores = np.full((n, k), -np.inf)
            new_rows = np.zeros((n, k), int)
            new_tokens = np.full((n, k), PAD, "int32")
            new_hypotheses = [[[] for _ in range(k)] for _ in range(n)]
            for sentence in range(n):
                if done[sentence]:
                    continue
                kept = 0
                for flat in top[sentence]:
                    beam, token = divmod(int(flat), vocabulary)
                    score = candidates[sentence, beam, token]
                    if not np.isfinite(score):
                        continue
                    if token == EOS:
                        finished[sentence].append((score / length**length_penalty, hypotheses[sentence][beam]))
                        continue
                    new_scores[sentence, kept] = score
                    new_rows[sentence, kept] = sentence * k + beam
                    new_tokens[sentence, kept] = token
                    new_hypotheses[sentence][kept] = hypotheses[sentence][beam] + [token]
                    kept += 1
                    if kept == k:
                        break
                best_finished = max((s for s, _ in finished[sentence]), default=-np.inf)
                # Log-probabilities only fall: a live hypothesis ending at best
                # gets its current score over the longest allowed length.
                best_live = new_scores[sentence].max() / limit**length_penalty if length_penalty > 0 else new_scores[sentence].max()
                if kept == 0 or best_finished >= best_live:
                    done[sentence] = True
            if done.all():
                break
            rows = new_rows.reshape(-1)
            h, c = h[rows], c[rows]
            scores, tokens, hypotheses = new_scores, new_tokens.reshape(-1), new_hypotheses
        for sentence, index in enumerate(batch):
            if not finished[sentence]:
                best = int(np.argmax(scores[sentence]))
                finished[sentence].append((scores[sentence, best], hypotheses[sentence][best]))
            results[index] = max(finished[sentence], key=lambda entry: entry[0])[1]
    return results


class SubwordNetworkModel(ZooModel):
    """A zoo model whose Keras model is the `.training` model of a `network_class` (built from
    the configuration; the network keeps its parts, e.g. encoders, as `.network`), with its
    SentencePiece vocabulary as the asset SUBWORDS_FILE (`.subwords`)."""

    network_class = None
    storage_dtype = "float16"  # a few MB instead of twice that

    @classmethod
    def build_model(cls, config):
        network = cls.network_class(config)
        network.training.network = network
        return network.training

    @property
    def network(self):
        return self.model.network

    @property
    def subwords(self):
        if not hasattr(self, "_subwords"):
            self._subwords = Subwords(self.assets[SUBWORDS_FILE])
        return self._subwords


def checked_texts(texts, argument="texts"):
    """(whether one text was given, the texts as a list), or a TypeError/ValueError naming
    `argument`: texts are a str or a list (or tuple) of them, none blank. An empty list is
    no texts."""
    single = isinstance(texts, str)
    if not single and not isinstance(texts, (list, tuple)):
        raise TypeError(f"{argument} is {type(texts).__name__}; expected a str or a list of str")
    texts = [texts] if single else list(texts)
    for k, text in enumerate(texts):
        name = argument if single else f"{argument}[{k}]"
        if not isinstance(text, str):
            raise TypeError(f"{name} is {type(text).__name__}; expected a str")
        if not text.strip():
            raise ValueError(f"{name} is empty; expected some text")
    return single, texts


class Seq2SeqModel(SubwordNetworkModel):
    """A trained network and its vocabulary: `.model` (Keras, teacher forcing) and `.generate(texts)`.

    The translator and the chat model are this with their own task method.
    """

    network_class = Network

    def encode(self, texts, argument="texts"):
        """(whether one text was given, subword ids of each), or a TypeError/ValueError naming
        `argument` (see `checked_texts`); a text longer than MAX_INPUT_SUBWORDS subwords is
        a ValueError too."""
        single, texts = checked_texts(texts, argument)
        ids = []
        for k, text in enumerate(texts):
            ids.append(self.subwords.encode(" ".join(text.split())))
            if len(ids[-1]) > MAX_INPUT_SUBWORDS:
                name = argument if single else f"{argument}[{k}]"
                raise ValueError(
                    f"{name} is {len(ids[-1])} subwords long; expected at most {MAX_INPUT_SUBWORDS}: split it"
                )
        return single, ids

    def generate(self, texts, beam_size=5, length_penalty=1.0, argument="texts"):
        """The output text for one input text (str) or each of a list; `beam_size=1` is greedy."""
        if not isinstance(beam_size, int) or isinstance(beam_size, bool) or beam_size < 1:
            raise ValueError(f"beam_size={beam_size!r}; expected an int >= 1 (1 is greedy)")
        number = isinstance(length_penalty, (int, float)) and not isinstance(length_penalty, bool)
        if not number or not 0 <= length_penalty < np.inf:
            raise ValueError(f"length_penalty={length_penalty!r}; expected a number >= 0 (0: none, 1: per subword)")
        single, ids = self.encode(texts, argument)
        if beam_size == 1:
            outputs, _ = greedy(self.network, ids)
        else:
            outputs = beam_search(self.network, ids, beam_size, length_penalty)
        texts = [self.subwords.decode(o) for o in outputs]
        return texts[0] if single else texts

    def attention(self, text):
        """(input subwords, output subwords, attention weights (output, input)) of a greedy decoding."""
        if not isinstance(text, str):
            raise TypeError(f"text is {type(text).__name__}; expected a str")
        _, ids = self.encode(text, "text")
        outputs, maps = greedy(self.network, ids)
        return self.subwords.pieces(ids[0]), self.subwords.pieces(outputs[0] + [EOS]), maps[0]

    def perplexity(self, pairs, batch_size=64):
        """exp(mean negative log-likelihood per output subword, EOS included) of (input, output) text pairs."""
        if not isinstance(pairs, (list, tuple)) or not pairs:
            raise ValueError(f"pairs={pairs!r}; expected a non-empty list of (input, output) text pairs")
        for k, pair in enumerate(pairs):
            if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(t, str) for t in pair)):
                raise ValueError(f"pairs[{k}]={pair!r}; expected an (input, output) pair of str")
        encoded = [(self.subwords.encode(a), self.subwords.encode(b)) for a, b in pairs]
        total, count = 0.0, 0
        for batch in length_batches([len(a) + len(b) for a, b in encoded], batch_size):
            (source, target_in), target_out = Batches.collate([encoded[k] for k in batch])
            logits = ops.convert_to_numpy(self.model([source, target_in], training=False)).astype("float64")
            log_probabilities = _log_softmax(logits)
            chosen = np.take_along_axis(log_probabilities, target_out[..., None], axis=-1)[..., 0]
            real = target_out != PAD
            total -= chosen[real].sum()
            count += real.sum()
        return float(np.exp(total / count))


def encode_pairs(subwords, pairs):
    encoded = [(subwords.encode(a), subwords.encode(b)) for a, b in pairs]
    return [(s, t) for s, t in encoded if len(s) <= MAX_SUBWORDS and len(t) < MAX_SUBWORDS]


# A finished stage's folder holds all the model's variables, its weights and its
# dropout layers' seed states, so the next stage goes on as if it had not stopped.


def _keep_stage(folder, model, result, run):
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "variables.npz", *(ops.convert_to_numpy(v.value) for v in model.variables))
    (folder / "result.json").write_text(json.dumps({**result, "run": run}))


def _load_stage(folder, model, run):
    """The stage's result, after its variables are loaded into `model`; a ValueError when
    the folder holds a stage of another run (`run`: what the stage depends on)."""
    result = json.loads((folder / "result.json").read_text())
    if result.pop("run") != json.loads(json.dumps(run)):
        raise ValueError(f"{folder} holds a finished stage of another run; remove it or pass another checkpoint_dir")
    with np.load(folder / "variables.npz") as stored:
        for k, variable in enumerate(model.variables):
            variable.assign(stored[f"arr_{k}"])
    return result


def train(
    model_class, train_pairs, dev_pairs, config, *, epochs, seed, batch_size, checkpoint_dir, callbacks=(),
    fine_tune_pairs=None,
):
    """The shared recipe: a subword vocabulary from the training texts, then teacher
    forcing with Adam; returns (zoo model, training record).

    With `config["fine_tune_epochs"]`, a second stage follows: the trained network
    goes on for that many epochs on `fine_tune_pairs` alone (the translator's
    sentences, without the dictionary phrases mixed into the first stage), with a
    fresh Adam whose cosine schedule starts at `config["fine_tune_learning_rate"]`.
    Each stage resumes from its own checkpoint, and a finished first stage is kept
    until the second ends, so an interrupted second stage does not repeat it."""
    stages = [(train_pairs, epochs, LEARNING_RATE)]
    if config.get("fine_tune_epochs"):
        if not fine_tune_pairs:
            raise ValueError(f"fine_tune_epochs={config['fine_tune_epochs']} needs fine_tune_pairs; got none")
        stages.append((fine_tune_pairs, config["fine_tune_epochs"], config.get("fine_tune_learning_rate", LEARNING_RATE)))
    keras.utils.set_random_seed(seed)
    subwords = Subwords.train([text for pair in train_pairs for text in pair], config["vocabulary"], config.get("subword_symbols", ()))
    config = {**config, "vocabulary": len(subwords)}
    validation = Batches(encode_pairs(subwords, dev_pairs), batch_size, seed)
    model = model_class.build_model(config)
    print(f"{model_class.name}: {len(subwords)} subwords, {model.count_params():,} parameters, "
          f"backend {keras.backend.backend()}")
    checkpoint_dir = Path(checkpoint_dir or training.default_checkpoint_dir(model_class.name))
    # What a finished first stage depends on: the second stage's settings do not count.
    config_without_fine_tuning = {key: value for key, value in config.items() if not key.startswith("fine_tune_")}
    results = []
    for number, (pairs, stage_epochs, learning_rate) in enumerate(stages, 1):
        if number > 1:
            # A first stage loaded from its folder and one just trained then leave
            # the same Python and backend random state (batch order, fresh draws).
            keras.utils.set_random_seed(seed)
        examples = encode_pairs(subwords, pairs)
        dataset = Batches(examples, batch_size, seed)
        compile_for_training(model, stage_epochs * len(dataset), learning_rate, config.get("label_smoothing", 0.0))
        finished = checkpoint_dir / f"stage-{number}"
        run = {
            "config": config_without_fine_tuning, "seed": seed, "epochs": stage_epochs,
            "batch_size": batch_size, "pairs": len(examples),
        }
        if (finished / "result.json").exists():
            print(f"stage {number} of {len(stages)}: finished before, its weights loaded from {finished}")
            results.append(_load_stage(finished, model, run))
            continue
        print(f"stage {number} of {len(stages)}: {len(examples)} training pairs, {stage_epochs} epochs "
              f"from learning rate {learning_rate}")
        history, seconds = training.fit(
            model, training.fit_data(dataset), None, validation_data=training.fit_data(validation, shuffle=False),
            checkpoint_dir=checkpoint_dir / f"running-{number}",
            epochs=stage_epochs, verbose=1, callbacks=callbacks,
            shuffle=keras.backend.backend() != "tensorflow",  # there `fit_data` shuffles
        )
        results.append({
            "pairs": len(examples), "seconds": round(seconds, 1),
            "loss": float(history.history["loss"][-1]), "dev_loss": float(history.history["val_loss"][-1]),
        })
        if number < len(stages):
            _keep_stage(finished, model, results[-1], run)
    shutil.rmtree(checkpoint_dir, ignore_errors=True)
    trained = {
        "seed": seed, "epochs": epochs, "batch_size": batch_size, "backend": keras.backend.backend(),
        "seconds": round(sum(r["seconds"] for r in results), 1), "training_pairs": results[0]["pairs"],
        "final_loss": results[-1]["loss"], "final_dev_loss": results[-1]["dev_loss"],
    }
    if len(results) > 1:
        trained.update({
            "fine_tune_epochs": stages[1][1], "fine_tune_pairs": results[1]["pairs"],
            "dev_loss_before_fine_tuning": results[0]["dev_loss"],
        })
    return model_class(model, config, assets={SUBWORDS_FILE: subwords.model_bytes}), trained


EXPORTED_FILES = {"onnx": ("encoder.onnx", "decoder_step.onnx"), "tflite": ("encoder.tflite", "decoder_step.tflite")}


def export(zoo_model, folder, formats=("onnx", "tflite"), max_source_length=MAX_SUBWORDS):
    """Writes the encoder and one decoder step of `zoo_model` to `folder` as separate models
    (ONNX: dynamic batch and lengths; TFLite: batch 1, sources padded to `max_source_length`),
    each checked against Keras by the exporter, plus the subword vocabulary. Returns the reports."""
    from keras_lstm.export.onnx import to_onnx
    from keras_lstm.export.tflite import to_tflite

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SUBWORDS_FILE).write_bytes(zoo_model.assets[SUBWORDS_FILE])
    network, reports = zoo_model.network, {}
    for form in formats:
        if form not in EXPORTED_FILES:
            raise ValueError(f"format {form!r}; expected one of {sorted(EXPORTED_FILES)}")
        for model, file in zip((network.encoder, network.step), EXPORTED_FILES[form]):
            if form == "onnx":
                reports[file] = to_onnx(model, folder / file)
            else:
                reports[file] = to_tflite(model, folder / file, batch_size=1, steps=max_source_length)
    return reports


class OnnxNetwork:
    """An exported encoder and decoder step run by onnxruntime, with `Network`'s
    `encode` and `decode_step`: `greedy` and `beam_search` decode with it as with Keras."""

    def __init__(self, folder):
        import onnxruntime

        encoder, step = (Path(folder) / name for name in EXPORTED_FILES["onnx"])
        options = {"providers": ["CPUExecutionProvider"]}
        self.encoder = onnxruntime.InferenceSession(str(encoder), **options)
        self.step = onnxruntime.InferenceSession(str(step), **options)
        self.subwords = Subwords((Path(folder) / SUBWORDS_FILE).read_bytes())

    def encode(self, source):
        name = self.encoder.get_inputs()[0].name
        return tuple(self.encoder.run(None, {name: source.astype("int32")}))

    def decode_step(self, tokens, h, c, memory, keys, source_mask):
        names = [i.name for i in self.step.get_inputs()]
        values = [tokens.astype("int32"), h, c, memory, keys, source_mask.astype(bool)]
        return tuple(self.step.run(None, dict(zip(names, values))))

    def generate(self, text, beam_size=1):
        ids = [self.subwords.encode(" ".join(text.split()))]
        output = greedy(self, ids)[0][0] if beam_size == 1 else beam_search(self, ids, beam_size)[0]
        return self.subwords.decode(output)
