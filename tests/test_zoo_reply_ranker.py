"""reply-ranker: the evaluation against hand-worked values, the loss against direct computation,
and a tiny model that trains, saves, loads and chooses on every backend."""

import math

import numpy as np
import pytest

from keras_lstm.zoo import qa_chatbot, reply_ranker

# --- candidate sets and Recall@k ----------------------------------------------

PAIRS = [("hi", "Yes."), ("hello", "yes"), ("is it", "YES!"), ("how are you", "Fine."), ("name", "Bot."),
         ("age", "Two."), ("colour", "Blue."), ("food", "Data."), ("music", "Jazz."), ("sport", "Chess."),
         ("film", "Alien."), ("book", "Dune.")]


def test_candidate_sets_hold_the_reply_once_and_nothing_that_reads_the_same():
    sets = reply_ranker.candidate_sets(PAIRS, seed=3, size=5)
    assert [prompt for prompt, _ in sets] == [prompt for prompt, _ in PAIRS]
    replies = [reply for _, reply in PAIRS]
    for (prompt, candidates), (_, reply) in zip(sets, PAIRS):
        assert len(candidates) == 5 and candidates[0] == reply
        # "Yes.", "yes" and "YES!" read the same once normalised: none is another's distractor.
        assert [qa_chatbot.normalize(c) for c in candidates].count(qa_chatbot.normalize(reply)) == 1
        # Distractors are other pairs' replies, each pair's at most once.
        assert all(c in replies for c in candidates)
        assert len(set(candidates)) == 5
    assert sets == reply_ranker.candidate_sets(PAIRS, seed=3, size=5)
    assert sets != reply_ranker.candidate_sets(PAIRS, seed=4, size=5)
    with pytest.raises(ValueError, match="pair 0 has 9 other replies to draw from; 10 needed"):
        reply_ranker.candidate_sets(PAIRS, size=11)


def test_recall_at_k_counts_ties_as_a_fair_random_order():
    scores = [
        [0.9, 0.1, 0.5, 0.2],  # the truth (first column) is best: in the top 1
        [0.3, 0.8, 0.3, 0.1],  # one better, one level: rank 2 or 3, even odds
        [0.0, 0.0, 0.0, 0.0],  # level with 3: each rank 1-4 with odds 1/4
    ]
    # @1: (1 + 0 + 1/4) / 3; @2: (1 + 1/2 + 2/4) / 3; @3: (1 + 1 + 3/4) / 3; @4: all.
    assert reply_ranker.recall_at_k(scores, 1) == pytest.approx(100 * 1.25 / 3)
    assert reply_ranker.recall_at_k(scores, 2) == pytest.approx(100 * 2 / 3)
    assert reply_ranker.recall_at_k(scores, 3) == pytest.approx(100 * 2.75 / 3)
    assert reply_ranker.recall_at_k(scores, 4) == pytest.approx(100.0)
    assert reply_ranker.recalls(scores, at=(1, 2)) == {"recall@1": pytest.approx(125 / 3), "recall@2": pytest.approx(200 / 3)}


# --- the TF-IDF baselines -------------------------------------------------------

# Four one-word training texts, each in one document: every word has the same idf, so a
# text's TF-IDF vector is its words' indicator over sqrt(number of words).
TRAIN = [("cats", "dogs"), ("birds", "fish")]


def test_tfidf_baseline_is_the_cosine_between_prompt_and_candidate():
    scores = reply_ranker.tfidf_scores(TRAIN, [("cats dogs", ["cats", "dogs cats", "fish", "hello"])])
    # "cats dogs" . "cats" = 1/sqrt(2); the same words in another order 1; no shared (or known) word 0.
    np.testing.assert_allclose(scores, [[1 / math.sqrt(2), 1.0, 0.0, 0.0]], atol=1e-12)


def test_tfidf_via_training_prompts_scores_the_replies_of_similar_prompts():
    sets = [("cats", ["dogs", "fish", "cats"])]
    # The nearest training prompt ("cats", cosine 1) replied "dogs": 1 x 1. "fish" answered
    # "birds" (cosine 0 with "cats"); "cats" is no training reply: 0. Lowe's cosine says the opposite.
    np.testing.assert_allclose(reply_ranker.nearest_prompt_scores(TRAIN, sets), [[1.0, 0.0, 0.0]], atol=1e-12)
    np.testing.assert_allclose(reply_ranker.tfidf_scores(TRAIN, sets), [[0.0, 0.0, 1.0]], atol=1e-12)


def test_prompt_neighbours_give_each_reply_its_nearest_training_prompt():
    pairs = [("cats", "dogs"), ("cats dogs", "fish"), ("birds", "fish"), ("hello", "hi")]
    bank = ["fish", "dogs", "hi", "never said"]
    near = reply_ranker.PromptNeighbours(pairs, bank)
    prompts = ["cats", "birds cats", "zebra"]
    similarity = near.similarity(prompts)
    assert similarity.shape == (3, 4) and similarity.dtype == np.float32
    # Exact cases: a training prompt itself is 1 from its reply; a prompt of unknown words
    # is near nothing; a reply that no pair gave is near nothing.
    assert similarity[0, 1] == pytest.approx(1.0) and not similarity[2].any() and not similarity[:, 3].any()
    # Each reply takes the best of its prompts' cosines (the TF-IDF cosines, pair by pair).
    vectorizer = reply_ranker._vectorizer([p for p, _ in pairs])
    cosines = (vectorizer.transform(prompts) @ vectorizer.transform([p for p, _ in pairs]).T).toarray()
    expected = np.zeros((3, 4))
    for k, (_, reply) in enumerate(pairs):
        column = bank.index(reply)
        expected[:, column] = np.maximum(expected[:, column], cosines[:, k])
    np.testing.assert_allclose(similarity, expected, atol=1e-6)
    # "birds cats" shares a word with "birds" and with "cats dogs": "fish" takes the nearer.
    assert 0 < cosines[1, 1] < cosines[1, 2] == pytest.approx(similarity[1, 0])
    with pytest.raises(ValueError, match="1 replies of the pairs are not in the bank, e.g. 'hi'"):
        reply_ranker.PromptNeighbours(pairs, bank[:2])


# --- the loss -------------------------------------------------------------------


def test_in_batch_softmax_leaves_out_pairs_that_read_the_same():
    from keras import ops

    scores = np.array([[2.0, 0.5, 1.0], [0.3, 1.5, -1.0], [0.7, 0.2, 3.0]], "float32")
    # Pairs 0 and 2 have the same reply text (group 7): neither is the other's negative.
    groups = np.array([[0, 7], [1, 8], [2, 7]], "float32")
    kept = np.array([[1, 1, 0], [1, 1, 1], [0, 1, 1]], bool)

    def log_softmax_diagonal(matrix, allowed):
        return [matrix[k, k] - np.log(np.exp(matrix[k][allowed[k]]).sum()) for k in range(3)]

    rows = log_softmax_diagonal(scores, kept)
    columns = log_softmax_diagonal(scores.T, kept.T)
    expected = -(np.array(rows) + np.array(columns)) / 2
    loss = ops.convert_to_numpy(reply_ranker.InBatchSoftmax().call(ops.convert_to_tensor(groups), ops.convert_to_tensor(scores)))
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


# --- a tiny model ----------------------------------------------------------------

TINY = {"vocabulary": 80, "embedding": 8, "units": 6, "dimension": 8, "dropout": 0.0, "scale": 5.0, "learning_rate": 0.02}
CHAT = [("hello there", "Hi, how are you?"), ("what is your name", "My name is Bot."),
        ("do you like music", "I like jazz."), ("how old are you", "I am two years old."),
        ("what is the weather", "It is sunny."), ("tell me a joke", "Why did the chicken cross the road?"),
        ("good morning", "Good morning to you."), ("where do you live", "In a computer."),
        ("what do you eat", "Electricity."), ("bye", "Goodbye!"), ("thank you", "You are welcome."),
        ("are you a robot", "Yes.")]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    zoo_model, trained = reply_ranker.fit_pairs(
        reply_ranker.Model, CHAT, CHAT[:4], TINY, epochs=24, seed=0, batch_size=4,
        checkpoint_dir=tmp_path_factory.mktemp("checkpoint"),
    )
    return zoo_model, trained


def test_tiny_model_learns_its_pairs(tiny):
    zoo_model, trained = tiny
    # Uniform scores over a batch of 4 distinct pairs would give log 4 both ways.
    assert trained["final_loss"] < math.log(4)
    assert trained["seconds"] > 0 and trained["epochs"] == 24
    assert zoo_model.model.count_params() < 10_000


def test_encoders_are_separate_models_of_unit_vectors(tiny):
    zoo_model, _ = tiny
    network = zoo_model.network
    assert network.prompt_encoder.name == "prompt_encoder" and network.reply_encoder.name == "reply_encoder"
    prompts = zoo_model.encode_prompts(["hello there", "bye"])
    replies = zoo_model.encode_replies(["Yes.", "Hi, how are you?", "Goodbye!"])
    assert prompts.shape == (2, 8) and replies.shape == (3, 8)
    np.testing.assert_allclose(np.linalg.norm(replies, axis=1), 1.0, rtol=1e-5)
    scores = zoo_model.scores("bye", ["Yes.", "Hi, how are you?", "Goodbye!"])
    np.testing.assert_allclose(scores, TINY["scale"] * replies @ prompts[1], rtol=1e-5, atol=1e-6)


def test_saved_and_loaded_copy_scores_the_same(tiny, tmp_path):
    zoo_model, trained = tiny
    # Stored as float16: round the weights first so that both copies hold the same numbers.
    zoo_model.model.set_weights([w.astype("float16").astype(w.dtype) for w in zoo_model.model.get_weights()])
    zoo_model.save(tmp_path, training=trained)
    loaded = reply_ranker.Model.load(tmp_path)
    assert loaded.config == zoo_model.config and loaded.manifest["training"] == trained
    candidates = [reply for _, reply in CHAT]
    for prompt in ("hello there", "what do you eat", "something new"):
        np.testing.assert_allclose(loaded.scores(prompt, candidates), zoo_model.scores(prompt, candidates), atol=1e-5)


def test_averaged_rankers_score_the_mean_of_their_members(tiny, tmp_path):
    """`assemble`: two rankers as one dual encoder whose encodings are the members' side by
    side, scaled by 1/sqrt(2): unit vectors whose dot product is the mean of the members'."""
    first, _ = tiny
    second, _ = reply_ranker.fit_pairs(
        reply_ranker.Model, CHAT, CHAT[:4], TINY, epochs=2, seed=1, batch_size=4, checkpoint_dir=tmp_path / "checkpoint",
    )
    averaged = reply_ranker.assemble([first, second])
    assert averaged.config["members"] == 2
    assert averaged.model.count_params() == first.model.count_params() + second.model.count_params()
    candidates = ["Yes.", "Hi, how are you?", "Goodbye!", "It is sunny."]
    mean = (first.scores("hello there", candidates) + second.scores("hello there", candidates)) / 2
    np.testing.assert_allclose(averaged.scores("hello there", candidates), mean, rtol=1e-5, atol=1e-6)
    assert averaged.encode_prompts(["bye"]).shape == (1, 16)
    np.testing.assert_allclose(np.linalg.norm(averaged.encode_replies(candidates), axis=1), 1.0, rtol=1e-5)
    averaged.save(tmp_path / "averaged")
    loaded = reply_ranker.Model.load(tmp_path / "averaged")
    np.testing.assert_allclose(loaded.scores("hello there", candidates), averaged.scores("hello there", candidates), rtol=1e-3, atol=1e-3)
    other = reply_ranker.Model(second.model, second.config, assets={reply_ranker.SUBWORDS_FILE: b"another vocabulary"})
    with pytest.raises(ValueError, match="different subword vocabularies"):
        reply_ranker.assemble([first, other])


def test_choose_picks_the_best_scored_reply_of_the_bank(tiny):
    zoo_model, _ = tiny
    bank = [reply for _, reply in CHAT]
    prompts = [prompt for prompt, _ in CHAT]
    chosen = zoo_model.choose(prompts, bank)
    best = (zoo_model.encode_prompts(prompts) @ zoo_model.encode_replies(bank).T).argmax(axis=1)
    assert chosen == [bank[k] for k in best]
    assert chosen[0] == bank[int(np.argmax(zoo_model.scores(prompts[0], bank)))]
    assert zoo_model.choose("bye", bank) == chosen[prompts.index("bye")]
    assert zoo_model.choose(prompts, bank, bank_vectors=zoo_model.encode_replies(bank)) == chosen
    # It learnt its own pairs: half the prompts or more get their own reply back (chance: 1 in 12).
    assert sum(c == r for c, (_, r) in zip(chosen, CHAT)) >= 6
    # A log-prior adds to the scores: one far above the rest wins everywhere.
    prior = np.zeros(len(bank))
    prior[3] = 100.0
    assert zoo_model.choose(prompts, bank, prior=prior) == [bank[3]] * len(prompts)
    # The neighbour term: a prompt that is a training prompt gets that pair's reply.
    near = reply_ranker.PromptNeighbours([("something new", bank[5])], bank)
    assert zoo_model.choose("something new", bank, neighbours=near) == bank[5]
    with pytest.raises(ValueError, match="a bank of 12 replies and neighbours over 1"):
        zoo_model.choose("bye", bank, neighbours=reply_ranker.PromptNeighbours([("xyz", bank[0])], bank[:1]))
    with pytest.raises(ValueError, match="a bank of 12 replies and a prior of 2"):
        zoo_model.choose("bye", bank, prior=[0.0, 1.0])
    with pytest.raises(ValueError, match="a bank of 0 replies"):
        zoo_model.choose("bye", [])
    with pytest.raises(TypeError, match=r"replies\[1\] is int"):
        zoo_model.encode_replies(["Yes.", 3])


def test_source_batches_hold_one_source_each_and_every_pair_once(tiny):
    zoo_model, _ = tiny
    sources = ["a"] * 5 + ["b"] * 7
    batches = reply_ranker.PairBatches(CHAT, zoo_model.subwords, 3, seed=1, sources=sources)
    assert len(batches) == 2 + 3  # ceil(5 / 3) + ceil(7 / 3)
    drawn = [batches._draw()]
    batches.set_epoch(1)
    drawn.append(batches._draw())
    for batch_list in drawn:
        assert sorted(k for batch in batch_list for k in batch) == list(range(12))
        assert all(len({sources[k] for k in batch}) == 1 for batch in batch_list)
    assert [list(b) for b in drawn[0]] != [list(b) for b in drawn[1]]  # a new draw each epoch
    batches.set_epoch(0)
    assert [list(b) for b in batches._draw()] == [list(b) for b in drawn[0]]  # the same draw for the same epoch
    (prompts, replies), groups = batches[0]
    assert prompts.shape[0] == replies.shape[0] == groups.shape[0] == len(drawn[0][0])
