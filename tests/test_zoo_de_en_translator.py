"""de-en-translator: loads and translates on every backend; its exports decode the same; the card reproduces."""

import math

import pytest

from keras_lstm import zoo
from keras_lstm.cli import main as cli_main
from keras_lstm.zoo import de_en_translator, german_english, parallel_corpus, seq2seq
from seq2seq_support import assert_close_scores, check_bad_input, check_exported_decoding, check_tflite_export

needs_dictionary = pytest.mark.skipif(
    not german_english.DICTIONARY.is_file(), reason="Debian's trans-de-en (the test split and the baseline) is not installed"
)


@pytest.fixture(scope="module")
def translator():
    return zoo.load("de-en-translator")


def test_translates_one_sentence_or_a_list(translator):
    english = translator.translate("Ich kann Ihrer Argumentation nicht folgen.")
    assert isinstance(english, str) and english.strip()
    both = translator.translate(["Das Haus ist groß.", "Wo ist der Bahnhof?"], beam_size=1)
    assert len(both) == 2 and both[0] == translator.translate("Das Haus ist groß.", beam_size=1)


def test_text_of_any_length_is_translated_sentence_by_sentence_and_line_by_line(translator):
    one, two = "Das Haus ist groß.", "Wo ist der Bahnhof?"
    alone = translator.translate([one, two], beam_size=1)
    assert translator.translate(f"{one} {two}", beam_size=1) == " ".join(alone)
    assert translator.translate(f"{one}\n\n  {two}\n", beam_size=1) == "\n".join(alone)
    many = translator.translate("Das ist gut. " * 200, beam_size=1)
    assert many == " ".join([translator.translate("Das ist gut.", beam_size=1)] * 200)


def test_a_sentence_longer_than_the_network_takes_is_split_not_cut(translator):
    clause = "und dann gingen wir mit unseren Freunden in den großen Garten hinter dem alten Haus"
    sentence = "Wir kamen spät an, " + ", ".join([clause] * 8) + "."
    assert len(translator.subwords.encode(sentence)) > seq2seq.MAX_SUBWORDS
    pieces = translator.pieces(sentence)
    assert len(pieces) > 1 and " ".join(pieces).split() == sentence.split()
    assert all(len(translator.subwords.encode(p)) <= seq2seq.MAX_SUBWORDS for p in pieces)
    assert all(p.endswith(",") for p in pieces[:-1])  # cut after commas, where they fit
    no_commas = sentence.replace(",", "")
    pieces = translator.pieces(no_commas)
    assert len(pieces) > 1 and " ".join(pieces).split() == no_commas.split()
    assert translator.translate(sentence, beam_size=1).count(" ") > 40
    with pytest.raises(ValueError, match=r"sentences\[1\] has a word of \d+ subwords"):
        translator.translate(["Gut.", "Das ist " + "x9q" * 100 + "."], beam_size=1)


def test_generate_refuses_an_input_it_would_have_to_cut(translator):
    too_long = " ".join(["Haus"] * (seq2seq.MAX_INPUT_SUBWORDS + 1))
    with pytest.raises(ValueError, match=rf"texts\[1\] is \d+ subwords long; expected at most {seq2seq.MAX_INPUT_SUBWORDS}"):
        translator.generate(["Gut.", too_long], beam_size=1)


def test_run_command_prints_one_line_per_sentence(translator, capsys):
    sentences = ["Ich kann Ihrer Argumentation nicht folgen.", "Wo ist der Bahnhof?"]
    assert cli_main(["zoo", "run", "de-en-translator", *sentences, "--beam", "1"]) == 0
    assert capsys.readouterr().out.strip().splitlines() == translator.translate(sentences, beam_size=1)


def test_bad_input_names_the_argument(translator):
    check_bad_input(translator, translator.translate, "sentences")


@needs_dictionary
def test_exported_encoder_and_step_translate_the_same_in_onnxruntime(translator, tmp_path):
    sentences = [de for de, _ in de_en_translator.data()[2][:4]]
    check_exported_decoding(translator, sentences, tmp_path)


def test_exports_to_tflite_with_fused_lstm_ops(translator, tmp_path):
    check_tflite_export(translator, tmp_path)


@needs_dictionary
def test_card_scores_reproduce(translator):
    """Greedy translations of the whole test split and the baseline. (Beam search's figures
    come from the same decoder: `zoo evaluate` recomputes them; the export test checks
    beam search itself.)"""
    recorded = translator.manifest["metrics"]
    results = de_en_translator.evaluate(translator, beam_size=None)
    assert_close_scores(results, {name: recorded[name] for name in results})


@needs_dictionary
def test_evaluate_adds_rows_for_each_corpus_source(translator, monkeypatch):
    pairs = [("Das Haus ist groß.", "The house is big."), ("Wo ist der Bahnhof?", "Where is the station?")]
    monkeypatch.setattr(de_en_translator, "data", lambda: (pairs, [], pairs[:1]))
    asked = []

    def corpus(names):
        asked.append(list(names))
        return {name: ([], [], pairs) for name in names}

    monkeypatch.setattr(parallel_corpus, "corpus", corpus)
    results = de_en_translator.evaluate(translator, beam_size=None, sources=["gnome-user-docs"])
    assert asked == [["gnome-user-docs"]]
    assert list(results) == [
        "LSTM seq2seq, greedy", "word-by-word dictionary lookup",
        "gnome-user-docs: LSTM seq2seq, greedy", "gnome-user-docs: word-by-word dictionary lookup",
    ]
    english = translator.translate([de for de, _ in pairs], beam_size=1)
    expected = de_en_translator.scores(english, [[en] for _, en in pairs])
    assert results["gnome-user-docs: LSTM seq2seq, greedy"] == expected
    # The committed model trained on none: by default, no source rows.
    assert not any(":" in row for row in de_en_translator.evaluate(translator, beam_size=None, baselines=False))


def test_first_stage_mixes_in_the_named_corpus_sources_up_to_the_word_limit(monkeypatch):
    short = ("Das Haus ist groß.", "The house is big.")
    long_german = (" ".join(["Wort"] * 21), "Twenty-one words in German.")
    long_english = ("Einundzwanzig Wörter.", " ".join(["word"] * 21))
    sources = {"freeciv": ([short, long_german], [], []), "debian-faq": ([long_english], [], [])}
    monkeypatch.setattr(parallel_corpus, "corpus", lambda names: {name: sources[name] for name in names})
    dictionary = [("Wo ist der Bahnhof?", "Where is the station?")]
    config = {"dictionary_phrases": 0, "corpus_sources": ["freeciv", "debian-faq"], "corpus_max_words": 20}
    assert de_en_translator.first_stage_pairs(dictionary, config, seed=0) == dictionary + [short]
    assert de_en_translator.first_stage_pairs(dictionary, {**config, "corpus_max_words": None}, seed=0) == (
        dictionary + [short, long_german, long_english]
    )
    assert de_en_translator.first_stage_pairs(dictionary, {**config, "corpus_sources": []}, seed=0) == dictionary


def test_with_domain_tags_each_german_text_starts_with_its_domain(monkeypatch):
    game = ("Das Spiel ist aus.", "The game is over.")
    monkeypatch.setattr(parallel_corpus, "corpus", lambda names: {name: ([game], [], []) for name in names})
    dictionary = [("Wo ist der Bahnhof?", "Where is the station?")]
    config = {"dictionary_phrases": 0, "corpus_sources": ["freeciv", "gnome-user-docs"], "domain_tags": True}
    assert de_en_translator.first_stage_pairs(dictionary, config, seed=0) == [
        ("<dictionary-examples> Wo ist der Bahnhof?", "Where is the station?"),
        ("<game-interface-and-help> Das Spiel ist aus.", "The game is over."),
        ("<desktop-help> Das Spiel ist aus.", "The game is over."),
    ]


def test_a_model_trained_with_tags_translates_as_the_domain_asked(translator, monkeypatch):
    config = {**translator.config, "domain_tags": True, "corpus_sources": ["freeciv"]}
    tagged = de_en_translator.Model(translator.model, config, assets=translator.assets)
    read = []
    monkeypatch.setattr(tagged, "generate", lambda texts, *args, **kwargs: read.extend(texts) or ["x"] * len(texts))
    tagged.translate("Das Haus ist groß. Wo ist der Bahnhof?")
    tagged.translate("Das Spiel ist aus.", domain="game interface and help")
    assert read == [
        "<dictionary-examples> Das Haus ist groß.", "<dictionary-examples> Wo ist der Bahnhof?",
        "<game-interface-and-help> Das Spiel ist aus.",
    ]
    with pytest.raises(ValueError, match=r"domain='news'; expected one of \['dictionary examples', 'game interface and help'\]"):
        tagged.translate("Das Haus ist groß.", domain="news")
    # Without tags the domain changes nothing.
    assert translator.translate("Wo ist der Bahnhof?", beam_size=1, domain="news") == translator.translate("Wo ist der Bahnhof?", beam_size=1)


def test_bad_settings_are_named(translator):
    for penalty in (-1.0, float("nan"), "1"):
        with pytest.raises(ValueError, match=r"length_penalty=.*; expected a number >= 0"):
            translator.translate("Das Haus ist groß.", length_penalty=penalty)


# --- the metrics, against values worked out by hand ---------------------------


def test_bleu_takes_every_reference_of_a_sentence():
    # Sentence 1: "a b c d" against "a b c d e": its 4 words, 3 word pairs, 2 triples and
    # 1 four-word run all occur in the reference. Sentence 2: "w x y z" is its second
    # reference exactly. So every n-gram precision is 8/8, 6/6, 4/4, 2/2 = 1, and only the
    # brevity penalty is left: hypothesis length 4 + 4 = 8, reference length 5 + 4 = 9
    # (sentence 2's closest reference has 4 words), BLEU = 100 exp(1 - 9/8) = 88.25.
    # Scored against first references only, sentence 2 matches nothing: each precision
    # halves, 100 * 1/2 * exp(-1/8) = 44.12. Hypotheses and references swapped: 39.92.
    hypotheses = ["a b c d", "w x y z"]
    references = [["a b c d e"], ["p q r s", "w x y z"]]
    assert de_en_translator.scores(hypotheses, references)["bleu"] == pytest.approx(100 * math.exp(1 - 9 / 8))


def test_chrf_weights_recall_twice_as_much_as_precision():
    # chrF (beta 2, character n-grams of 1 to 6, averaged over the orders both sides have):
    # "abc" against "abcd": 1-grams 3 of the hypothesis' 3 and the reference's 4 match,
    # 2-grams 2 of 2 and 3, 3-grams 1 of 1 and 2; no 4-grams in the hypothesis. Precision
    # 1, recall (3/4 + 2/3 + 1/2) / 3 = 23/36, F = 5 P R / (4 P + R) = 115/167 = 68.86.
    # Hypothesis and reference swapped: F = 115/128 = 89.84.
    assert de_en_translator.scores(["abc"], [["abcd"]])["chrf"] == pytest.approx(100 * 115 / 167)
