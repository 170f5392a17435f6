"""librosa's kernels are first used by one process at a time, then, once cached, without waiting."""

from __future__ import annotations

import fcntl
import threading

from moodplayer import numba_kernels
from moodplayer.music.mood_features import extract


def test_first_use_waits_for_the_machine_wide_lock_and_once_cached_goes_without_it(monkeypatch):
    monkeypatch.setattr(numba_kernels, "_done", set())
    ran = threading.Event()
    with open(numba_kernels.LOCK_FILE, "a") as held:  # another process compiling
        fcntl.flock(held, fcntl.LOCK_EX)
        first = threading.Thread(target=numba_kernels.first_use, args=("kernels-test", ran.set))
        first.start()
        assert not ran.wait(0.5)  # without the lock it would have run at once
    first.join(30)
    assert ran.is_set() and numba_kernels._marker("kernels-test").exists()

    numba_kernels._done.clear()
    again = threading.Event()
    with open(numba_kernels.LOCK_FILE, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        numba_kernels.first_use("kernels-test", again.set)  # returns although the lock is held
    assert not again.is_set()


def test_the_music_features_take_the_lock_before_their_first_excerpt(monkeypatch):
    import numpy as np

    used = []
    monkeypatch.setattr(numba_kernels, "first_use", lambda name, warm_up: used.append(name))
    extract(np.zeros(22_050 * 4, np.float32))
    assert used == ["music-mood-features"]
