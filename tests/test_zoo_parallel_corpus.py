"""Parallel text from translated Debian packages: each alignment on files the test
writes in the packages' own formats, cleaning, splits, and reading a `.deb`."""

import shutil
import struct
import subprocess

import pytest

from keras_lstm.cli import main as cli_main
from keras_lstm.zoo import parallel_corpus


def write_catalogue(path, messages):
    """A GNU `.mo` file of `messages` (msgid -> msgstr), as msgfmt writes it."""
    keys = sorted(messages)
    ids = b"".join(k.encode() + b"\0" for k in keys)
    strs = b"".join(messages[k].encode() + b"\0" for k in keys)
    start = 7 * 4 + 16 * len(keys)
    table, offset = [], start
    for k in keys:
        table.append((len(k.encode()), offset))
        offset += len(k.encode()) + 1
    translations, offset = [], start + len(ids)
    for k in keys:
        translations.append((len(messages[k].encode()), offset))
        offset += len(messages[k].encode()) + 1
    header = struct.pack("<7I", 0x950412DE, 0, len(keys), 28, 28 + 8 * len(keys), 0, 0)
    body = b"".join(struct.pack("<2I", *entry) for entry in table + translations)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + body + ids + strs)


def test_catalogue_pairs_take_translated_messages_without_their_contexts(tmp_path):
    path = tmp_path / "de.mo"
    write_catalogue(path, {
        "": "Content-Type: text/plain; charset=UTF-8\n",
        "The bridge is out.": "Die Brücke ist zerstört.",
        "female^Dune Falconer": "Falknerin",
        "?unitflag:FerryBoat": "Fähre",
        "menu\x04Open": "Öffnen",
        "Untranslated": "",
    })
    assert sorted(parallel_corpus.catalogue_pairs([path])) == sorted([
        ("Die Brücke ist zerstört.", "The bridge is out."),
        ("Falknerin", "Dune Falconer"),
        ("Fähre", "FerryBoat"),
        ("Öffnen", "Open"),
    ])


def page(body):
    return f"<html><head><title>T</title></head><body>{body}</body></html>"


def test_paragraph_id_pairs_join_paragraphs_by_their_ids(tmp_path):
    german, english = tmp_path / "de.html", tmp_path / "en.html"
    german.write_text(page(
        '<p id="par_id1">Wählen Sie <span class="menuitem">Format - Zeichen</span>.</p>'
        '<p id="par_id4">Drücken Sie <span class="switchinline"><span hidden="true" class="MAC">Befehl</span>'
        '<span>Strg</span></span>+F.</p>'
        '<h1 id="hd_id2">Zeichen</h1><p id="par_id3">Nur auf Deutsch.</p><p>Ohne Kennung.</p>'
    ), encoding="utf-8")
    english.write_text(page(
        '<h1 id="hd_id2">Characters</h1><p id="par_id1">Choose <span class="menuitem">Format - Character</span>.</p>'
        '<p>Without an id.</p><p id="par_id4">Press <span class="MAC">Command</span><span>Ctrl</span>+F.</p>'
    ), encoding="utf-8")
    assert sorted(parallel_corpus.paragraph_id_pairs(german, english)) == [
        ("Drücken Sie Strg+F.", "Press Ctrl+F."),
        ("Wählen Sie Format - Zeichen.", "Choose Format - Character."),
        ("Zeichen", "Characters"),
    ]


def test_block_pairs_pair_blocks_in_order_and_only_when_the_counts_agree(tmp_path):
    german, english, longer = tmp_path / "de.page", tmp_path / "C.page", tmp_path / "more.page"
    # Mallard: <info> (translator credits only in German) and code blocks are not text.
    german.write_text(
        "<page><info><credit>Übersetzer</credit></info><title>Tasten</title>"
        "<p>Drücken Sie <key>Strg</key>.</p><list><item><p>Eins</p></item></list><screen>ls -l</screen></page>",
        encoding="utf-8",
    )
    english.write_text(
        "<page><info></info><title>Keys</title><p>Press <key>Ctrl</key>.</p>"
        "<list><item><p>One</p></item></list><screen>ls -l</screen></page>",
        encoding="utf-8",
    )
    longer.write_text("<page><title>Keys</title><p>Press.</p><p>One</p><p>Two</p></page>", encoding="utf-8")
    assert parallel_corpus.block_pairs(german, english) == [
        ("Tasten", "Keys"), ("Drücken Sie Strg.", "Press Ctrl."), ("Eins", "One"),
    ]
    assert parallel_corpus.block_pairs(german, longer) == []


def test_pages_pair_by_name_whatever_their_language_folder_or_infix():
    paths = [
        "/x/usr/share/help/de/gnome-help/a.page", "/x/usr/share/help/C/gnome-help/a.page",
        "/x/usr/share/help/C/gnome-help/only-english.page",
        "/y/usr/share/libreoffice/help/de/text/s/b.html", "/y/usr/share/libreoffice/help/en-US/text/s/b.html",
        "/z/debian-reference-de/usr/share/debian-reference/ch02.de.html",
        "/z/debian-reference-en/usr/share/debian-reference/ch02.en.html",
        "/f/usr/share/doc/debian/FAQ/de/basic-defs.de.html", "/f/usr/share/doc/debian/FAQ/basic-defs.en.html",
    ]
    assert parallel_corpus.page_pairs(paths) == [
        (paths[7], paths[8]), (paths[5], paths[6]), (paths[0], paths[1]), (paths[3], paths[4]),
    ]
    with pytest.raises(ValueError, match="its language"):
        parallel_corpus.page_pairs(["/x/readme.html"])


def test_clean_removes_markup_entities_and_odd_spacing():
    assert parallel_corpus.clean(" Das  <b>ist</b>&nbsp;gut<br/>&amp; <i>schön</i>\u00ad.\n") == "Das ist gut & schön."
    assert parallel_corpus.clean("„Ja“, sagte er.") == '„Ja", sagte er.'


@pytest.mark.parametrize("german, english, expected", [
    ("Die Brücke ist zerstört.", "The bridge is out.", True),
    ("data_completion ist optional.", "data_completion is optional.", True),
    ("%s ist geflohen.", "%s fled.", False),
    ("Partei $side", "Side $side", False),
    ("Partei {side}", "Side {side}", False),
    ("_Datei", "_File", False),
    ("Linux", "Linux", False),
    ("42", "42", False),
    ("Hinzufügen von sehr vielen Dingen", "Add", False),
    ("wort " * 81, "word " * 81, False),
])
def test_usable_pairs(german, english, expected):
    assert parallel_corpus.usable(german.strip(), english.strip()) is expected


def test_clean_pairs_deduplicate_and_leave_out_held_out_sentences():
    raw = [
        ("Das ist gut.", "That is good."),
        ("Das  ist <i>gut</i>.", "That is good."),
        ("Wir gehen.", "We are leaving."),
        ("Er schläft.", "He is sleeping."),
        ("%d Dateien", "%d files"),
    ]
    assert parallel_corpus.clean_pairs(raw, excluded={"we are leaving."}) == [
        ("Das ist gut.", "That is good."), ("Er schläft.", "He is sleeping."),
    ]


def test_is_sentence_like():
    assert parallel_corpus.is_sentence_like(("x", "This is a sentence."))
    assert not parallel_corpus.is_sentence_like(("x", "Too short."))
    assert not parallel_corpus.is_sentence_like(("x", "Open the file menu here"))


def test_split_is_seeded_sized_and_keeps_shared_texts_together():
    pairs = [(f"Satz {k}.", f"Sentence {k % 1500}.") for k in range(3000)]
    train, dev, test = parallel_corpus.split(pairs)
    assert (len(dev), len(test)) == (150, 150)
    assert sorted(train + dev + test) == sorted(pairs)
    english = [{en for _, en in part} for part in (train, dev, test)]
    assert not (english[0] & english[1] or english[0] & english[2] or english[1] & english[2])
    assert parallel_corpus.split(pairs) == (train, dev, test)
    assert parallel_corpus.held_out_size(40_000) == 1000 and parallel_corpus.held_out_size(500) == 100


needs_dpkg_deb = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb is not installed (not a Debian system)")


def build_deb(tmp_path, package, messages):
    """A `.deb` of `package` in `tmp_path/cache/debs` holding a German and a French catalogue
    of `messages`; returns (the cache, a Source that reads its German catalogue)."""
    tree = tmp_path / "tree"
    write_catalogue(tree / "usr/share/locale/de/LC_MESSAGES/game.mo", messages)
    write_catalogue(tree / "usr/share/locale/fr/LC_MESSAGES/game.mo", {"Run away!": "Fuyez !"})
    (tree / "DEBIAN").mkdir()
    (tree / "DEBIAN/control").write_text(
        f"Package: {package}\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: test\n"
    )
    cache = tmp_path / "cache"
    (cache / "debs").mkdir(parents=True)
    deb = cache / "debs" / f"{package}_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(tree), str(deb)], check=True, capture_output=True)
    return cache, parallel_corpus.Source("test-game", (package,), (parallel_corpus.CATALOGUE,), "catalogue", "CC0", "test")


@needs_dpkg_deb
def test_a_source_reads_only_its_files_from_a_deb_in_the_cache(tmp_path):
    package = "keras-lstm-test-catalogue"
    cache, source = build_deb(tmp_path, package, {"Run away!": "Lauf weg!"})
    assert parallel_corpus.raw_pairs(source, cache) == [("Lauf weg!", "Run away!")]
    unpacked = [p.relative_to(cache / "files" / package) for p in (cache / "files" / package).rglob("*.mo")]
    assert [str(p) for p in unpacked] == ["usr/share/locale/de/LC_MESSAGES/game.mo"]


@needs_dpkg_deb
def test_corpus_command_prints_each_source_and_writes_its_splits(tmp_path, monkeypatch, capsys):
    messages = {f"The {k}th tower has fallen.": f"Der {k}. Turm ist gefallen." for k in range(300)}
    cache, source = build_deb(tmp_path, "keras-lstm-test-towers", messages)
    monkeypatch.setitem(parallel_corpus.SOURCES, source.name, source)
    monkeypatch.setattr(parallel_corpus, "dictionary_held_out", lambda: {"der 7. turm ist gefallen."})
    folder = tmp_path / "out"
    argv = ["zoo", "corpus", "--sources", "test-game", "--cache", str(cache), "--write", str(folder)]
    assert cli_main(argv) == 0
    table = capsys.readouterr().out.strip().splitlines()
    assert table[-1] == "| test-game | test | CC0 | keras-lstm-test-towers | 299 | 299 | 99 | 100 | 100 |"
    written = {part: (folder / f"test-game.{part}.tsv").read_text(encoding="utf-8").splitlines() for part in ("train", "dev", "test")}
    assert [len(lines) for lines in written.values()] == [99, 100, 100]
    rows = [tuple(line.split("\t")) for lines in written.values() for line in lines]
    assert sorted(rows) == sorted((de, en) for en, de in messages.items() if de != "Der 7. Turm ist gefallen.")


def test_a_package_that_cannot_be_fetched_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="keras-lstm-no-such-package.*apt-get download"):
        parallel_corpus.package_files("keras-lstm-no-such-package", ("*",), tmp_path)


def test_every_source_names_its_packages_licence_and_alignment():
    for name, source in parallel_corpus.SOURCES.items():
        assert source.name == name and source.packages and source.files and source.licence
        assert source.align in ("catalogue", "paragraph_ids", "blocks")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("apt-get") is None, reason="apt-get is not installed (not a Debian system)")
def test_every_source_gives_pairs_from_the_real_packages():
    """Fetches the packages (about 300 MB of .deb files, once, into the cache)."""
    parts = parallel_corpus.corpus()
    least = {"libreoffice-help": 25_000, "wesnoth-campaigns": 8_000, "wesnoth-interface": 3_000, "freeciv": 4_000,
             "debian-reference": 4_000, "gnome-user-docs": 2_000, "debian-faq": 500}
    held_out = {text.lower() for _, dev, test in parts.values() for pair in dev + test for text in pair}
    held_out |= {text.lower() for text in parallel_corpus.dictionary_held_out()}
    for name, (train, dev, test) in parts.items():
        assert len(train) + len(dev) + len(test) >= least[name], name
        assert 0 < len(dev) <= parallel_corpus.HELD_OUT_MOST and 0 < len(test) <= parallel_corpus.HELD_OUT_MOST, name
        assert not any(de.lower() in held_out or en.lower() in held_out for de, en in train), name
        assert all(parallel_corpus.usable(de, en) for de, en in train + dev + test), name
