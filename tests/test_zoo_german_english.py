"""Sentence pairs, the lexicon and the split from the trans-de-en dictionary format."""

import pytest

from keras_lstm.zoo import german_english

# Lines in the dictionary's own format (DE alternatives :: EN alternatives).
DICTIONARY = """\
# Version :: test
Haus {n} | Häuser {pl} | Das Haus ist groß. | Wir bauen ein Haus. :: house | houses | The house is big. | We are building a house.
groß {adj} | Der Baum ist groß. :: big; tall | The tree is tall.
bauen {vt} | ich baue | er/sie baut :: to build | I build | he/she builds
Baum {m} :: tree
jdm. etw. geben | Gib es jdm. zurück. :: to give sb. sth. | Give it back to sb.
Das ist (nicht) gut. :: That is (not) good.
ein; eine :: a; an
der; die; das :: the
ist :: is
ich {ppron}; icke [Berlin] ~mir ~mich :: I; me
zu viele Alternativen | Einer. :: one | One. | Two.
Viel Glück im neuen Job!; Alles Gute für den neuen Job! :: Good luck in your new job.; Best of luck in your new job!
Er kam herein; sie ging hinaus. :: He came in; she went out.
"""


@pytest.fixture
def dictionary(tmp_path, monkeypatch):
    path = tmp_path / "de-en"
    path.write_text(DICTIONARY, encoding="utf-8")
    monkeypatch.setattr(german_english, "DICTIONARY", path)
    return path


def test_sentence_pairs_are_aligned_full_sentences(dictionary):
    assert german_english.sentence_pairs() == [
        ("Das Haus ist groß.", "The house is big."),
        ("Wir bauen ein Haus.", "We are building a house."),
        ("Der Baum ist groß.", "The tree is tall."),
        # Listed synonyms: each German sentence with each English one.
        ("Viel Glück im neuen Job!", "Good luck in your new job."),
        ("Viel Glück im neuen Job!", "Best of luck in your new job!"),
        ("Alles Gute für den neuen Job!", "Good luck in your new job."),
        ("Alles Gute für den neuen Job!", "Best of luck in your new job!"),
        # A semicolon inside one sentence.
        ("Er kam herein; sie ging hinaus.", "He came in; she went out."),
    ]


def test_each_german_sentence_is_scored_against_all_its_translations(dictionary):
    from keras_lstm.zoo import de_en_translator

    test = german_english.with_references(german_english.sentence_pairs())
    assert test[3] == ("Viel Glück im neuen Job!", ["Good luck in your new job.", "Best of luck in your new job!"])
    sources = [de for de, _ in test]
    assert len(sources) == len(set(sources)) == 6
    references = [options for _, options in test]
    # Each hypothesis is one of its sentence's references, most not the first one.
    hypotheses = [options[-1] for options in references]
    assert de_en_translator.scores(hypotheses, references) == {"bleu": pytest.approx(100), "chrf": pytest.approx(100)}
    assert de_en_translator.scores(hypotheses, [options[:1] for options in references])["bleu"] < 90
    with pytest.raises(ValueError, match="6 hypotheses and 5 reference lists"):
        de_en_translator.scores(hypotheses, references[:5])


def test_lexicon_picks_the_sense_the_training_pairs_use(dictionary):
    training = [("Der Baum ist groß.", "The tree is tall."), ("Ein Baum ist groß.", "A tree is tall.")]
    words = german_english.lexicon(training)
    assert words["groß"] == "tall"  # "big" comes first in the entry
    assert words["baut"] == "builds"  # a conjugated form, pronouns dropped
    assert words["Häuser"] == "houses"
    assert german_english.word_by_word("Der Baum ist groß.", words) == "The tree is tall."
    assert german_english.word_by_word("Ich baue ein Haus!", words) == "I build a house!"


def test_missing_dictionary_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(german_english, "DICTIONARY", tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="apt-get install trans-de-en"):
        german_english.sentence_pairs()


def test_split_keeps_every_sentence_in_one_split():
    pairs = [(f"De {k % 40}.", f"En {k % 25}.") for k in range(200)] + [(f"Satz {k}.", f"Sentence {k}.") for k in range(300)]
    train, dev, test = german_english.split(pairs, test_size=50, dev_size=30, seed=1)
    assert sorted(train + dev + test) == sorted(pairs)
    for first, second in ((train, dev), (train, test), (dev, test)):
        assert not {de for de, _ in first} & {de for de, _ in second}
        assert not {en for _, en in first} & {en for _, en in second}
    assert len(test) <= 50 and len(dev) <= 30
    assert german_english.split(pairs, test_size=50, dev_size=30, seed=1) == (train, dev, test)


@pytest.mark.skipif(not german_english.DICTIONARY.is_file(), reason="Debian's trans-de-en is not installed")
def test_the_installed_dictionary_gives_the_recipe_its_split():
    pairs = german_english.sentence_pairs()
    assert 14000 < len(pairs) < 19000
    train, dev, test = german_english.split(pairs)
    assert (len(dev), len(test)) == (german_english.DEV_SIZE, german_english.TEST_SIZE)
    assert not any(german_english.PLACEHOLDERS.search(de + " " + en) for de, en in pairs)


@pytest.mark.parametrize("text, expected", [
    ("Das ist gut. Das ist schlecht!", ["Das ist gut.", "Das ist schlecht!"]),
    ("Er kam am 3. Mai. Sie ging.", ["Er kam am 3. Mai.", "Sie ging."]),
    ("Wir brauchen z. B. Brot. Und Eier?", ["Wir brauchen z. B. Brot.", "Und Eier?"]),
    ("Er sagte: „Komm!“ Dann ging er.", ["Er sagte: „Komm!“", "Dann ging er."]),
    ("Eins\n\n  Zwei. Drei.  ", ["Eins", "Zwei.", "Drei."]),
    ("Das kostet 3.50 Euro. 5 Leute kamen.", ["Das kostet 3.50 Euro.", "5 Leute kamen."]),
    ("Was? nein. Doch…  Ja.", ["Was? nein.", "Doch…", "Ja."]),
    ("Das Grab wurde auf 850 n. Chr. datiert.", ["Das Grab wurde auf 850 n. Chr. datiert."]),
    ("   ", []),
])
def test_sentences_splits_a_german_text(text, expected):
    assert german_english.sentences(text) == expected
