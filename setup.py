"""Ships the owner's default files inside the package, for `vouch init`.

The canonical copies stay where an owner and `make run` expect them (config.toml, templates/,
surveys/, materials/ at the repository's root); a wheel gets them under daemon/defaults/.
Everything else about the build is in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
DEFAULTS = ("config.toml", "templates", "surveys", "materials")  # as daemon/shipped.py NAMES


class BuildWithDefaults(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout itself
            return
        target = Path(self.build_lib) / "daemon" / "defaults"
        shutil.rmtree(target, ignore_errors=True)
        for name in DEFAULTS:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, target / name, ignore=shutil.ignore_patterns(".*"))
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)


setup(cmdclass={"build_py": BuildWithDefaults})
