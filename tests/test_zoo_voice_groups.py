"""The speech recipe's voice groups: checked, asked for in order, missing ones named."""

import pytest

from keras_lstm.zoo import voice_groups


@pytest.fixture
def fake_groups(monkeypatch):
    """Every group synthesising a marker per speaker instead of sound; espeak-ng absent."""
    for name, module in voice_groups.GROUPS.items():
        monkeypatch.setattr(module, "clips", lambda count, seed, name=name: [(name, k, seed) for k in range(count)])
        monkeypatch.setattr(module, "available", lambda name=name: name != "espeak-ng")


def test_clips_come_group_by_group_in_the_order_asked_with_the_seed(fake_groups):
    clips = voice_groups.clips({"piper": 2, "flite": 1, "festival": 0}, seed=7)
    assert clips == [("piper", 0, 7), ("piper", 1, 7), ("flite", 0, 7)]


def test_missing_names_only_the_absent_groups_asked_for(fake_groups):
    assert voice_groups.missing({"espeak-ng": 3, "flite": 2}) == ["espeak-ng"]
    assert voice_groups.missing({"espeak-ng": 0, "flite": 2}) == []


def test_every_group_says_how_to_install_it():
    for module in voice_groups.GROUPS.values():
        assert "not installed" in module.INSTALL and "make" in module.INSTALL
