"""bAbI's own files (Weston et al. 2015): read them, find them, and write stories in their format.

The dataset is one file per task and split, named like
`qa1_single-supporting-fact_train.txt` and `qa1_single-supporting-fact_test.txt`,
in folders `en/` (1,000 questions per task) and `en-10k/` (10,000). Each line is

    N text

where N counts the story's lines from 1 and starts again at 1 for a new story. A
question line is

    N question?<TAB>answer<TAB>supporting line numbers, separated by spaces

and asks about the story's sentences before it; a story can hold several questions,
and question lines are not story sentences. Task 8's answers name several objects
joined by commas ("milk,football").
"""

from pathlib import Path

from keras_lstm.zoo.babi_tasks import Question


def read_questions(path):
    """Every question in the bAbI file at `path`, as `babi_tasks.Question`s in file order
    (question lines left out of the stories, the supporting facts as the file names
    them), or a
    ValueError naming the file and line of the first line not in bAbI's format."""
    path = Path(path)
    questions = []
    story, line_of = [], {}  # line_of: a story sentence's number in the file -> its index in `story`
    previous = 0
    for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = (path, line_number, line)
        number, _, text = line.strip().partition(" ")
        if not number.isdigit() or not text.strip():
            raise _malformed(*where, "expected 'N text', N the line's number in its story")
        number = int(number)
        if number == 1:
            story, line_of = [], {}
        elif number != previous + 1:
            expected = "1 (a file's first line)" if previous == 0 else f"{previous + 1} (the story's next line) or 1 (a new story)"
            raise _malformed(*where, f"numbered {number}; expected {expected}")
        previous = number
        fields = text.split("\t")
        if len(fields) == 1 and not text.strip().endswith("?"):
            line_of[number] = len(story)
            story.append(text.strip())
            continue
        if len(fields) not in (2, 3) or not fields[0].strip().endswith("?") or not fields[1].strip():
            raise _malformed(*where, "expected a sentence, or 'question?<TAB>answer<TAB>supporting line numbers'")
        supporting = fields[2].split() if len(fields) == 3 else []
        if not all(n.isdigit() and int(n) in line_of for n in supporting):
            raise _malformed(*where, f"supporting facts {supporting} are not all story sentences before the question")
        questions.append(Question(list(story), fields[0].strip(), fields[1].strip(), [line_of[int(n)] for n in supporting]))
    return questions


def read(path):
    """The (story sentences, question, answer) triples of the bAbI file at `path`, in
    file order: the shape of `babi_tasks.examples`. `read_questions` keeps the
    supporting facts too."""
    return [question[:3] for question in read_questions(path)]


def _malformed(path, line_number, line, why):
    return ValueError(f"{path}, line {line_number}: {why}: {line!r}")


def find(folder, task):
    """(train path, test path) of bAbI task `task` in `folder` (`en/`, `en-10k/`), or a
    FileNotFoundError saying what was looked for and what the folder holds."""
    folder = Path(folder)
    paths = []
    for split in ("train", "test"):
        # en/ and en-10k/ name the task (qa1_single-supporting-fact_train.txt); en-valid/ does not (qa1_train.txt).
        pattern = f"qa{task}_*_{split}.txt"
        found = sorted(folder.glob(pattern)) + [p for p in [folder / f"qa{task}_{split}.txt"] if p.is_file()]
        if len(found) != 1:
            held = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else None
            what = "no such folder" if held is None else f"it holds {held[:30]}{' ...' if len(held) > 30 else ''}"
            problem = "no file" if not found else f"{len(found)} files ({[p.name for p in found]})"
            raise FileNotFoundError(f"bAbI task {task}'s {split} file: {problem} named {pattern!r} in {folder}; {what}")
        paths.append(found[0])
    return tuple(paths)


def write(path, examples):
    """Writes `examples` to `path` in bAbI's format, one story per example.

    An example is (story sentences, question, answer), as `babi_tasks.examples` gives,
    or a `babi_tasks.Question` (with `supporting` as indices into its story), as
    `babi_tasks.questions` gives. For triples the supporting-fact field is left empty
    (the line ends in a tab); `read` gives the triples back.
    """
    lines = []
    for k, (story, question, answer, *rest) in enumerate(examples):
        supporting = rest[0] if rest else []
        for text in [*story, question, answer]:
            if not isinstance(text, str) or not text.strip() or any(c in text for c in "\t\n\r"):
                raise ValueError(f"examples[{k}] holds {text!r}; expected non-empty text on one line without tabs")
        if not question.strip().endswith("?"):
            raise ValueError(f"examples[{k}]'s question {question!r} does not end in '?', which marks a question line")
        if any(sentence.strip().endswith("?") for sentence in story):
            raise ValueError(f"examples[{k}]'s story has a sentence ending in '?', which bAbI reads as a question")
        lines += [f"{n} {sentence}" for n, sentence in enumerate(story, start=1)]
        lines.append(f"{len(story) + 1} {question}\t{answer}\t{' '.join(str(i + 1) for i in supporting)}")
    Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
