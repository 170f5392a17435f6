"""Packaging glue: a built wheel carries the shipped models and the demo playlist.

They live at the repository's top level (``models/``, ``playlists/``) and are
copied into the package's ``data/`` folder at build time, where
:func:`moodplayer.paths.shipped_asset` finds them once installed.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ASSETS = [
    *sorted(Path("models").glob("*.safetensors")),
    *sorted(Path("models").glob("*.json")),
    Path("playlists/demo.json"),
]


class BuildWithAssets(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "moodplayer" / "data"
        target.mkdir(parents=True, exist_ok=True)
        for asset in ASSETS:
            shutil.copy2(asset, target / asset.name)


setup(cmdclass={"build_py": BuildWithAssets})
