"""Stories with questions in the style of bAbI (Weston et al. 2015), generated here.

bAbI itself ships in no package, so this module simulates its little world:
four people move between six places and pick up, carry and drop three
objects; a story is what happened, one sentence a line, and a question asks
about it. Nine of bAbI's tasks:

1. single supporting fact: "Where is Mary?" (where she last went);
2. two supporting facts: "Where is the football?" (who has it, and where
   they are, or where it was dropped);
3. three supporting facts: "Where was the football before the kitchen?"
   (the place it was in before it was carried into the kitchen);
4. two-argument relations: "The office is north of the bedroom. The bedroom
   is north of the bathroom." then "What is north of the bedroom?" (office)
   or "What is the bedroom south of?" (office); as in bAbI, a story is two
   such sentences and the answer needs one of them, perhaps read backwards;
6. yes/no questions: "Is John in the garden?";
7. counting: "How many objects is Daniel carrying?" (none, one, two, three);
8. lists/sets: "What is Daniel carrying?", answered "nothing" or the objects
   joined by commas in OBJECTS' order ("football,milk"), whatever order they
   were picked up in, so that one set has one answer;
9. simple negation: stories of moves and of "Sandra is in the garden.",
   "Mary is no longer in the bedroom." and "Daniel is not in the kitchen.";
   "Is Mary in the bedroom?" is answered yes or no from the last sentence
   about Mary. After a negation only the negated place is asked about (the
   answer is no): where she went instead is unknown, which bAbI's task 10
   (indefinite knowledge) asks about and this generator does not;
11. basic coreference: "Daniel journeyed to the kitchen. Then he went to the
    office." then "Where is Daniel?"; he or she is the person of the sentence
    before (Mary and Sandra are she, John and Daniel he).

Each example is (story sentences, question, answer): one word, or task 8's
list. `questions` gives them with their supporting facts too, as bAbI's files
do: the sentences the answer rests on, in the order a reader would use them
(task 2: the sentence about the object, then where its carrier was). Tasks 7
and 8, whose answers rest on every take and drop of a person, name none. The vocabulary, the world's rules and the task definitions follow the
paper's; the story lengths and the exact sentence distributions are this generator's, so
accuracies compare with the paper's only loosely.
"""

import itertools
import re
from collections import namedtuple

import numpy as np

Question = namedtuple("Question", "story question answer supporting")
Question.__doc__ = """One question about a story, generated or read from a bAbI file.

`story`: the story's sentences before the question, in order; `question`, `answer`:
as written; `supporting`: indices into `story` of the sentences the answer rests
on, in the order they are used (empty where none are named). `question[:3]` is
the (story, question, answer) triple of `examples`."""

PEOPLE = ("Mary", "John", "Sandra", "Daniel")
PLACES = ("bathroom", "bedroom", "garden", "hallway", "kitchen", "office")
OBJECTS = ("football", "apple", "milk")
MOVES = ("moved to", "went to", "journeyed to", "travelled to", "went back to")
TAKES = ("picked up", "got", "grabbed", "took")
DROPS = ("dropped", "discarded", "put down", "left")
COUNTS = ("none", "one", "two", "three")
# Task 4's relations: one STEP apart on a map; read backwards, each is its OPPOSITE.
DIRECTIONS = ("north", "south", "east", "west")
OPPOSITE = {"north": "south", "south": "north", "east": "west", "west": "east"}
STEP = {"north": (0, 1), "south": (0, -1), "east": (1, 0), "west": (-1, 0)}
# Task 8's answers: every set of objects, written in OBJECTS' order.
CARRIED = ("nothing",) + tuple(
    ",".join(chosen) for size in range(1, len(OBJECTS) + 1) for chosen in itertools.combinations(OBJECTS, size)
)
# Task 9's statements about where someone is, or is not.
IS_IN = "is in"
NEGATIONS = ("is no longer in", "is not in")
# Task 11's pronoun sentences begin with one of bAbI's connectives.
PRONOUNS = {"Mary": "she", "John": "he", "Sandra": "she", "Daniel": "he"}
CONNECTIVES = ("Then", "After that", "Following that", "Afterwards")
TASKS = {
    1: "single supporting fact",
    2: "two supporting facts",
    3: "three supporting facts",
    4: "two-argument relations",
    6: "yes/no questions",
    7: "counting",
    8: "lists/sets",
    9: "simple negation",
    11: "basic coreference",
}
# Story length (sentences before the question), per task: (fewest, most). Task 4's
# stories are two sentences, as in bAbI.
STORY_LENGTHS = {1: (2, 10), 2: (4, 20), 3: (6, 30), 4: (2, 2), 6: (2, 10), 7: (3, 12), 8: (3, 12), 9: (2, 10), 11: (2, 10)}


class World:
    """Where everyone and everything is, every place each object has been, who
    is known not to be where (task 9), and how the places lie (task 4)."""

    def __init__(self, rng):
        self.rng = rng
        self.now = 0  # the index in the story of the sentence being written
        # Where each fact was said, for supporting facts (no random draws: the stories
        # are the same with or without them).
        self.told = {}  # person -> the last sentence about them
        self.placed_by = {}  # person -> their last move
        self.taken_at = {}  # object -> its carrier's take
        self.dropped = {}  # object -> (its drop, where its carrier was then) while it lies
        # Per object_history entry after the first: (the carrier's take, their move there, their move before).
        self.history_told = {obj: [] for obj in OBJECTS}
        self.related_at = []  # per relation, its sentence
        self.named_at = {}  # person -> their last sentence that names them (task 11: not he or she)
        self.person_place = {}
        self.holder = {}  # object -> person carrying it
        self.object_place = {}  # object -> place, once it has been anywhere
        self.object_history = {obj: [] for obj in OBJECTS}
        self.person_not_in = {}  # person -> place, when the last said of them is a negation
        self.last_person = None  # whom the last sentence was about (tasks 9 and 11)
        self.cell = {}  # place -> (x, y): a map where a place's neighbours are one step away
        self.relations = []  # (place, direction, place): the first is `direction` of the second

    def _moved(self, obj, place, person):
        self.object_place[obj] = place
        if not self.object_history[obj] or self.object_history[obj][-1] != place:
            self.object_history[obj].append(place)
            # (For the first place, where it was taken, no sentence moved it: None.)
            moved = self.now if len(self.object_history[obj]) > 1 else None
            self.history_told[obj].append((self.taken_at[obj], moved, self.placed_by[person]))

    def _about(self, person):
        self.last_person = person
        self.told[person] = self.now

    def move(self, person, pronoun=False):
        """"Mary went to the kitchen.", or with `pronoun` "Then she went to the kitchen."."""
        here = self.person_place.get(person)
        place = self.rng.choice([p for p in PLACES if p != here])
        self.person_place[person] = str(place)
        self.person_not_in.pop(person, None)
        self._about(person)
        if not pronoun:
            self.named_at[person] = self.now
        for obj, holder in self.holder.items():
            if holder == person:
                self._moved(obj, str(place), person)
        self.placed_by[person] = self.now
        if pronoun:
            return f"{self.rng.choice(CONNECTIVES)} {PRONOUNS[person]} {self.rng.choice(MOVES)} the {place}."
        return f"{person} {self.rng.choice(MOVES)} the {place}."

    def state_place(self, person):
        """"Sandra is in the garden.": where someone is, said rather than seen them go."""
        here = self.person_place.get(person)
        place = str(self.rng.choice([p for p in PLACES if p != here]))
        self.person_place[person] = place
        self.person_not_in.pop(person, None)
        self._about(person)
        return f"{person} {IS_IN} the {place}."

    def negate_place(self, person):
        """"Mary is no longer in the bedroom.": someone has left where they were (any
        place, if nothing has been said of them) for a place the story does not say."""
        place = self.person_place.pop(person, None) or str(self.rng.choice(PLACES))
        self.person_not_in[person] = place
        self._about(person)
        return f"{person} {self.rng.choice(NEGATIONS)} the {place}."

    def relate(self):
        """"The office is north of the bedroom.": a new place one step from one on the
        map (the first two both new), said either way round."""
        rng = self.rng
        if not self.cell:
            self.cell[str(rng.choice(PLACES))] = (0, 0)
        taken = set(self.cell.values())
        beside = [
            (place, direction) for place in self.cell for direction in DIRECTIONS
            if _step(self.cell[place], direction) not in taken
        ]
        anchor, direction = beside[int(rng.integers(len(beside)))]
        new = str(rng.choice([p for p in PLACES if p not in self.cell]))
        self.cell[new] = _step(self.cell[anchor], direction)
        self.relations.append((new, direction, anchor))
        self.related_at.append(self.now)
        if rng.random() < 0.5:
            return f"The {new} is {direction} of the {anchor}."
        return f"The {anchor} is {OPPOSITE[direction]} of the {new}."

    def take(self, person, obj):
        self.holder[obj] = person
        self.taken_at[obj] = self.now
        self.dropped.pop(obj, None)
        self._moved(obj, self.person_place[person], person)
        return f"{person} {self.rng.choice(TAKES)} the {obj} there." if self.rng.random() < 0.5 else f"{person} {self.rng.choice(TAKES)} the {obj}."

    def drop(self, obj):
        person = self.holder.pop(obj)
        self.dropped[obj] = (self.now, self.placed_by[person])
        return f"{person} {self.rng.choice(DROPS)} the {obj}."

    def carrying(self, person):
        return [obj for obj, holder in self.holder.items() if holder == person]

    def random_event(self, objects=True):
        """One sentence: someone moves, or (with `objects`) takes or drops something."""
        rng = self.rng
        placed = [p for p in PEOPLE if p in self.person_place]
        if objects and placed and rng.random() < 0.45:
            person = str(rng.choice(placed))
            # Something can be taken where it lies (or where nobody has seen it yet).
            here = [
                obj for obj in OBJECTS
                if obj not in self.holder and self.object_place.get(obj, self.person_place[person]) == self.person_place[person]
            ]
            held = list(self.holder)
            if held and (not here or rng.random() < 0.4):
                return self.drop(str(rng.choice(held)))
            if here:
                return self.take(person, str(rng.choice(here)))
        return self.move(str(rng.choice(PEOPLE)))


def _step(cell, direction):
    return (cell[0] + STEP[direction][0], cell[1] + STEP[direction][1])


def _event(task, world):
    """The next sentence of a story of `task`."""
    rng = world.rng
    if task == 4:
        return world.relate()
    if task == 9:
        person, kind = str(rng.choice(PEOPLE)), rng.random()
        if kind < 0.4:
            return world.move(person)
        return world.state_place(person) if kind < 0.6 else world.negate_place(person)
    if task == 11:
        # bAbI's pairs: someone named, then the same person as he or she.
        if world.last_person is not None and rng.random() < 0.5:
            return world.move(world.last_person, pronoun=True)
        return world.move(str(rng.choice(PEOPLE)))
    return world.random_event(objects=task in (2, 3, 7, 8))


def _question(task, world, rng):
    """(question, answer, supporting facts) about `world` for `task`, or None if the
    story cannot ask it yet."""
    placed = [p for p in PEOPLE if p in world.person_place]
    if task == 1:
        if not placed:
            return None
        person = str(rng.choice(placed))
        return f"Where is {person}?", world.person_place[person], [world.told[person]]
    if task == 2:
        # Only objects that have been carried: the answer needs who has (had) it and where they went.
        known = [obj for obj in OBJECTS if len(world.object_history[obj]) >= 1 and (obj in world.holder or len(world.object_history[obj]) >= 2)]
        if not known:
            return None
        obj = str(rng.choice(known))
        if obj in world.holder:
            supporting = [world.taken_at[obj], world.placed_by[world.holder[obj]]]
        else:
            supporting = list(world.dropped[obj])
        return f"Where is the {obj}?", world.object_place[obj], supporting
    if task == 3:
        travelled = [obj for obj in OBJECTS if len(world.object_history[obj]) >= 2]
        if not travelled:
            return None
        obj = str(rng.choice(travelled))
        history = world.object_history[obj]
        index = int(rng.integers(1, len(history)))
        # Who carried it there (their take), their move there, and their move before, to
        # where it was before.
        return f"Where was the {obj} before the {history[index]}?", history[index - 1], list(world.history_told[obj][index])
    if task == 6:
        if not placed:
            return None
        person = str(rng.choice(placed))
        place = world.person_place[person] if rng.random() < 0.5 else str(rng.choice([p for p in PLACES if p != world.person_place[person]]))
        return f"Is {person} in the {place}?", "yes" if world.person_place[person] == place else "no", [world.told[person]]
    if task == 7:
        if not placed:
            return None
        # Asking about carriers more often keeps "none" from being most answers.
        carriers = sorted(set(world.holder.values()))
        person = str(rng.choice(carriers if carriers and rng.random() < 0.6 else placed))
        return f"How many objects is {person} carrying?", COUNTS[len(world.carrying(person))], []
    if task == 4:
        asked = int(rng.integers(len(world.relations)))
        place, direction, other = world.relations[asked]
        # Four questions hold the one fact; the sentence wrote it in one of two ways.
        return *[
            (f"What is {direction} of the {other}?", place),
            (f"What is the {place} {direction} of?", other),
            (f"What is {OPPOSITE[direction]} of the {place}?", other),
            (f"What is the {other} {OPPOSITE[direction]} of?", place),
        ][int(rng.integers(4))], [world.related_at[asked]]
    if task == 8:
        if not placed:
            return None
        carriers = sorted(set(world.holder.values()))
        person = str(rng.choice(carriers if carriers and rng.random() < 0.7 else placed))
        return f"What is {person} carrying?", carried(world.carrying(person)), []
    if task == 9:
        known = [p for p in PEOPLE if p in world.person_place or p in world.person_not_in]
        if not known:
            return None
        # The last sentence's person half the time, so that negations are often asked about.
        person = world.last_person if rng.random() < 0.5 else str(rng.choice(known))
        if person in world.person_not_in:
            return f"Is {person} in the {world.person_not_in[person]}?", "no", [world.told[person]]
        here = world.person_place[person]
        # Asking about where they are more often than not keeps yes near half the answers.
        place = here if rng.random() < 0.7 else str(rng.choice([p for p in PLACES if p != here]))
        return f"Is {person} in the {place}?", "yes" if place == here else "no", [world.told[person]]
    if task == 11:
        # The last sentence's person half the time: often the one its pronoun names.
        person = world.last_person if rng.random() < 0.5 else str(rng.choice(placed))
        told, named = world.told[person], world.named_at[person]
        # A pronoun's sentence rests on the last that names the person, which it (or a
        # chain of pronouns) follows.
        supporting = [named, told] if named != told else [told]
        return f"Where is {person}?", world.person_place[person], supporting
    raise ValueError(f"task={task!r}; expected one of {sorted(TASKS)}")


def question(task, rng):
    """One `Question` of `task`, with its supporting facts."""
    if task not in TASKS:
        raise ValueError(f"task={task!r}; expected one of {sorted(TASKS)}")
    shortest, longest = STORY_LENGTHS[task]
    while True:
        world = World(rng)
        length = int(rng.integers(shortest, longest + 1))
        story = []
        for world.now in range(length):
            story.append(_event(task, world))
        asked = _question(task, world, rng)
        if asked is not None:
            return Question(story, *asked)


def example(task, rng):
    """One (story sentences, question, answer) of `task`."""
    return question(task, rng)[:3]


def questions(task, count, seed):
    """`count` `Question`s of `task`; the same for the same seed."""
    rng = np.random.default_rng([task, seed])
    return [question(task, rng) for _ in range(count)]


def examples(task, count, seed):
    """`count` (story, question, answer) examples of `task`: `questions` without their
    supporting facts."""
    return [asked[:3] for asked in questions(task, count, seed)]


def carried(objects):
    """Task 8's answer: the objects in OBJECTS' order, joined by commas, or "nothing"."""
    return ",".join(obj for obj in OBJECTS if obj in objects) or "nothing"


def tokens(text):
    return text.lower().replace(".", " .").replace("?", " ?").split()


def _either(*groups):
    return "(?:" + "|".join(re.escape(phrase) for group in groups for phrase in group) + ")"


# Every sentence and question the generator writes (World.move/take/drop/state_place/
# negate_place/relate, _question), in any letter case, single spaces: what a model
# trained on these stories can read.
SENTENCE_FORM = re.compile(
    rf"{_either(PEOPLE)} (?:{_either(MOVES)} the {_either(PLACES)}"
    rf"|{_either(TAKES)} the {_either(OBJECTS)}(?: there)?|{_either(DROPS)} the {_either(OBJECTS)}"
    rf"|{_either((IS_IN,), NEGATIONS)} the {_either(PLACES)})\."
    rf"|{_either(CONNECTIVES)} {_either(sorted(set(PRONOUNS.values())))} {_either(MOVES)} the {_either(PLACES)}\."
    rf"|the {_either(PLACES)} is {_either(DIRECTIONS)} of the {_either(PLACES)}\.",
    re.IGNORECASE,
)
# Every question form the generator asks (_question), with the tasks that ask it.
QUESTION_FORMS = {
    (1, 11): rf"where is {_either(PEOPLE)}\?",
    (2,): rf"where is the {_either(OBJECTS)}\?",
    (3,): rf"where was the {_either(OBJECTS)} before the {_either(PLACES)}\?",
    (4,): rf"what is (?:{_either(DIRECTIONS)} of the {_either(PLACES)}|the {_either(PLACES)} {_either(DIRECTIONS)} of)\?",
    (6, 9): rf"is {_either(PEOPLE)} in the {_either(PLACES)}\?",
    (7,): rf"how many objects is {_either(PEOPLE)} carrying\?",
    (8,): rf"what is {_either(PEOPLE)} carrying\?",
}
QUESTION_FORM = re.compile("|".join(QUESTION_FORMS.values()), re.IGNORECASE)


def asking_tasks(question):
    """The tasks whose questions have `question`'s form (a tuple; () if the generator writes no
    question like it): "Where is the milk?" is task 2's alone, "Where is Mary?" tasks 1 and 11's."""
    for tasks, form in QUESTION_FORMS.items():
        if re.fullmatch(form, question, re.IGNORECASE):
            return tasks
    return ()


# Words a story can trade for one another without changing its logic: people of one
# gender (task 11's pronouns), the places, the objects. Directions are traded only in
# ways that keep opposites opposite (task 4 reads relations backwards).
INTERCHANGEABLE = (("Mary", "Sandra"), ("John", "Daniel"), PLACES, OBJECTS)


def _renaming(rng):
    """A random one-to-one renaming of the interchangeable words (lower case)."""
    renaming = {}
    for group in INTERCHANGEABLE:
        for old, new in zip(group, rng.permutation(group)):
            renaming[old.lower()] = str(new).lower()
    axes = [("north", "south"), ("east", "west")]
    axes = [axes[k] for k in rng.permutation(2)]
    for (old_a, old_b), (new_a, new_b) in zip([("north", "south"), ("east", "west")], axes):
        if rng.random() < 0.5:
            new_a, new_b = new_b, new_a
        renaming.update({old_a: new_a, old_b: new_b})
    return renaming


def renamed(example, rng):
    """`example` (story, question, answer) with its people (within a gender), places,
    objects and directions renamed at random, consistently in story, question and
    answer: another example of the same task, for training on more than was generated."""
    renaming = _renaming(rng)

    def rename(text):
        def swap(match):
            word = match[0]
            new = renaming.get(word.lower())
            if new is None:
                return word
            return new.capitalize() if word[0].isupper() else new

        return re.sub(r"[A-Za-z]+", swap, text)

    story, question, answer = example
    if "," in answer or answer in CARRIED:
        answer = carried([renaming[obj] for obj in answer.split(",") if obj in renaming])
    else:
        answer = renaming.get(answer, answer)
    return [rename(sentence) for sentence in story], rename(question), answer
