"""German-English sentence pairs and a word lexicon from Debian's `trans-de-en`.

The file (`/usr/share/trans/de-en`, Frank Richter's dictionary from TU Chemnitz,
GPL-2+) has one entry a line: `DE | DE2 | ... :: EN | EN2 | ...`, where the
alternatives on the two sides are aligned one to one (a headword, its
inflected forms, then example sentences). Aligned alternatives that are full
sentences give the translator's pairs; aligned single words give the
word-by-word baseline's lexicon.

Install: `apt-get install trans-de-en` (the Makefile and `.ci/run` do it where
apt-get is available).
"""

import os
import re
import unicodedata
from pathlib import Path

DICTIONARY = Path(os.environ.get("TRANS_DE_EN", "/usr/share/trans/de-en"))
# Placeholders that stand for "somebody"/"something": entries with them are
# patterns, not sentences.
PLACEHOLDERS = re.compile(
    r"\b(jd|jdm|jdn|jds|etw|sb|sth|sb's|somebody|something|someone)\b\.?|[{}\[\]<>~/…]|\.\.\.|\(",
    re.IGNORECASE,
)
ANNOTATION = re.compile(r"\{[^}]*\}|\[[^\]]*\]|\([^)]*\)|<[^>]*>")


def dictionary_path():
    """The dictionary file, or a FileNotFoundError that says how to install it."""
    if not DICTIONARY.is_file():
        raise FileNotFoundError(
            f"{DICTIONARY} is missing: install Debian's trans-de-en package "
            "(apt-get install trans-de-en), or set TRANS_DE_EN to the file"
        )
    return DICTIONARY


def aligned_alternatives(path=None, with_size=False):
    """Every aligned (German, English) alternative of every entry, in file order;
    with `with_size`, also the number of alternatives in its entry."""
    with open(path or dictionary_path(), encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("#") or " :: " not in line:
                continue
            german, english = line.rstrip("\n").split(" :: ", 1)
            german, english = german.split(" | "), english.split(" | ")
            if len(german) != len(english):
                # A misaligned entry: its headwords still translate each other.
                german, english = german[:1], english[:1]
            for de, en in zip(german, english):
                yield (normalize(de), normalize(en), len(german)) if with_size else (normalize(de), normalize(en))


def normalize(text):
    text = unicodedata.normalize("NFC", text).strip()
    return text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')


def is_sentence(text, shortest=3, longest=20):
    words = text.split()
    return (
        text[:1].isupper() and text[-1] in ".?!" and shortest <= len(words) <= longest and not PLACEHOLDERS.search(text)
    )


def synonymous_sentences(text):
    """The sentences of one side of an aligned alternative. Some list synonyms
    ("Good luck in your new job.; Best of luck to you in your new job!"): each is
    its own sentence. A semicolon inside one sentence ("He came; she left.") stays."""
    pieces = [piece.strip() for piece in text.split(";")]
    listed = len(pieces) > 1 and all(piece[:1].isupper() and piece[-1:] in (".", "?", "!") for piece in pieces)
    return pieces if listed else [text]


def sentence_pairs(path=None):
    """The aligned full-sentence pairs, each once, in file order (about 16,400). An
    alternative that lists synonymous sentences gives every German one with every
    English one."""
    seen, pairs = set(), []
    for de_text, en_text in aligned_alternatives(path):
        for de in synonymous_sentences(de_text):
            for en in synonymous_sentences(en_text):
                if is_sentence(de) and is_sentence(en) and (de, en) not in seen:
                    seen.add((de, en))
                    pairs.append((de, en))
    return pairs


# Words that end in a full stop without ending a sentence ("z. B.", "Nr. 5").
ABBREVIATIONS = {
    "z", "b", "d", "h", "u", "a", "o", "ä", "s", "bzw", "ca", "dr", "prof", "nr", "usw", "vgl", "evtl", "ggf",
    "inkl", "max", "min", "mio", "mrd", "st", "str", "tel", "etc", "jh", "bzgl", "zb", "hr", "fr", "abs", "kap",
    "n", "v", "chr",
}
SENTENCE_END = re.compile(r"""[.!?…]["'»«“”)\]]*(?=\s+["'„»«“(\[]*[A-ZÄÖÜ0-9])""")


def sentences(text):
    """The sentences of a German text, in order: lines apart, and within a line split after
    . ! ? or … (and any closing quote) before a capital or a digit, but not after an
    abbreviation ("z. B.", "n. Chr.") or an ordinal number ("am 3. Mai")."""
    found = []
    for line in text.splitlines():
        start = 0
        for end in SENTENCE_END.finditer(line):
            word = re.search(r"(\w*)\W*$", line[start:end.start()])
            last = word.group(1) if word else ""
            if end[0][0] != "." or not (last.lower() in ABBREVIATIONS or last.isdigit()):
                found.append(line[start:end.end()])
                start = end.end()
        found.append(line[start:])
    return [" ".join(s.split()) for s in found if s.strip()]


def with_references(pairs):
    """[(German sentence, [its English translations])]: each German sentence once, in the
    order first seen, with every translation the pairs give it (the split keeps them
    together), so a translation is scored against all of them."""
    references = {}
    for de, en in pairs:
        references.setdefault(de, []).append(en)
    return list(references.items())


# Conjugation rows ("er/sie/es kann :: he/she/it can") give inflected verbs
# once their pronouns are dropped.
GERMAN_PRONOUN = re.compile(r"^(ich|du|wir|ihr|sie|er|es)(/(ich|du|wir|ihr|sie|er|es))*\s+")
ENGLISH_PRONOUN = re.compile(r"^(I|you|he|she|it|we|they)(/(I|you|he|she|it|we|they))*\s+")


def lexicon_candidates(path=None):
    """German word (case kept) -> its English translations, from aligned single-word
    alternatives: headwords, their inflected forms and conjugated verbs without their
    pronouns, annotations such as {f} removed. One-word translations first, then in
    file order."""
    candidates = {}
    for de, en in aligned_alternatives(path):
        de, en = ANNOTATION.sub("", de).strip(), ANNOTATION.sub("", en).strip()
        conjugated = GERMAN_PRONOUN.match(de) and " " not in GERMAN_PRONOUN.sub("", de)
        if conjugated:
            de = GERMAN_PRONOUN.sub("", de)
        translations = []
        for translation in en.split(";"):
            translation = translation.strip()
            if conjugated:
                translation = ENGLISH_PRONOUN.sub("", translation)
            if translation.startswith("to "):
                translation = translation[3:].strip()
            translation = PLACEHOLDERS.sub("", translation).strip(" .")
            if translation and "/" not in translation and "~" not in translation:
                translations.append(translation)
        for synonym in de.split(";"):
            synonym = synonym.strip()
            if synonym and " " not in synonym and "/" not in synonym and "~" not in synonym:
                known = candidates.setdefault(synonym, [])
                known.extend(t for t in translations if t not in known)
    return {word: sorted(options, key=lambda t: len(t.split()) > 1) for word, options in candidates.items()}


def lexicon(training_pairs, path=None):
    """German word -> one English translation for the word-by-word baseline.

    A word has many entries ("nur" heads "only; just" and appears in dozens
    of idioms). Among its dictionary translations, the one whose words occur
    most often in the English side of the training sentence pairs whose
    German side has the word wins (ties: one-word translations, then file
    order): dictionary lookup, with the choice of sense learned from the same
    training data the LSTM sees.
    """
    candidates = lexicon_candidates(path)
    cooccurring = {}
    for de, en in training_pairs:
        english = set(tokens(en.lower()))
        for word in set(tokens(de)):
            if word in candidates or word.lower() in candidates:
                counts = cooccurring.setdefault(word, {})
                for token in english:
                    counts[token] = counts.get(token, 0) + 1
    chosen = {}
    for word, options in candidates.items():
        counts = {**cooccurring.get(word.lower(), {}), **cooccurring.get(word, {})}
        def score(option, counts=counts):
            words = tokens(option.lower())
            return sum(counts.get(w, 0) for w in words) / len(words) if words else 0
        if options:
            chosen[word] = max(options, key=score)  # max keeps the first of equals
    return chosen


def tokens(text):
    return re.findall(r"\w+|[^\w\s]", text)


def word_by_word(sentence, words):
    """The baseline: each German word replaced by its lexicon entry (unknown words kept)."""
    out = []
    for position, token in enumerate(tokens(sentence)):
        if not token[0].isalnum():
            out.append(token)
            continue
        candidates = (token.lower(), token) if position == 0 else (token, token.lower(), token.capitalize())
        english = next((words[c] for c in candidates if c in words), token)
        out.append(english)
    text = " ".join(out)
    text = re.sub(r" ([.,!?;:])", r"\1", text)
    return text[:1].upper() + text[1:]


TEST_SIZE, DEV_SIZE, SPLIT_SEED = 1000, 500, 0


def split(pairs, test_size=TEST_SIZE, dev_size=DEV_SIZE, seed=SPLIT_SEED):
    """(train, dev, test), fixed by the seed. Pairs that share a German or an
    English sentence stay in one split, so no sentence is in two."""
    from keras_lstm.zoo.training import grouped_split

    return grouped_split(pairs, lambda pair: [("de", pair[0]), ("en", pair[1])], test_size, dev_size, seed)


def phrase_pairs(path=None, longest=6):
    """Aligned words and short phrases (not sentences) of the dictionary, annotations
    removed, each once: the vocabulary that 15,000 sentences alone do not cover.
    Infinitives lose their "to"; entries with placeholders are left out."""
    seen, pairs = set(), []
    for de, en in aligned_alternatives(path):
        if is_sentence(de) or is_sentence(en):
            continue
        de, en = " ".join(ANNOTATION.sub("", de).split()), " ".join(ANNOTATION.sub("", en).split())
        de, en = de.split(";")[0].strip(), en.split(";")[0].strip()
        if en.startswith("to "):
            en = en[3:]
        if not de or not en or PLACEHOLDERS.search(de + " " + en) or re.search(r"[|:=+#%&]", de + en):
            continue
        if len(de.split()) > longest or len(en.split()) > longest or (de, en) in seen:
            continue
        seen.add((de, en))
        pairs.append((de, en))
    return pairs
