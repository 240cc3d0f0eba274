"""Run `vouch run` as a real subprocess and watch what it logs (for crash and signal tests)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Self

from helpers import ENV

#: `python -m daemon` with some of its loggers at debug level (`vouch run` logs at info)
DEBUG_MAIN = (
    "import logging, sys; from daemon.cli import main; "
    "[logging.getLogger(name).setLevel(logging.DEBUG) for name in sys.argv.pop(1).split(',')]; "
    "raise SystemExit(main())"
)


class DaemonProcess:
    def __init__(
        self,
        config: Path,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
        debug: tuple[str, ...] = (),
    ) -> None:
        """args: more options for `vouch run`, e.g. ("--role", "worker"); debug: loggers that
        log at debug level too, e.g. ("daemon.run.sender",)."""
        self.config = config
        self.args = args
        self.debug = debug
        self.env = {**os.environ, **ENV, **(env or {})}
        self.lines: list[str] = []
        self.url = ""
        self._changed = threading.Condition()
        self.proc: subprocess.Popen[str] | None = None

    def start(self, ready: str = r"listening on (http://\S+)") -> Self:
        """Start it and wait until it logs `ready` (a worker serves no HTTP: its role line)."""
        self.lines = []
        main = ["-c", DEBUG_MAIN, ",".join(self.debug)] if self.debug else ["-m", "daemon"]
        self.proc = subprocess.Popen(
            [sys.executable, *main, "run", "--config", str(self.config), *self.args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )
        self._reader = threading.Thread(target=self._read, args=(self.proc,), daemon=True)
        self._reader.start()
        match = self.wait_for(ready)
        self.url = match.group(1) if match.groups() else ""
        return self

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """Wait until a logged line matches; fail with everything logged so far."""
        return self._wait(pattern, timeout, 0)[1]

    def wait_for_line(self, pattern: str, after: int = -1, timeout: float = 30.0) -> int:
        """Wait until a line logged after line `after` matches; its index (lines are in the
        order they were logged: what a line after another says happened after it)."""
        return self._wait(pattern, timeout, after + 1)[0]

    def _wait(self, pattern: str, timeout: float, seen: int) -> tuple[int, re.Match[str]]:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for index, line in enumerate(self.lines[seen:], seen):
                    if found := regex.search(line):
                        return index, found
                seen = len(self.lines)
                left = deadline - time.monotonic()
                assert self.proc is not None
                if left <= 0 or (self.proc.poll() is not None and seen == len(self.lines)):
                    log = "\n".join(self.lines)
                    raise AssertionError(f"daemon never logged {pattern!r}; it logged:\n{log}")
                self._changed.wait(min(left, 0.2))

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def wait(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        code = self.proc.wait(timeout)
        self._close()
        return code

    def kill(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(10)
            self._close()

    def _close(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        self._reader.join(10)
        self.proc.stderr.close()
