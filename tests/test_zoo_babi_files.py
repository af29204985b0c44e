"""bAbI's file format: read (stories with several questions), find, and write generated stories."""

import re

import pytest

from keras_lstm.zoo import babi_files, babi_tasks

# Two stories as the real files write them (qa1's and qa8's lines): line numbers start
# again at 1 for a new story, question lines count but are not story sentences, and some
# questions end in a space before the tab.
REAL_STYLE = (
    "1 Mary moved to the bathroom.\n"
    "2 John went to the hallway.\n"
    "3 Where is Mary? \tbathroom\t1\n"
    "4 Daniel went back to the hallway.\n"
    "5 Sandra moved to the garden.\n"
    "6 Where is Daniel? \thallway\t4\n"
    "1 Sandra travelled to the office.\n"
    "2 Sandra picked up the football there.\n"
    "3 Where is the football?\toffice\t2 1\n"
    "4 Sandra got the milk there.\n"
    "5 What is Sandra carrying?\tfootball,milk\t2 4\n"
)
FIRST = ["Mary moved to the bathroom.", "John went to the hallway."]
SECOND = ["Sandra travelled to the office.", "Sandra picked up the football there."]


@pytest.fixture
def real_style_file(tmp_path):
    path = tmp_path / "qa1_single-supporting-fact_train.txt"
    path.write_text(REAL_STYLE, encoding="utf-8")
    return path


def test_each_question_is_asked_about_its_story_so_far(real_style_file):
    assert babi_files.read(real_style_file) == [
        (FIRST, "Where is Mary?", "bathroom"),
        (FIRST + ["Daniel went back to the hallway.", "Sandra moved to the garden."], "Where is Daniel?", "hallway"),
        (SECOND, "Where is the football?", "office"),
        (SECOND + ["Sandra got the milk there."], "What is Sandra carrying?", "football,milk"),
    ]


def test_supporting_facts_point_into_the_story_without_its_question_lines(real_style_file):
    # Line 4 of the first story is its third sentence (line 3 is a question): index 2.
    # "2 1" keeps the file's order; "2 4" is the second story's sentences 1 and 2 (0-based).
    assert [q.supporting for q in babi_files.read_questions(real_style_file)] == [[0], [2], [1, 0], [1, 2]]


@pytest.mark.parametrize(
    "text, line, why",
    [
        ("1 Mary moved to the bathroom.\n3 John went to the hallway.\n", 2, "numbered 3; expected 2"),
        ("2 Mary moved to the bathroom.\n", 1, r"numbered 2; expected 1 \(a file's first line\)"),
        ("1 Mary moved to the bathroom.\nMary moved to the garden.\n", 2, "expected 'N text'"),
        ("1 Mary moved to the bathroom.\n2 Where is Mary?\n", 2, "expected a sentence, or 'question"),
        ("1 Mary moved to the bathroom.\n2 Where is Mary?\t\t1\n", 2, "expected a sentence, or 'question"),
        ("1 Mary moved to the bathroom.\n2 Mary went home\tbathroom\t1\n", 2, "expected a sentence, or 'question"),
        # A supporting fact must be a sentence before the question: not the question itself, not a later line.
        ("1 Mary moved to the bathroom.\n2 Where is Mary?\tbathroom\t2\n", 2, "supporting facts"),
        ("1 Mary moved to the bathroom.\n2 Where is Mary?\tbathroom\tone\n", 2, "supporting facts"),
    ],
)
def test_a_malformed_line_is_named_by_file_and_number(tmp_path, text, line, why):
    path = tmp_path / "qa1_broken_test.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=rf"{re.escape(str(path))}, line {line}: {why}"):
        babi_files.read(path)


@pytest.mark.parametrize("task", sorted(babi_tasks.TASKS))
def test_generated_stories_written_read_back_the_same(tmp_path, task):
    examples = babi_tasks.examples(task, 40, seed=1)
    path = tmp_path / f"qa{task}_generated_train.txt"
    babi_files.write(path, examples)
    assert babi_files.read(path) == examples
    # Triples name no supporting facts: the field is left empty.
    assert all(q.supporting == [] for q in babi_files.read_questions(path))
    # The generator's questions keep theirs.
    questions = babi_tasks.questions(task, 40, seed=1)
    babi_files.write(path, questions)
    assert babi_files.read_questions(path) == questions


def test_the_written_text_is_numbered_per_story(tmp_path):
    path = tmp_path / "out.txt"
    babi_files.write(path, [(FIRST, "Where is Mary?", "bathroom"), (["Mary got the milk."], "What is Mary carrying?", "milk")])
    assert path.read_text(encoding="utf-8") == (
        "1 Mary moved to the bathroom.\n2 John went to the hallway.\n3 Where is Mary?\tbathroom\t\n"
        "1 Mary got the milk.\n2 What is Mary carrying?\tmilk\t\n"
    )


def test_questions_with_supporting_facts_write_and_read_back_the_same(real_style_file, tmp_path):
    # One story per question when written: the numbers change, the questions do not.
    questions = babi_files.read_questions(real_style_file)
    path = tmp_path / "rewritten.txt"
    babi_files.write(path, questions)
    assert babi_files.read_questions(path) == questions


@pytest.mark.parametrize(
    "example, why",
    [
        ((["Mary moved\tto the bathroom."], "Where is Mary?", "bathroom"), "without tabs"),
        ((["Mary moved to the bathroom."], "Where is Mary", "bathroom"), r"does not end in '\?'"),
        ((["Where is Mary?"], "Where is Mary?", "bathroom"), "reads as a question"),
        ((["Mary moved to the bathroom."], "Where is Mary?", ""), "expected non-empty text"),
    ],
)
def test_write_refuses_what_bAbIs_format_cannot_hold(tmp_path, example, why):
    with pytest.raises(ValueError, match=rf"examples\[0\].*{why}"):
        babi_files.write(tmp_path / "out.txt", [example])


def make_files(folder, names):
    folder.mkdir()
    for name in names:
        (folder / name).write_text("1 Mary moved to the bathroom.\n2 Where is Mary?\tbathroom\t1\n", encoding="utf-8")


def test_find_locates_a_tasks_train_and_test_files(tmp_path):
    en = tmp_path / "en"
    # qa1_ must not match qa10_ or qa11_.
    make_files(en, [f"qa{t}_{name}_{split}.txt" for t, name in [(1, "single-supporting-fact"), (10, "indefinite-knowledge"),
                                                                 (11, "basic-coreference")] for split in ("train", "test")])
    assert babi_files.find(en, 1) == (en / "qa1_single-supporting-fact_train.txt", en / "qa1_single-supporting-fact_test.txt")
    assert babi_files.find(en, 11) == (en / "qa11_basic-coreference_train.txt", en / "qa11_basic-coreference_test.txt")
    # en-valid/ names files without the task's name.
    valid = tmp_path / "en-valid"
    make_files(valid, ["qa1_train.txt", "qa1_valid.txt", "qa1_test.txt"])
    assert babi_files.find(valid, 1) == (valid / "qa1_train.txt", valid / "qa1_test.txt")


def test_find_says_what_it_looked_for_and_what_is_there(tmp_path):
    en = tmp_path / "en"
    make_files(en, ["qa1_single-supporting-fact_train.txt", "qa1_single-supporting-fact_test.txt", "qa2_two-supporting-facts_train.txt"])
    with pytest.raises(FileNotFoundError, match=r"task 4's train file: no file named 'qa4_\*_train.txt' in .*en; it holds \['qa1_single"):
        babi_files.find(en, 4)
    # The train file is there, the test file is not.
    with pytest.raises(FileNotFoundError, match=r"task 2's test file: no file named 'qa2_\*_test.txt'"):
        babi_files.find(en, 2)
    with pytest.raises(FileNotFoundError, match="no such folder"):
        babi_files.find(tmp_path / "en-10k", 1)
