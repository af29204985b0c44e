"""de-en-translator: loads and translates on every backend; its exports decode the same; the card reproduces."""

import pytest

from keras_lstm import zoo
from keras_lstm.cli import main as cli_main
from keras_lstm.zoo import de_en_translator, german_english
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
