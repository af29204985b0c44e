"""Stories with questions in the style of bAbI (Weston et al. 2015), generated here.

bAbI itself ships in no package, so this module simulates its little world:
four people move between six places and pick up, carry and drop three
objects; a story is what happened, one sentence a line, and a question asks
about it. Five of bAbI's tasks:

1. single supporting fact: "Where is Mary?" (where she last went);
2. two supporting facts: "Where is the football?" (who has it, and where
   they are, or where it was dropped);
3. three supporting facts: "Where was the football before the kitchen?"
   (the place it was in before it was carried into the kitchen);
6. yes/no questions: "Is John in the garden?";
7. counting: "How many objects is Daniel carrying?" (none, one, two, three).

Each example is (story sentences, question, answer word). The vocabulary,
the world's rules and the task definitions follow the paper's; the story
lengths and the exact sentence distributions are this generator's, so
accuracies compare with the paper's only loosely.
"""

import re

import numpy as np

PEOPLE = ("Mary", "John", "Sandra", "Daniel")
PLACES = ("bathroom", "bedroom", "garden", "hallway", "kitchen", "office")
OBJECTS = ("football", "apple", "milk")
MOVES = ("moved to", "went to", "journeyed to", "travelled to", "went back to")
TAKES = ("picked up", "got", "grabbed", "took")
DROPS = ("dropped", "discarded", "put down", "left")
COUNTS = ("none", "one", "two", "three")
TASKS = {
    1: "single supporting fact",
    2: "two supporting facts",
    3: "three supporting facts",
    6: "yes/no questions",
    7: "counting",
}
# Story length (sentences before the question), per task: (fewest, most).
STORY_LENGTHS = {1: (2, 10), 2: (4, 20), 3: (6, 30), 6: (2, 10), 7: (3, 12)}


class World:
    """Where everyone and everything is, and every place each object has been."""

    def __init__(self, rng):
        self.rng = rng
        self.person_place = {}
        self.holder = {}  # object -> person carrying it
        self.object_place = {}  # object -> place, once it has been anywhere
        self.object_history = {obj: [] for obj in OBJECTS}

    def _moved(self, obj, place):
        self.object_place[obj] = place
        if not self.object_history[obj] or self.object_history[obj][-1] != place:
            self.object_history[obj].append(place)

    def move(self, person):
        here = self.person_place.get(person)
        place = self.rng.choice([p for p in PLACES if p != here])
        self.person_place[person] = str(place)
        for obj, holder in self.holder.items():
            if holder == person:
                self._moved(obj, str(place))
        return f"{person} {self.rng.choice(MOVES)} the {place}."

    def take(self, person, obj):
        self.holder[obj] = person
        self._moved(obj, self.person_place[person])
        return f"{person} {self.rng.choice(TAKES)} the {obj} there." if self.rng.random() < 0.5 else f"{person} {self.rng.choice(TAKES)} the {obj}."

    def drop(self, obj):
        person = self.holder.pop(obj)
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


def _question(task, world, rng):
    """(question, answer) about `world` for `task`, or None if the story cannot ask it yet."""
    placed = [p for p in PEOPLE if p in world.person_place]
    if task == 1:
        if not placed:
            return None
        person = str(rng.choice(placed))
        return f"Where is {person}?", world.person_place[person]
    if task == 2:
        # Only objects that have been carried: the answer needs who has (had) it and where they went.
        known = [obj for obj in OBJECTS if len(world.object_history[obj]) >= 1 and (obj in world.holder or len(world.object_history[obj]) >= 2)]
        if not known:
            return None
        obj = str(rng.choice(known))
        return f"Where is the {obj}?", world.object_place[obj]
    if task == 3:
        travelled = [obj for obj in OBJECTS if len(world.object_history[obj]) >= 2]
        if not travelled:
            return None
        obj = str(rng.choice(travelled))
        history = world.object_history[obj]
        index = int(rng.integers(1, len(history)))
        return f"Where was the {obj} before the {history[index]}?", history[index - 1]
    if task == 6:
        if not placed:
            return None
        person = str(rng.choice(placed))
        place = world.person_place[person] if rng.random() < 0.5 else str(rng.choice([p for p in PLACES if p != world.person_place[person]]))
        return f"Is {person} in the {place}?", "yes" if world.person_place[person] == place else "no"
    if task == 7:
        if not placed:
            return None
        # Asking about carriers more often keeps "none" from being most answers.
        carriers = sorted(set(world.holder.values()))
        person = str(rng.choice(carriers if carriers and rng.random() < 0.6 else placed))
        return f"How many objects is {person} carrying?", COUNTS[len(world.carrying(person))]
    raise ValueError(f"task={task!r}; expected one of {sorted(TASKS)}")


def example(task, rng):
    """One (story sentences, question, answer) of `task`."""
    if task not in TASKS:
        raise ValueError(f"task={task!r}; expected one of {sorted(TASKS)}")
    shortest, longest = STORY_LENGTHS[task]
    while True:
        world = World(rng)
        length = int(rng.integers(shortest, longest + 1))
        story = [world.random_event(objects=task in (2, 3, 7)) for _ in range(length)]
        asked = _question(task, world, rng)
        if asked is not None:
            return story, asked[0], asked[1]


def examples(task, count, seed):
    """`count` examples of `task`; the same for the same seed."""
    rng = np.random.default_rng([task, seed])
    return [example(task, rng) for _ in range(count)]


def tokens(text):
    return text.lower().replace(".", " .").replace("?", " ?").split()


def _either(*groups):
    return "(?:" + "|".join(re.escape(phrase) for group in groups for phrase in group) + ")"


# Every sentence and question the generator writes (World.move/take/drop, _question), in
# any letter case, single spaces: what a model trained on these stories can read.
SENTENCE_FORM = re.compile(
    rf"{_either(PEOPLE)} (?:{_either(MOVES)} the {_either(PLACES)}"
    rf"|{_either(TAKES)} the {_either(OBJECTS)}(?: there)?|{_either(DROPS)} the {_either(OBJECTS)})\.",
    re.IGNORECASE,
)
QUESTION_FORM = re.compile(
    rf"where is (?:{_either(PEOPLE)}|the {_either(OBJECTS)})\?"
    rf"|where was the {_either(OBJECTS)} before the {_either(PLACES)}\?"
    rf"|is {_either(PEOPLE)} in the {_either(PLACES)}\?"
    rf"|how many objects is {_either(PEOPLE)} carrying\?",
    re.IGNORECASE,
)
