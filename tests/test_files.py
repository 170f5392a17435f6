"""Writing files: whole or not at all, and never destroying what is already at the path."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from moodplayer.errors import MoodplayerError
from moodplayer.files import atomic_write


def test_a_regular_file_is_replaced_whole_keeping_its_mode(tmp_path):
    target = tmp_path / "list.m3u"
    target.write_bytes(b"old")
    target.chmod(0o600)
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["list.m3u"]  # no temp file left


def test_a_symlink_is_kept_and_the_file_it_names_is_written(tmp_path):
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    real = dotfiles / "evening.m3u"
    real.write_bytes(b"old")
    real.chmod(0o640)
    link = tmp_path / "evening.m3u"
    link.symlink_to(real)
    atomic_write(link, b"new")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() == b"new" and stat.S_IMODE(real.stat().st_mode) == 0o640


def test_a_fifo_is_written_into_not_replaced(tmp_path):
    fifo = tmp_path / "pipe.m3u"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    try:
        atomic_write(fifo, b"#EXTM3U\n")
        received, _ = reader.communicate(timeout=10)
    finally:
        reader.kill()
    assert received == b"#EXTM3U\n"
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def device(folder, name: str, minor: int):
    """A character device node of the memory driver (3: what /dev/null is, 7: /dev/full), made in
    ``folder`` so that a writer that replaced it would harm nothing else."""
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    path = folder / name
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, minor))
    return path


def test_a_device_node_is_written_into_never_replaced(tmp_path):
    null = device(tmp_path, "null", 3)
    atomic_write(null, b"#EXTM3U\n")
    assert stat.S_ISCHR(null.lstat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]


def test_a_full_device_is_one_line_and_left_as_it_was(tmp_path):
    full = device(tmp_path, "full", 7)
    with pytest.raises(MoodplayerError, match=f"^cannot write {full}: No space left on device$"):
        atomic_write(full, b"#EXTM3U\n")
    assert stat.S_ISCHR(full.lstat().st_mode)


def test_dash_is_standard_output(capfdbinary):
    atomic_write("-", b"#EXTM3U\n")
    assert capfdbinary.readouterr().out == b"#EXTM3U\n"


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(MoodplayerError, match="it is a folder, not a file"):
        atomic_write(tmp_path, b"x")
