"""`collector.paused_gc`: the collector off inside, as it was after (also on an error), and
with `freeze` what survived the pause out of its sight."""

from __future__ import annotations

import gc

import pytest

from qbtrace.collector import paused_gc


def test_the_collector_is_off_inside_and_on_again_after_even_on_an_error() -> None:
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError), paused_gc():
        raise ValueError
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    try:
        with paused_gc(freeze=True):
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_freeze_moves_what_survived_out_of_the_collectors_sight() -> None:
    gc.unfreeze()
    try:
        with paused_gc():
            kept = [[n] for n in range(1000)]
        assert gc.get_freeze_count() == 0
        with paused_gc(freeze=True):
            kept += [[n] for n in range(1000)]
        assert gc.get_freeze_count() >= 2000
    finally:
        gc.unfreeze()
