"""The synthesisers the speech recipe takes training voices from: stated here once.

A group is a module with `clips(count, seed)` (every digit once from each of
`count` speakers drawn with `seed`), `available()` (whether its synthesiser is
on this machine) and `INSTALL` (what is missing and how to get it). The recipe
takes a {group: speakers} mapping; synthetic clips are only ever training data.
"""

from keras_lstm.zoo import festival_digits, flite_digits, piper_digits, synthetic_digits

GROUPS = {"espeak-ng": synthetic_digits, "flite": flite_digits, "festival": festival_digits, "piper": piper_digits}


def checked(voices, argument="voices"):
    """`voices` as a dict, or a TypeError/ValueError naming `argument`: a mapping of
    group names (GROUPS) to numbers of speakers >= 0."""
    if not isinstance(voices, dict):
        raise TypeError(f"{argument} is {type(voices).__name__}; expected a dict of {{group: speakers}}, groups {list(GROUPS)}")
    for group, count in voices.items():
        if group not in GROUPS:
            raise ValueError(f"{argument} has {group!r}; expected groups of {list(GROUPS)}")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ValueError(f"{argument}[{group!r}]={count!r}; expected a number of speakers >= 0")
    return dict(voices)


def missing(voices):
    """The groups `voices` asks speakers of whose synthesiser is not here."""
    return [group for group, count in checked(voices).items() if count and not GROUPS[group].available()]


def clips(voices, seed):
    """Every digit once from each speaker `voices` asks for, group by group in its order."""
    return [clip for group, count in checked(voices).items() if count for clip in GROUPS[group].clips(count, seed)]
