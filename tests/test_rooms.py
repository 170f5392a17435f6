"""The simulated rooms that training copies and the robustness benchmark are heard in."""

from __future__ import annotations

import numpy as np
import pytest

from moodplayer.voice.audio import SAMPLE_RATE
from moodplayer.voice.rooms import (
    SPEED_OF_SOUND,
    Room,
    in_room,
    room_response,
    with_direct_to_reverberant,
)

LOUNGE = (6.0, 4.5, 2.7)


def level_db(signal: np.ndarray, at: float, seconds: float = 0.05) -> float:
    start = int(at * SAMPLE_RATE)
    return float(
        10 * np.log10(np.mean(np.square(signal[start : start + int(seconds * SAMPLE_RATE)], dtype=np.float64)))
    )


def direct_to_reverberant_db(response: np.ndarray) -> float:
    """How far the direct sound (sample 0) stands above everything that follows, in dB."""
    return float(10 * np.log10(response[0] ** 2 / np.sum(np.square(response[1:]))))


def test_a_click_keeps_its_peak_and_dies_away_by_60_db_in_the_rooms_rt60():
    click = np.zeros(SAMPLE_RATE, np.float32)
    click[0] = 0.5
    room = Room(LOUNGE, (1.5, 2.0, 1.6), (3.4, 2.4, 1.0), 0.6)
    heard = in_room(click, room, np.random.default_rng(2))
    assert np.max(np.abs(heard)) == pytest.approx(0.5)
    assert np.argmax(np.abs(heard)) == 0  # the direct sound comes first
    assert level_db(heard, 0.1) - level_db(heard, 0.4) == pytest.approx(60 * 0.3 / 0.6, abs=3)
    assert np.max(np.abs(heard[int(0.6 * SAMPLE_RATE) :])) < 1e-9  # the response ends there (FFT rounding)


def test_the_first_reflection_comes_from_the_nearest_wall_when_its_path_says():
    # Talker and microphone 1 m apart at 1.5 m above the floor, far from every other wall.
    room = Room((30.0, 30.0, 20.0), (15.0, 15.0, 1.5), (16.0, 15.0, 1.5), 2.0)
    response = room_response(room, np.random.default_rng(0))
    via_floor = np.hypot(1.0, 2 * 1.5)
    expected = (via_floor - 1.0) / SPEED_OF_SOUND * SAMPLE_RATE
    first = np.flatnonzero(np.abs(response[1:]) > 1e-6)[0] + 1
    assert first == int(np.floor(expected))
    # It lost what the longer path and one bounce cost it.
    heard = response[first] + response[first + 1]
    absorbed = np.sqrt(1 - 0.161 * 30 * 30 * 20 / (2 * (30 * 30 + 30 * 20 + 30 * 20) * 2.0))
    assert heard == pytest.approx(absorbed / via_floor, rel=1e-6)


@pytest.mark.parametrize("rt60", [0.4, 0.8])
def test_direct_and_reverberant_sound_balance_near_sabines_critical_distance(rt60):
    volume = np.prod(LOUNGE)
    critical = 0.057 * np.sqrt(volume / rt60)  # where direct and diffuse sound carry equal energy
    talker = (1.5, 2.25, 1.5)

    def ratio_db(distance: float) -> float:
        room = Room(LOUNGE, talker, (1.5 + distance, 2.25, 1.5), rt60)
        return np.mean(
            [direct_to_reverberant_db(room_response(room, np.random.default_rng(seed))) for seed in range(4)]
        )

    assert ratio_db(critical) == pytest.approx(0, abs=4)
    assert ratio_db(0.5 * critical) > ratio_db(critical) + 3 > ratio_db(2 * critical) + 6


def test_training_rooms_stay_inside_their_ranges():
    rng = np.random.default_rng(7)
    for _ in range(200):
        room = Room.draw(rng)
        assert 0.3 <= room.distance <= 3.0 and 0.2 <= room.rt60 <= 1.0
        for point in (room.talker, room.microphone):
            assert all(0 < p < side for p, side in zip(point, room.size))


@pytest.mark.parametrize("drr_db", [10.0, 0.0, -12.0])
def test_a_room_heard_at_another_direct_to_reverberant_ratio_keeps_its_reflections(drr_db):
    room = Room(LOUNGE, (1.5, 2.0, 1.6), (3.4, 2.4, 1.0), 0.6)
    response = room_response(room, np.random.default_rng(3))
    moved = with_direct_to_reverberant(response, drr_db)
    assert direct_to_reverberant_db(moved) == pytest.approx(drr_db, abs=1e-6)
    assert np.array_equal(moved[1:], response[1:])
