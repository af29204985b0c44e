"""German-English parallel text from Debian packages that ship translations.

Translated help pages, game dialogue and message catalogues pair an English
text with its German translation, aligned by how the package is built:

- message catalogues (`.mo`): each English `msgid` with its German `msgstr`;
- LibreOffice's help: each paragraph carries the same `id="par_id..."` in the
  German and the English page;
- DocBook and Mallard pages (Debian Reference, GNOME's help): the German page is
  the English one with its text translated, so their text blocks pair in order
  (a page whose block counts differ is left out rather than guessed at).

`SOURCES` names each source's packages, licence and domain. `pairs(name)` gives a
source's cleaned, deduplicated pairs and `splits(name)` its (train, dev, test)
with a fixed seed. The packages' files are read where they are installed, or
from `.deb` files that `apt-get download` fetches into a cache folder
(`KERAS_LSTM_DEBIAN_CACHE`, default `~/.cache/keras-lstm/debian`) and that are
unpacked there, only the files a source reads. Nothing extracted is committed.
"""

import dataclasses
import fnmatch
import gettext
import html
import html.parser
import json
import os
import re
import subprocess
import tarfile
import unicodedata
from pathlib import Path

from keras_lstm.zoo import german_english

WESNOTH_CAMPAIGNS = ("did", "dm", "dw", "ei", "httt", "l", "low", "nr", "sof", "sota", "sotbe", "thot", "trow", "tsg", "utbs")
CATALOGUE = "*/locale/de/LC_MESSAGES/*.mo"


@dataclasses.dataclass(frozen=True)
class Source:
    """One source of pairs: the packages whose files hold it, the files it reads (shell
    patterns on the paths inside the packages), how they align, and its licence."""

    name: str
    packages: tuple
    files: tuple
    align: str  # "catalogue", "paragraph_ids" or "blocks"
    licence: str
    domain: str


SOURCES = {
    source.name: source
    for source in (
        Source(
            "libreoffice-help", ("libreoffice-help-de", "libreoffice-help-en-us"),
            ("*/libreoffice/help/de/text/*.html", "*/libreoffice/help/en-US/text/*.html"),
            "paragraph_ids", "MPL-2.0", "software help",
        ),
        Source(
            "wesnoth-campaigns", tuple(f"wesnoth-1.16-{c}" for c in WESNOTH_CAMPAIGNS), (CATALOGUE,),
            "catalogue", "GPL-2+", "fantasy story dialogue",
        ),
        Source("wesnoth-interface", ("wesnoth-1.16-data",), (CATALOGUE,), "catalogue", "GPL-2+", "game interface and help"),
        Source(
            "freeciv", ("freeciv-data",), ("*/locale/de/LC_MESSAGES/freeciv-core.mo", "*/locale/de/LC_MESSAGES/freeciv-nations.mo"),
            "catalogue", "GPL-2+", "game interface and help",
        ),
        Source(
            "debian-reference", ("debian-reference-de", "debian-reference-en"), ("*/debian-reference/*.de.html", "*/debian-reference/*.en.html"),
            "blocks", "GPL-2+", "system administration",
        ),
        Source("gnome-user-docs", ("gnome-user-docs",), ("*/help/C/*.page", "*/help/de/*.page"), "blocks", "CC-BY-SA-3.0", "desktop help"),
        Source(
            "debian-faq", ("debian-faq-de", "debian-faq"), ("*/FAQ/de/*.de.html", "*/FAQ/*.en.html"), "blocks",
            "SPI's permission notice (copies and translations allowed)", "system administration",
        ),
    )
}

# How many of a source's pairs go to its test and its dev split: a twentieth
# each, at least 100 and at most 1,000 (a source of 3,000 pairs keeps 2,700).
HELD_OUT_FRACTION, HELD_OUT_LEAST, HELD_OUT_MOST, SPLIT_SEED = 20, 100, 1000, 0
LONGEST_WORDS = 80


def cache_folder():
    return Path(os.environ.get("KERAS_LSTM_DEBIAN_CACHE", Path.home() / ".cache" / "keras-lstm" / "debian"))


# --- the packages' files ---------------------------------------------------


def installed(package):
    try:
        result = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
    except FileNotFoundError:  # not a Debian system
        return False
    return result.returncode == 0 and result.stdout.strip().endswith("install ok installed")


def package_files(package, patterns, cache=None):
    """The files of `package` whose paths match any of `patterns`: where it is installed,
    its own files (`dpkg -L`); otherwise those unpacked from its `.deb` in the cache,
    fetched with `apt-get download` the first time. A package apt cannot fetch is a
    FileNotFoundError that says so."""
    if installed(package):
        listed = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True, check=True).stdout.splitlines()
        return sorted(Path(p) for p in listed if any(fnmatch.fnmatch(p, pattern) for pattern in patterns) and Path(p).is_file())
    cache = Path(cache or cache_folder())
    folder = cache / "files" / package
    marker = folder / ".unpacked"
    if not marker.is_file() or json.loads(marker.read_text()) != list(patterns):
        unpack(deb_file(package, cache), folder, patterns)
        marker.write_text(json.dumps(list(patterns)))
    return sorted(p for p in folder.rglob("*") if p.is_file() and p != marker)


def deb_file(package, cache):
    """The package's `.deb` in `cache/debs`, fetched with `apt-get download` if missing."""
    debs = Path(cache) / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        try:
            result = subprocess.run(["apt-get", "download", package], cwd=debs, capture_output=True, text=True)
            said = (result.stderr or result.stdout).strip()[-300:]
        except FileNotFoundError:
            said = "apt-get is not installed"
        found = sorted(debs.glob(f"{package}_*.deb"))
        if not found:
            raise FileNotFoundError(
                f"Debian package {package} is neither installed nor in {debs}, and `apt-get download {package}` "
                f"failed: {said}"
            )
    return found[-1]


def unpack(deb, folder, patterns):
    """Unpack the members of `deb` whose paths match `patterns` into `folder` (paths kept,
    only regular files)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stream = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    with tarfile.open(fileobj=stream.stdout, mode="r|") as archive:
        for member in archive:
            name = member.name.removeprefix("./").lstrip("/")
            if ".." in Path(name).parts:
                continue
            if member.isfile() and any(fnmatch.fnmatch("/" + name, pattern) for pattern in patterns):
                target = folder / name
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.extractfile(member) as data, open(target, "wb") as out:
                    out.write(data.read())
    if stream.wait() != 0:
        raise OSError(f"dpkg-deb could not read {deb}")


def source_files(source, cache=None):
    return [f for package in source.packages for f in package_files(package, source.files, cache)]


# --- alignment -------------------------------------------------------------


# Contexts written into the English message itself: Wesnoth's "female^Dune Falconer",
# Freeciv's "?unitflag:FerryBoat".
MESSAGE_CONTEXT = re.compile(r"^(\w+\^|\?[\w ]+:)")


def catalogue_pairs(paths):
    """(German, English) of every translated message of the `.mo` catalogues: contexts
    dropped, plural forms and the header left out."""
    for path in paths:
        with open(path, "rb") as stream:
            # The standard library's reader of the format; it keeps every message in `_catalog`.
            catalogue = gettext.GNUTranslations(stream)._catalog
        for english, german in catalogue.items():
            if isinstance(english, str) and english and german:
                yield german, MESSAGE_CONTEXT.sub("", english.split("\x04")[-1])


class _TextByElement(html.parser.HTMLParser):
    """Text of HTML/XML elements: each block element's own text (that of block
    elements inside it goes to them), and each element with an `id` matching
    `ids` (all text inside it). Text inside `SKIPPED` elements, and in those of a
    `SKIPPED_CLASSES` class, is left out."""

    BLOCKS = {"p", "title", "h1", "h2", "h3", "h4", "h5", "h6", "li", "td", "th", "dt", "dd", "caption", "subtitle"}
    SKIPPED = {"info", "pre", "screen", "script", "style"}
    # LibreOffice's help writes macOS's key names ("Befehl") beside the others' ("Strg"),
    # the Mac's in a hidden span of class MAC.
    SKIPPED_CLASSES = {"MAC"}
    VOID = {"br", "img", "hr", "meta", "link", "input", "col", "area", "base", "wbr", "source"}

    def __init__(self, ids=None):
        super().__init__(convert_charrefs=True)
        self.ids, self.stack, self.blocks, self.by_id = ids, [], [], {}

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        attrs = dict(attrs)
        identifier = attrs.get("id") if self.ids and self.ids.match(attrs.get("id") or "") else None
        skipped = tag in self.SKIPPED or bool(self.SKIPPED_CLASSES & set((attrs.get("class") or "").split()))
        entry = {"tag": tag, "text": [], "id": identifier, "skipped": skipped}
        if tag in self.BLOCKS:
            self.blocks.append(entry["text"])
        self.stack.append(entry)

    def handle_startendtag(self, tag, attrs):
        pass

    def handle_endtag(self, tag):
        # Close up to the matching element (HTML leaves some tags unclosed).
        for depth in range(len(self.stack) - 1, -1, -1):
            if self.stack[depth]["tag"] == tag:
                for entry in self.stack[depth:]:
                    if entry["id"]:
                        self.by_id.setdefault(entry["id"], "".join(entry["text"]))
                del self.stack[depth:]
                return

    def handle_data(self, data):
        if any(entry["skipped"] for entry in self.stack):
            return
        block = next((e for e in reversed(self.stack) if e["tag"] in self.BLOCKS), None)
        if block is not None:
            block["text"].append(data)
        for entry in self.stack:
            if entry["id"] and entry is not block:
                entry["text"].append(data)


PARAGRAPH_ID = re.compile(r"(par|hd)_id\d")


def _parse(path, ids=None):
    parser = _TextByElement(ids)
    parser.feed(Path(path).read_text(encoding="utf-8", errors="replace"))
    parser.close()
    return parser


def paragraph_id_pairs(german_page, english_page):
    """(German, English) of the paragraphs that carry the same `par_id`/`hd_id` in both pages."""
    german, english = _parse(german_page, PARAGRAPH_ID).by_id, _parse(english_page, PARAGRAPH_ID).by_id
    return [(text, english[identifier]) for identifier, text in german.items() if identifier in english]


def block_pairs(german_page, english_page):
    """(German, English) of the pages' text blocks in order, none if their counts differ."""
    german, english = _parse(german_page).blocks, _parse(english_page).blocks
    if len(german) != len(english):
        return []
    return [("".join(de), "".join(en)) for de, en in zip(german, english)]


LANGUAGE_FOLDERS = {"de": "de", "C": "en", "en-US": "en", "en": "en"}
LANGUAGE_INFIX = re.compile(r"\.(de|en)\.")


def _language_and_key(path):
    """("de" or "en", the page's name without its language): `help/de/x/y.page` and
    `help/C/x/y.page` are ("de", "x/y.page") and ("en", "x/y.page"); `ch02.de.html`
    is ("de", "ch02.html"), `FAQ/de/a.de.html` ("de", "a.html")."""
    parts = Path(path).parts
    language, key = None, parts[-1]
    for k in range(len(parts) - 2, -1, -1):
        if parts[k] in LANGUAGE_FOLDERS:
            language, key = LANGUAGE_FOLDERS[parts[k]], "/".join(parts[k + 1:])
            break
    infix = LANGUAGE_INFIX.search(parts[-1])
    if language is None and infix is None:
        raise ValueError(f"{path}: its language is in neither a folder (de, C, en-US) nor its name (.de., .en.)")
    return language or infix.group(1), LANGUAGE_INFIX.sub(".", key)


def page_pairs(paths):
    """[(German page, English page)] of `paths` with the same name."""
    pages = {"de": {}, "en": {}}
    for path in paths:
        language, key = _language_and_key(path)
        pages[language][key] = path
    return [(german, pages["en"][key]) for key, german in sorted(pages["de"].items()) if key in pages["en"]]


def raw_pairs(source, cache=None):
    """(German, English) as the source aligns them, before cleaning."""
    source = SOURCES[source] if isinstance(source, str) else source
    files = source_files(source, cache)
    if source.align == "catalogue":
        return list(catalogue_pairs(files))
    align = paragraph_id_pairs if source.align == "paragraph_ids" else block_pairs
    return [pair for german, english in page_pairs(files) for pair in align(german, english)]


# --- cleaning --------------------------------------------------------------

LINE_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
MARKUP = re.compile(r"<[^>]*>")
# printf, Python, brace, shell and Wesnoth ($name, $name|) placeholders: a pair with a
# hole in it teaches the hole, so it is left out rather than mended.
PLACEHOLDER = re.compile(r"%(\(\w+\))?[-+ #0-9.]*[a-zA-Z%]|%\d|\{[^}]*\}|\$\w|\\[nt]|(?<!\w)[_&](?=\w)")
LETTER = re.compile(r"[^\W\d_]")


def clean(text):
    """One line of plain text: markup removed, entities decoded, quotes and spaces
    normalised (as the dictionary's sentences are)."""
    text = html.unescape(MARKUP.sub("", LINE_BREAK.sub(" ", text)))
    text = unicodedata.normalize("NFC", text).replace("\u00ad", "")
    return german_english.normalize(" ".join(text.split()))


def usable(german, english):
    """Whether a cleaned pair is worth training on: both sides have words, no
    placeholders, the German is not the English untranslated, neither side is longer
    than `LONGEST_WORDS`, and their lengths are within a factor of three."""
    if not LETTER.search(german) or not LETTER.search(english) or german == english:
        return False
    if PLACEHOLDER.search(german) or PLACEHOLDER.search(english):
        return False
    if max(len(german.split()), len(english.split())) > LONGEST_WORDS:
        return False
    return 1 / 3 <= len(german) / len(english) <= 3


def is_sentence_like(pair):
    """An English side of four or more words ending like a sentence (. ? ! or a quote)."""
    english = pair[1]
    return len(english.split()) >= 4 and english[-1:] in '.?!"\''


def clean_pairs(raw, excluded=()):
    """The usable pairs of `raw`, cleaned, each once, in order; a pair whose German or
    English is in `excluded` (say, the dictionary's dev and test sentences) left out."""
    excluded = {text.lower() for text in excluded}
    seen, pairs = set(), []
    for german, english in raw:
        german, english = clean(german), clean(english)
        if (german, english) in seen or not usable(german, english):
            continue
        if german.lower() in excluded or english.lower() in excluded:
            continue
        seen.add((german, english))
        pairs.append((german, english))
    return pairs


def dictionary_held_out():
    """Every German and English sentence of the dictionary's dev and test splits."""
    _, dev, test = german_english.split(german_english.sentence_pairs())
    return {text for pair in dev + test for text in pair}


def pairs(source, cache=None, excluded=None):
    """A source's cleaned pairs (German, English), each once; none shares a sentence
    with the dictionary's dev and test splits (unless `excluded` says otherwise)."""
    excluded = dictionary_held_out() if excluded is None else excluded
    return clean_pairs(raw_pairs(source, cache), excluded)


def held_out_size(count):
    return min(HELD_OUT_MOST, max(HELD_OUT_LEAST, count // HELD_OUT_FRACTION))


def split(source_pairs, seed=SPLIT_SEED):
    """(train, dev, test) of one source's pairs, fixed by the seed; pairs that share a
    German or an English text stay in one split."""
    from keras_lstm.zoo.training import grouped_split

    size = held_out_size(len(source_pairs))
    return grouped_split(source_pairs, lambda pair: [("de", pair[0]), ("en", pair[1])], size, size, seed)


def splits(source, cache=None):
    """(train, dev, test) of a source's cleaned pairs."""
    return split(pairs(source, cache))


def corpus(names=None, cache=None):
    """{source: (train, dev, test)} for the named sources (all by default). No training pair
    shares a German or English text with any source's dev or test pairs, nor with the
    dictionary's, so a model trained on all of them is tested on none of its training text."""
    excluded = dictionary_held_out()
    parts = {name: split(pairs(name, cache, excluded)) for name in names or SOURCES}
    held_out = {text.lower() for _, dev, test in parts.values() for pair in dev + test for text in pair}
    return {
        name: ([p for p in train if p[0].lower() not in held_out and p[1].lower() not in held_out], dev, test)
        for name, (train, dev, test) in parts.items()
    }


# --- what a user sees: `keras-lstm zoo corpus` -----------------------------


def summary(names=None, cache=None, folder=None):
    """A Markdown table of each source (all by default) in `corpus`: its domain, licence,
    packages, how many pairs it gives (sentence-like ones among them) and its splits' sizes.
    With `folder`, also writes each split as `SOURCE.{train,dev,test}.tsv` (German, tab, English)."""
    lines = [
        "| source | domain | licence | packages | pairs | sentence-like | train | dev | test |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, parts in corpus(names, cache).items():
        source = SOURCES[name]
        if folder is not None:
            Path(folder).mkdir(parents=True, exist_ok=True)
            for part, rows in zip(("train", "dev", "test"), parts):
                with open(Path(folder) / f"{name}.{part}.tsv", "w", encoding="utf-8") as out:
                    out.writelines(f"{de}\t{en}\n" for de, en in rows)
        packages = source.packages[0] + (f" (+{len(source.packages) - 1})" if len(source.packages) > 1 else "")
        every = [pair for part in parts for pair in part]
        lines.append(
            f"| {name} | {source.domain} | {source.licence} | {packages} | {len(every):,} | "
            f"{sum(map(is_sentence_like, every)):,} | " + " | ".join(f"{len(part):,}" for part in parts) + " |"
        )
    return "\n".join(lines)
