"""Prompt-reply pairs for the chat model, from two pip packages.

- `chatterbot-corpus` (BSD-3-Clause): short English conversations by topic;
  each utterance and the one after it make a pair (about 1,250 unique).
- `python-aiml` (BSD-2-Clause code; its ALICE bot data, by Richard Wallace
  and the A.L.I.C.E. AI Foundation, is GPL): AIML categories, a pattern and
  the bot's template. Patterns with wildcards, categories that depend on the
  previous reply (<that>) and templates that redirect (<srai>), read or set
  variables, or choose at random are dropped: what is left is a fixed
  question and its fixed answer (about 55,000). The adult-content file
  (sex.aiml) is left out.
"""

import re
import xml.etree.ElementTree as ElementTree
from importlib import resources
from pathlib import Path

# Template tags that only format text; any other tag makes the reply depend on state.
FORMATTING = {"template", "br", "em", "b", "i", "p", "a", "ul", "li", "img"}
LEFT_OUT = {"sex.aiml"}


def _package_folder(package, *parts):
    try:
        root = resources.files(package)
    except ModuleNotFoundError as error:
        raise FileNotFoundError(
            f"the {package!r} package is not installed (pip install -e '.[zoo]' installs it)"
        ) from error
    return Path(str(root.joinpath(*parts)))


def chatterbot_pairs():
    """(prompt, reply) pairs from chatterbot-corpus's English conversations, each once, in file order."""
    import yaml

    pairs, seen = [], set()
    for path in sorted(_package_folder("chatterbot_corpus", "data", "english").glob("*.yml")):
        with open(path, encoding="utf-8") as stream:
            corpus = yaml.safe_load(stream)
        for conversation in corpus.get("conversations", []):
            texts = [clean(str(text)) for text in conversation]
            for prompt, reply in zip(texts, texts[1:]):
                if prompt and reply and (prompt, reply) not in seen:
                    seen.add((prompt, reply))
                    pairs.append((prompt, reply))
    return pairs


def aiml_pairs():
    """(prompt, reply) pairs from the ALICE AIML set: fixed patterns with fixed templates."""
    pairs, seen = [], set()
    for path in sorted(_package_folder("aiml", "botdata", "alice").glob("*.aiml")):
        if path.name in LEFT_OUT:
            continue
        try:
            root = ElementTree.fromstring(path.read_text(encoding="utf-8", errors="replace"))
        except ElementTree.ParseError:
            continue  # one file of the set is not well-formed XML
        for category in root.iter("category"):
            pattern, template = category.find("pattern"), category.find("template")
            if pattern is None or template is None or category.find("that") is not None:
                continue
            prompt = " ".join("".join(pattern.itertext()).split())
            if list(pattern) or re.search(r"[*_]", prompt):
                continue
            if {element.tag for element in template.iter()} - FORMATTING:
                continue
            prompt, reply = clean(prompt.capitalize()), clean("".join(template.itertext()))
            if "<" in reply or ">" in reply:  # replies that quote AIML markup (about AIML itself)
                continue
            if prompt and reply and (prompt, reply) not in seen:
                seen.add((prompt, reply))
                pairs.append((prompt, reply))
    return pairs


def clean(text):
    return " ".join(text.split())
