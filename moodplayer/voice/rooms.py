"""Rooms a voice is heard in: simulated impulse responses for training copies and benchmarks.

A microphone a metre or two from the talker hears the direct sound, then the walls'
first reflections a few milliseconds later, then a diffuse tail that dies away
by 60 dB in the room's RT60. How loud the reflections are against the direct
sound (the direct-to-reverberant ratio) depends on the distance and the room: a
laptop at arm's length in a small furnished room hears about as much reflected
as direct sound, a phone across a living room several times more.

:func:`room_response` builds that response the way room-acoustics tools commonly do:
the early part from image sources in a shoebox room (Allen & Berkley, 1979), with
every wall absorbing alike (Sabine's formula gives the absorption for the RT60),
and the late part, where reflections are too dense to matter one by one, as
exponentially decaying noise that takes over at the level the image sources reached.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from moodplayer.voice.audio import SAMPLE_RATE

SPEED_OF_SOUND = 343.0  # m/s
#: Where image sources give way to the statistical tail: past about 50 ms a room's
#: reflections arrive thousands a second and only their envelope is heard.
MIXING_SECONDS = 0.05
_LEVEL_WINDOW = 0.02  # seconds of image-source response the tail's level is matched to
_WALL_MARGIN = 0.4  # metres a talker or microphone keeps from any wall


@dataclass(frozen=True)
class Room:
    """A shoebox room (metres), where the talker and the microphone are, and its RT60 (seconds)."""

    size: tuple[float, float, float]
    talker: tuple[float, float, float]
    microphone: tuple[float, float, float]
    rt60: float

    @property
    def distance(self) -> float:
        return float(np.linalg.norm(np.subtract(self.talker, self.microphone)))

    @classmethod
    def draw(cls, rng: np.random.Generator) -> Room:
        """A room to train on: 3-10 m long, 2.4-4 m high, RT60 0.2-1.0 s, the microphone 0.3-3 m away."""
        length = rng.uniform(3.0, 10.0)
        size = (length, rng.uniform(2.5, min(length, 8.0)), rng.uniform(2.4, 4.0))
        talker = (*_inside(size[:2], rng), rng.uniform(1.1, 1.8))
        while True:
            microphone = (*_inside(size[:2], rng), rng.uniform(0.6, 1.6))
            if 0.3 <= np.linalg.norm(np.subtract(talker, microphone)) <= 3.0:
                return cls(size, talker, microphone, rng.uniform(0.2, 1.0))


def _inside(extent: tuple[float, float], rng: np.random.Generator) -> tuple[float, float]:
    return rng.uniform(_WALL_MARGIN, extent[0] - _WALL_MARGIN), rng.uniform(_WALL_MARGIN, extent[1] - _WALL_MARGIN)


def wall_reflection(room: Room) -> float:
    """The pressure each wall reflects (all alike) for the room to have its RT60, by Sabine's formula."""
    width, depth, height = room.size
    surface = 2 * (width * depth + width * height + depth * height)
    absorption = min(0.161 * width * depth * height / (surface * room.rt60), 0.95)
    return float(np.sqrt(1 - absorption))


def _image_axis(side: float, talker: float, microphone: float, reach: float) -> tuple[np.ndarray, np.ndarray]:
    """Along one axis: each image source's offset from the microphone and how many walls it met."""
    order = int(np.ceil(reach / (2 * side))) + 1
    n = np.arange(-order, order + 1)
    offsets = np.concatenate([talker + 2 * n * side, -talker + 2 * n * side]) - microphone
    bounces = np.concatenate([2 * np.abs(n), np.abs(n - 1) + np.abs(n)])
    return offsets, bounces


def _early_reflections(room: Room, length: int) -> np.ndarray:
    """Image sources up to ``length`` samples after the direct sound, which has amplitude 1 at sample 0."""
    reach = room.distance + SPEED_OF_SOUND * length / SAMPLE_RATE
    axes = [_image_axis(*sides, reach) for sides in zip(room.size, room.talker, room.microphone)]
    (dx, bx), (dy, by), (dz, bz) = axes
    distance = np.sqrt(dx[:, None, None] ** 2 + dy[None, :, None] ** 2 + dz[None, None, :] ** 2).ravel()
    bounces = (bx[:, None, None] + by[None, :, None] + bz[None, None, :]).ravel()
    delay = (distance - room.distance) / SPEED_OF_SOUND * SAMPLE_RATE
    heard = delay < length - 1
    delay, distance, bounces = delay[heard], distance[heard], bounces[heard]
    gain = wall_reflection(room) ** bounces * room.distance / distance
    response = np.zeros(length)
    first = np.floor(delay).astype(int)
    late = delay - first  # shared between the two nearest samples
    np.add.at(response, first, gain * (1 - late))
    np.add.at(response, first + 1, gain * late)
    return response


def room_response(room: Room, rng: np.random.Generator) -> np.ndarray:
    """The room's impulse response from talker to microphone, ``room.rt60`` seconds long."""
    total = int(room.rt60 * SAMPLE_RATE)
    mixing = min(int(MIXING_SECONDS * SAMPLE_RATE), total)
    response = np.zeros(total)
    response[:mixing] = _early_reflections(room, mixing)
    window = response[mixing - int(_LEVEL_WINDOW * SAMPLE_RATE) : mixing]
    level = np.sqrt(np.mean(np.square(window)))
    t = np.arange(total - mixing) / SAMPLE_RATE
    response[mixing:] = level * rng.standard_normal(t.size) * 10 ** (-3 * t / room.rt60)
    return response


def with_direct_to_reverberant(response: np.ndarray, drr_db: float) -> np.ndarray:
    """The response with its direct sound scaled to stand ``drr_db`` above the rest.

    The same walls heard from nearer the talker (a higher ratio) or from
    farther, round a corner or through an open door (a lower one): the
    direct-to-reverberant ratio, as much as the RT60, decides how much a room
    smears a voice, and a shoebox's geometry alone reaches only part of the
    range homes have.
    """
    scaled = response.copy()
    scaled[0] = np.sqrt(np.sum(np.square(response[1:])) * 10 ** (drr_db / 10))
    return scaled


def in_room(samples: np.ndarray, room: Room, rng: np.random.Generator) -> np.ndarray:
    """The clip as the room's microphone hears it; the result keeps the clip's peak."""
    return reverberate(samples, room_response(room, rng))


def reverberate(samples: np.ndarray, response: np.ndarray) -> np.ndarray:
    """The clip through an impulse response, as long as it was and with the same peak."""
    from scipy.signal import fftconvolve

    wet = fftconvolve(samples, response)[: samples.size]
    return (wet * np.max(np.abs(samples)) / (np.max(np.abs(wet)) + 1e-9)).astype(np.float32)
