"""Finding music files, reading their tags and estimating their mood from their audio.

Three layers, each usable alone: finding files (:func:`find_audio`,
:func:`expand_items`); examining one file (:func:`read_tags`, :func:`describe`,
:func:`load_excerpt`, :func:`analyse`), which is what the worker processes
run; and :func:`scan`, which brings a library up to date with some folders.

Tags come from mutagen, whatever the container: its "easy" interfaces give
``title``/``artist``/``album`` for MP3, MP4 and Vorbis-comment formats, while
ASF (WMA), APEv2 (WavPack, Monkey's Audio) and bare ID3 (AIFF, WAV) keep
their own frame names, so each field is looked up under every known name.
WAV and AIFF files more often carry their container's own text chunks (RIFF
``LIST/INFO``, written by Windows, foobar2000 and ffmpeg; AIFF ``NAME``/``AUTH``),
which mutagen does not read: :func:`iff_text_tags` does.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple, TypeVar

from moodplayer.errors import Interrupted, LibraryError
from moodplayer.files import utc_now
from moodplayer.music.mood_features import RATE
from moodplayer.music.track import Track, is_url, is_windows_path
from moodplayer.paths import typed_path

if TYPE_CHECKING:
    import numpy as np

    from moodplayer.music.mood_model import MoodModel

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: What `playlist add FOLDER` and `library scan` treat as music.
AUDIO_EXTENSIONS = frozenset(".mp3 .flac .ogg .oga .opus .m4a .mp4 .aac .wma .aiff .aif .wav .wv .ape".split())

_TAG_KEYS = {
    "title": ("title", "TIT2", "Title", "\xa9nam"),
    "artist": ("artist", "TPE1", "Author", "Artist", "\xa9ART"),
    "album": ("album", "TALB", "WM/AlbumTitle", "Album", "\xa9alb"),
}


def is_audio(path: str | Path) -> bool:
    return os.path.splitext(str(path))[1].lower() in AUDIO_EXTENSIONS


def find_audio(folder: str | Path) -> Iterator[str]:
    """Every audio file under ``folder``, recursively, sorted per folder.

    Symlinked folders are followed (music libraries are often assembled from
    links), but each real folder is visited once, so a link loop ends; real
    subfolders go before links, so a file is known by its own path first.
    """
    seen: set[tuple[int, int]] = set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        try:
            st = os.stat(root)
        except OSError:
            dirs[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirs.sort(key=lambda name: (os.path.islink(os.path.join(root, name)), name))
        for name in sorted(files):
            if is_audio(name):
                yield os.path.join(root, name)


def expand_items(items: Iterable[str]) -> list[str]:
    """What a user typed (files, folders, globs, http(s) URLs) as locations, in order.

    ``~`` and ``$VARIABLES`` are expanded as a shell would, also where the
    shell did not (a quoted ``"~/Music/…"``). Nothing is added when any item
    names nothing, so a typo never leaves a half-filled playlist behind.
    """
    locations: list[str] = []
    for typed in items:
        item = typed_path(typed)
        if is_url(typed):
            locations.append(typed)
        elif os.path.isdir(item):
            locations.extend(_folder(item))
        elif os.path.isfile(item):
            locations.append(item)
        elif re.search(r"[*?[]", item):
            locations.extend(_glob(item))
        else:
            raise LibraryError(f"no such file or folder: {item}")
    return locations


def _folder(folder: str) -> list[str]:
    found = list(find_audio(folder))
    if not found:
        raise LibraryError(f"no audio files in {folder} (looked for {', '.join(sorted(AUDIO_EXTENSIONS))})")
    return found


def _glob(pattern: str) -> list[str]:
    found: list[str] = []
    for match in sorted(glob.glob(pattern, recursive=True)):
        if os.path.isdir(match):
            found.extend(find_audio(match))
        elif is_audio(match):
            found.append(match)
    if not found:
        raise LibraryError(f"no audio files match {pattern}")
    return found


def describe(items: Iterable[str | Track]) -> list[dict]:
    """The library rows for files or URLs to add to a playlist: each item's own fields (an M3U's
    ``#EXTINF`` title, a stream's name), overridden by the file's tags; a file not there is flagged missing."""
    return [_described(item if isinstance(item, Track) else Track(location=item)) for item in items]


def _described(item: Track) -> dict:
    location = normalise_location(item.location)
    row = {
        "location": location,
        "title": item.title,
        "artist": item.artist,
        "album": item.album,
        "duration": item.duration,
        "missing": 0,
    }
    if is_url(location) or is_windows_path(location):
        return {**row, "missing": int(not is_url(location))}
    if not os.path.isfile(location):
        return {**row, "missing": 1}
    tags = read_tags(location)
    row.update({k: v for k, v in tags.items() if v is not None})
    return row


def normalise_location(location: str) -> str:
    """A file as an absolute, normalised path (symlinks kept as named).

    URLs, and Windows paths from a foreign playlist that matched no file here,
    are kept exactly as written: they have no other honest spelling.
    """
    if is_url(location) or is_windows_path(location):
        return location
    return os.path.abspath(os.path.expanduser(location))


def read_tags(path: str | Path) -> dict:
    """Title, artist, album and duration of a file; ``None`` for what it doesn't say.

    A file mutagen cannot parse (corrupt, truncated, not audio) simply has no
    tags: deciding whether it is playable is the player's and the analyser's job.
    """
    import mutagen
    from mutagen.aiff import AIFF
    from mutagen.wave import WAVE

    result: dict = {"title": None, "artist": None, "album": None, "duration": None}
    try:
        audio = mutagen.File(str(path), easy=True)
    except Exception:  # mutagen raises MutagenError, but also struct/Index errors on damaged files
        return result
    if audio is None:
        return result
    length = getattr(audio.info, "length", None)
    if length and length > 0:
        result["duration"] = round(float(length), 3)
    if audio.tags is not None:
        for tag, keys in _TAG_KEYS.items():
            result[tag] = _first_text(audio.tags, keys)
    if isinstance(audio, (WAVE, AIFF)):
        for tag, text in iff_text_tags(path).items():
            result[tag] = result[tag] or text
    return result


#: Text chunks of the IFF family: RIFF INFO (inside WAV's ``LIST`` chunk) and AIFF's own.
_IFF_TEXT = {b"INAM": "title", b"IART": "artist", b"IPRD": "album", b"NAME": "title", b"AUTH": "artist"}
#: A text chunk longer than this is not a title; skipping it keeps a damaged size field harmless.
_IFF_TEXT_LIMIT = 1 << 16


def iff_text_tags(path: str | Path) -> dict[str, str]:
    """Title, artist and album from a WAV's RIFF INFO or an AIFF's text chunks (those present).

    Walks the top-level chunks by their headers, seeking past the audio, so a
    long file costs a few reads; a truncated or damaged file yields what was
    read before the damage. Text is UTF-8 when it decodes as such (ffmpeg,
    newer taggers), else Windows-1252 (older Windows software).
    """
    found: dict[str, str] = {}
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if head[:4] in (b"RIFF", b"FORM") and head[8:12] in (b"WAVE", b"AIFF", b"AIFC"):
                _walk_iff(f, big_endian=head[:4] == b"FORM", found=found)
    except OSError:
        pass
    return found


def _walk_iff(f, big_endian: bool, found: dict[str, str], end: int | None = None) -> None:
    order: Literal["big", "little"] = "big" if big_endian else "little"
    while end is None or f.tell() + 8 <= end:
        header = f.read(8)
        if len(header) < 8:
            return
        chunk, size = header[:4], int.from_bytes(header[4:], order)
        start = f.tell()
        if chunk == b"LIST" and f.read(4) == b"INFO":
            _walk_iff(f, big_endian, found, end=start + size)
        elif chunk in _IFF_TEXT and size <= _IFF_TEXT_LIMIT:
            text = _decode_text(f.read(size))
            if text:
                found.setdefault(_IFF_TEXT[chunk], text)
        f.seek(start + size + (size & 1))  # chunks are padded to an even length


def _decode_text(raw: bytes) -> str:
    """A chunk's text up to its terminating NUL."""
    from moodplayer.files import legacy_text

    return legacy_text(raw.split(b"\0", 1)[0]).strip()


def _first_text(tags, keys: Iterable[str]) -> str | None:
    for key in keys:
        try:
            value = tags[key]
        except (KeyError, ValueError, TypeError):
            continue
        if hasattr(value, "text"):  # an ID3 frame
            value = value.text
        if isinstance(value, (list, tuple)):
            value = value[0] if value else None
        text = str(value).strip() if value is not None else ""
        if text:
            return text
    return None


# -- audio analysis -------------------------------------------------------------------

#: The excerpt analysed: this many seconds from the middle of the track, at this rate.
EXCERPT_SECONDS = 30.0
ANALYSIS_RATE = RATE
#: Less decodable audio than this is not worth a mood estimate (a truncated or empty file).
MIN_ANALYSIS_SECONDS = 1.0


class UnreadableAudio(Exception):
    """A file the scan skips and counts: empty, corrupt, truncated to nothing, not audio."""


def load_excerpt(path: str, duration: float | None) -> np.ndarray:
    """Up to :data:`EXCERPT_SECONDS` of mono audio from the middle, at :data:`ANALYSIS_RATE`.

    Only the excerpt is decoded: libsndfile seeks straight to it (WAV, FLAC,
    Ogg, Opus, MP3, AIFF); other containers go through ffmpeg with an input
    seek, so a long track costs no more than a short one.
    """
    offset = max(0.0, (duration or 0.0) / 2 - EXCERPT_SECONDS / 2)
    samples = _excerpt(path, offset)
    if samples.size < MIN_ANALYSIS_SECONDS * ANALYSIS_RATE and offset:
        samples = _excerpt(path, 0.0)  # the header overstated the length (VBR MP3s do)
    if samples.size < MIN_ANALYSIS_SECONDS * ANALYSIS_RATE:
        raise UnreadableAudio(f"less than {MIN_ANALYSIS_SECONDS:g} s of decodable audio")
    return samples


def _excerpt(path: str, offset: float) -> np.ndarray:
    try:
        return _excerpt_soundfile(path, offset)
    except UnreadableAudio:
        return _excerpt_ffmpeg(path, offset)


def _excerpt_soundfile(path: str, offset: float) -> np.ndarray:
    import numpy as np
    import soundfile as sf
    import soxr

    from moodplayer.native_output import captured

    try:
        with captured("libsndfile"), sf.SoundFile(path) as f:
            if f.seekable() and offset:
                f.seek(min(int(offset * f.samplerate), max(0, f.frames - 1)))
            block = f.read(int(EXCERPT_SECONDS * f.samplerate), dtype="float32", always_2d=True)
            rate = f.samplerate
    except Exception as exc:  # libsndfile: LibsndfileError, RuntimeError on damaged frames
        raise UnreadableAudio(str(exc).replace(f"{path}: ", "")) from None
    mono = block.mean(axis=1)
    if rate != ANALYSIS_RATE:
        mono = soxr.resample(mono, rate, ANALYSIS_RATE, quality="MQ")
    return np.ascontiguousarray(mono, dtype=np.float32)


def _excerpt_ffmpeg(path: str, offset: float) -> np.ndarray:
    import subprocess

    import numpy as np

    command = [
        "ffmpeg",
        "-nostdin",
        "-v",
        "error",
        "-ss",
        f"{offset:.3f}",
        "-t",
        f"{EXCERPT_SECONDS:g}",
        "-i",
        path,
        "-ac",
        "1",
        "-ar",
        str(ANALYSIS_RATE),
        "-f",
        "f32le",
        "-",
    ]
    try:
        result = subprocess.run(command, capture_output=True, timeout=120)
    except FileNotFoundError:
        raise UnreadableAudio("not readable without ffmpeg (install it to scan this format)") from None
    except subprocess.TimeoutExpired:
        raise UnreadableAudio("ffmpeg took too long to decode it") from None
    if result.returncode != 0 and not result.stdout:
        reason = result.stderr.decode(errors="replace").replace(f"{path}: ", "").strip().splitlines()
        log.debug("ffmpeg cannot decode %s: %s", path, reason[-1] if reason else "")
        raise UnreadableAudio("not audio, or damaged")
    return np.frombuffer(result.stdout[: len(result.stdout) // 4 * 4], dtype="<f4").copy()


def analyse(samples: np.ndarray, model: MoodModel) -> dict:
    """Tempo, energy, brightness and mode of an excerpt, and where the music-mood model places it.

    ``analysis_version`` names the features and model that made the estimate,
    so a scan with another model analyses the track again.
    """
    import numpy as np

    from moodplayer.music.mood_features import extract

    if not np.all(np.isfinite(samples)) or not np.any(samples):
        raise UnreadableAudio("silent or invalid samples")
    analysis = extract(samples)
    [valence], [arousal] = model.predict(analysis.vector)
    return {
        "tempo": round(analysis.tempo, 2),
        "energy": round(analysis.energy, 2),
        "brightness": round(analysis.brightness, 1),
        "mode": "major" if analysis.majorness >= 0 else "minor",
        "valence": round(float(valence), 4),
        "arousal": round(float(arousal), 4),
        "analysis_version": model.version,
    }


def mood_point(tempo: float, energy_db: float, brightness_hz: float, majorness: float) -> tuple[float, float]:
    """A hand-written valence/arousal estimate in [-1, 1]: the baseline the mood model is measured against.

    The cues are the ones listeners agree on most (Gabrielsson & Lindström
    2010; Eerola et al. 2013): arousal rises with tempo, loudness and
    brightness; valence follows mode first (major pleasant, minor not), then
    tempo and brightness. Each cue is scaled to [-1, 1] over the range
    popular music spans (60-180 BPM, -30 to -10 dBFS, 1-3.5 kHz centroid).
    """
    fast = _scale(tempo, 60, 180)
    loud = _scale(energy_db, -30, -10)
    bright = _scale(brightness_hz, 1000, 3500)
    major = _scale(majorness, -0.15, 0.15)
    arousal = 0.45 * fast + 0.35 * loud + 0.2 * bright
    valence = 0.6 * major + 0.25 * fast + 0.15 * bright
    return round(_clip(valence), 4), round(_clip(arousal), 4)


def _scale(value: float, low: float, high: float) -> float:
    return _clip(2 * (value - low) / (high - low) - 1)


def _clip(value: float) -> float:
    return max(-1.0, min(1.0, value))


# -- scanning ---------------------------------------------------------------------------

#: Scanned files are written in batches this big, or at least this often: a killed
#: scan loses at most one batch and the next scan picks up from there.
BATCH_SIZE = 16
BATCH_SECONDS = 1.0


@dataclass
class ScanReport:
    """What a scan found and did; ``failures`` holds (path, reason) for skipped files."""

    found: int = 0
    unchanged: int = 0
    stored: int = 0
    vanished: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)


class ScanJob(NamedTuple):
    """One file to read (and analyse): sent to a worker process, so plain data only."""

    location: str
    size: int
    mtime: float
    model: str | None  # the music-mood model file to analyse with; None reads tags only


def examine(job: ScanJob) -> tuple[str, dict | None, str | None]:
    """One file's row for the library, or why it was skipped. Runs in a worker process.

    Whatever one file does to the readers and the analysis, it is that file's failure
    only: the scan goes on with the others.
    """
    try:
        return _examine(job)
    except Exception as exc:  # a decoder's or librosa's own error on a hostile file
        log.debug("analysing %s failed: %s: %s", job.location, type(exc).__name__, exc)
        return job.location, None, "could not be read or analysed"


def _examine(job: ScanJob) -> tuple[str, dict | None, str | None]:
    from moodplayer.music import mood_model

    location, size, mtime, model = job
    if size == 0:
        return location, None, "empty file (0 bytes)"
    tags = read_tags(location)
    row = {"location": location, "size": size, "mtime": mtime, **tags}
    if model is None:
        if tags["duration"] is None:
            return location, None, "not an audio file mutagen can read"
        return location, row, None
    try:
        samples = load_excerpt(location, tags["duration"])
        row.update(analyse(samples, mood_model.cached(Path(model))), analysed_at=utc_now())
    except UnreadableAudio as exc:
        return location, None, str(exc) or "not decodable audio"
    return location, row, None


def scan(
    lib,
    folders: Iterable[str | Path],
    analysis: bool = True,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    model: Path | None = None,
) -> ScanReport:
    """Bring the library up to date with what is under ``folders``.

    New and changed files (by size and mtime) are read and, with ``analysis``,
    analysed in a pool of ``jobs`` processes by the music-mood ``model`` (by
    default :func:`moodplayer.paths.music_model_path`), as are files analysed
    by another model or feature extraction; files the library knew under
    these folders that are gone are flagged missing. ``progress(done, total)``
    is called as files complete.
    """
    from moodplayer import paths
    from moodplayer.music import mood_model

    roots = [os.path.abspath(f) for f in folders]
    for root in roots:
        if not os.path.isdir(root):
            raise LibraryError(f"not a folder: {root}")
    model = (model or paths.music_model_path()) if analysis else None
    version = mood_model.load(model).version if model else None  # a damaged model stops the scan here
    report = ScanReport()
    known = lib.known_files()
    seen, todo = set(), []
    for location in (os.path.abspath(p) for root in roots for p in find_audio(root)):
        if location in seen:
            continue
        seen.add(location)
        job = _job(location, known.get(location), model, version)
        if job is None:
            report.unchanged += 1
        else:
            todo.append(job)
    report.found = len(seen)
    vanished = [loc for loc, info in known.items() if not info.missing and loc not in seen and _under(loc, roots)]
    lib.set_missing(vanished)
    report.vanished = len(vanished)
    try:
        _examine_all(lib, todo, jobs, report, progress)
    except (KeyboardInterrupt, SystemExit) as stop:  # Ctrl-C; SIGTERM or SIGHUP, which the CLI makes an exit
        raise Interrupted(
            f"scan stopped: {report.stored} of {len(todo)} new or changed files stored and kept; "
            "scan again to add the rest",
            stop.code if isinstance(stop, SystemExit) and isinstance(stop.code, int) else 130,
        ) from None
    return report


def _job(location: str, known, model: Path | None, version: str | None) -> ScanJob | None:
    """The work for one file, or ``None`` when the library already has it as it is.

    With a model (``version`` naming it), a file analysed by another model or
    feature extraction, or never analysed, is analysed again.
    """
    try:
        st = os.stat(location)
    except OSError:  # gone since the folder walk: the next scan will flag it
        return None
    unchanged = known is not None and (known.size, known.mtime) == (st.st_size, st.st_mtime)
    if unchanged and (version is None or known.analysis_version == version) and not known.missing:
        return None
    return ScanJob(location, st.st_size, st.st_mtime, str(model) if model else None)


def _under(location: str, roots: list[str]) -> bool:
    return any(location.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def _examine_all(lib, todo: list[ScanJob], jobs: int | None, report: ScanReport, progress) -> None:
    """Examine files (in parallel when worth it) and store them batch by batch; stopped, the
    files examined so far are still stored."""
    batch: list[dict] = []
    last_write = time.monotonic()
    if progress:
        progress(0, len(todo))
    try:
        for done, (location, row, failure) in enumerate(_results(todo, jobs), start=1):
            if failure:
                report.failures.append((location, failure))
            else:
                batch.append(row)
            if batch and (len(batch) >= BATCH_SIZE or time.monotonic() - last_write > BATCH_SECONDS):
                _store(lib, batch, report)
                batch, last_write = [], time.monotonic()
            if progress:
                progress(done, len(todo))
    except (KeyboardInterrupt, SystemExit):
        if batch:
            _store(lib, batch, report)
        raise
    if batch:
        _store(lib, batch, report)


def _store(lib, batch: list[dict], report: ScanReport) -> None:
    lib.store_scanned(batch)
    report.stored += len(batch)


def _results(todo: list[ScanJob], jobs: int | None) -> Iterator[tuple]:
    """``examine`` over ``todo``: inline for tags only, else in a pool of processes."""
    if not any(job.model for job in todo):
        return map(examine, todo)
    return parallel_map(examine, todo, jobs)


def parallel_map(function: Callable[[T], R], items: list[T], jobs: int | None) -> Iterator[R]:
    """``function`` over ``items``, in order, in a pool of ``jobs`` processes (default: all cores).

    The pool's workers are spawned children of this process, not forked: the
    parent runs rich's refresh thread and holds a SQLite connection, neither of
    which survives a fork safely; and a forkserver would stay behind, orphaned,
    if this process were killed. Stopped early (Ctrl-C, SIGTERM, a locked
    database), the workers are ended at once, the items in hand unfinished.
    One process, or one item, runs inline.
    """
    jobs = jobs or os.cpu_count() or 1
    if jobs == 1 or len(items) <= 1:
        yield from map(function, items)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(
        max_workers=min(jobs, len(items)),
        initializer=_start_worker,
        initargs=(os.getpid(),),
        mp_context=multiprocessing.get_context("spawn"),
    )
    try:
        yield from pool.map(function, items)
    except BaseException:
        for worker in list(pool._processes.values()):  # the executor has no public way until Python 3.14
            worker.terminate()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


#: How far below the user's other programs the pool's processes (and their ffmpeg) run (``nice``): a
#: program the user is waiting on (``listen``, the player) wins the ties for a core. Only one step: each
#: step costs a worker a share of its core beside busy programs, and at +3 a scan beside two busy loops
#: on two cores fell well under its speed target there (measured: docs/experiments.md, library scan).
WORKER_NICENESS = 1


#: How often a worker checks that the process that started it is still there.
PARENT_CHECK_SECONDS = 0.5


def _start_worker(parent: int) -> None:
    """Set a worker up: one BLAS thread (the pool is the parallelism), a lower priority, a silent
    stderr, the parent's signals left to the parent, and an exit of its own once the parent is gone.

    The thread limits take effect because this module imports numpy only
    inside functions: the worker loads OpenBLAS after this has run.
    Decoders (libmpg123, ffmpeg) print warnings about damaged files straight
    to file descriptor 2; the scan reports those files itself, once, clearly.
    Ctrl-C and a hangup reach the whole process group: the parent stops the
    workers itself, after storing what they finished. A parent killed outright
    (SIGKILL, a crash) cannot: the worker sees it has been re-parented and exits.
    """
    import signal
    import threading
    import warnings

    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[name] = "1"
    os.nice(WORKER_NICENESS)
    warnings.simplefilter("ignore")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)
