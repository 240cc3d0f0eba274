"""The store and the process layout a bench runs on: shared by bench/load.py and bench/send.py.

The store. `--store` is `sqlite` (the default: the SQLite file in the bench's temp business, as
before) or a PostgreSQL server's URL (a role that may create databases, e.g. the tests' local
server, postgresql://vouch@127.0.0.1:54329/postgres). On PostgreSQL every run gets a database of
its own, created empty and dropped after (as tests/postgres.py does), so no run sees another's
rows.

The layout. `--web N --workers M` runs N `vouch run --role web` and M `vouch run --role worker
--instance worker-K` processes on that store; without them, one `vouch run` (role all), as
before. They are the real command (`python -m daemon run --config ...`), each a process of its
own; a web process's address is read from the line it logs when it listens. Stopped with
SIGTERM, as systemd does, and killed if one has not stopped within 20 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
SQLITE = "sqlite"
#: The one survey of the benches' business (surveys/purchase.toml): due at once.
SURVEY = """\
trigger = "purchase.completed"
delay_days = 0
question = "How likely are you to recommend {{ business.name }} to a friend or colleague?"
low_label = "Not at all likely"
high_label = "Extremely likely"
reminder_days = 4
expiry_days = 30
throttle_days = 90

[follow_up]
promoter = "Wonderful! What did we do best?"
passive = "Thank you. What would have made it a 10?"
detractor = "We are sorry we let you down. What went wrong?"
"""


def add_arguments(parser: argparse.ArgumentParser, *, workers_help: str | None = None) -> None:
    parser.add_argument(
        "--store",
        default=SQLITE,
        help="sqlite (default: a file in the temp business) or a PostgreSQL server's URL, "
        "on which each run creates a database of its own and drops it after",
    )
    parser.add_argument("--web", type=int, default=0, help="web processes (0: one role-all)")
    parser.add_argument(
        "--workers", type=int, default=0, help=workers_help or "worker processes (0: role all)"
    )
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=0,
        help="the workers' nice value (0; 10: the web process first, as systemd Nice=10)",
    )


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.store != SQLITE and not args.store.startswith(("postgresql://", "postgres://")):
        parser.error("--store: 'sqlite' or a postgresql:// URL")
    if not 0 <= args.web <= 8 or not 0 <= args.workers <= 16:
        parser.error("need 0 <= --web <= 8 and 0 <= --workers <= 16")
    if not 0 <= args.worker_nice <= 19:
        parser.error("need 0 <= --worker-nice <= 19")


def layout_name(store: str, web: int, workers: int, nice: int = 0) -> str:
    engine = "SQLite" if store == SQLITE else "PostgreSQL"
    if not web and not workers:
        return f"{engine}, one process (role all)"
    niced = f" (nice {nice})" if nice else ""
    return f"{engine}, {web} web + {workers} worker{'s' if workers != 1 else ''}{niced}"


# PostgreSQL databases -----------------------------------------------------------------------


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def admin(server: str, *statements: str) -> None:
    """Run statements on the server's own database (CREATE/DROP DATABASE: no transaction), on
    a thread of its own, so a bench's running event loop may call it too."""
    import asyncpg

    async def run() -> None:
        connection = await asyncpg.connect(server)
        try:
            for sql in statements:
                await connection.execute(sql)
        finally:
            await connection.close()

    failed: list[BaseException] = []

    def thread() -> None:
        try:
            asyncio.run(run())
        except BaseException as exc:
            failed.append(exc)

    worker = threading.Thread(target=thread)
    worker.start()
    worker.join()
    if failed:
        raise failed[0]


@contextlib.contextmanager
def fresh_database(server: str, template: str | None = None) -> Iterator[str]:
    """The URL of a new database on `server` (empty, or a copy of `template`), dropped after."""
    name = f"vouch_bench_{secrets.token_hex(6)}"
    copy = f' TEMPLATE "{template}"' if template else ""
    admin(server, f'CREATE DATABASE "{name}"{copy}')
    try:
        yield with_database(server, name)
    finally:
        admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_of(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def store_table(url: str | None) -> dict[str, Any]:
    """The config's [store] table: the SQLite file in the business, or the database."""
    return {"url": url} if url else {"path": "var/vouch.sqlite3"}


# The processes ------------------------------------------------------------------------------


class VouchProcess:
    """One `vouch run` as a subprocess; its log (stderr) is read by a thread and kept."""

    def __init__(
        self, config: Path, environ: Mapping[str, str], args: tuple[str, ...], nice: int = 0
    ) -> None:
        """nice: a lower CPU priority (as systemd's Nice=), for workers beside a web process."""
        self.args = args
        niced = ["nice", "-n", str(nice)] if nice else []  # nice execs: the pid is vouch's
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self.proc = subprocess.Popen(
            [*niced, sys.executable, "-m", "daemon", "run", "--config", str(config), *args],
            cwd=REPO,
            env={**os.environ, **environ},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        regex, deadline, seen = re.compile(pattern), time.monotonic() + timeout, 0
        with self._changed:
            while True:
                for line in self.lines[seen:]:
                    if found := regex.search(line):
                        return found
                seen = len(self.lines)
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    log = "\n".join(self.lines[-30:])
                    raise RuntimeError(
                        f"vouch run {' '.join(self.args)} never logged {pattern!r}:\n{log}"
                    )
                self._changed.wait(0.2)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Layout:
    """The running processes: `web` serve HTTP (one role-all process is in both lists)."""

    web: list[VouchProcess]
    workers: list[VouchProcess]
    ports: list[int]

    @property
    def processes(self) -> list[VouchProcess]:
        return list(dict.fromkeys([*self.web, *self.workers]))

    def stop(self) -> None:
        for process in self.web:  # no new events first, then the workers finish their mail
            process.stop()
        for process in self.workers:
            process.stop()


LISTENING = r"listening on http://[\d.]+:(\d+)"
WORKING = r"role worker: scheduling and sending"


def start(
    config: Path, environ: Mapping[str, str], web: int, workers: int, nice: int = 0
) -> Layout:
    """Start the layout and wait until every process is ready (web ones listening)."""
    started: list[VouchProcess] = []
    try:
        if not web and not workers:
            one = VouchProcess(config, environ, ())
            started.append(one)
            port = int(one.wait_for(LISTENING).group(1))
            return Layout([one], [one], [port])
        webs = [
            VouchProcess(config, environ, ("--role", "web", "--instance", f"web-{n}"))
            for n in range(1, web + 1)
        ]
        started += webs
        ports = [int(p.wait_for(LISTENING).group(1)) for p in webs]
        # one at a time: the first migrates a new database; the others find it done
        crew = []
        for n in range(1, workers + 1):
            crew.append(
                VouchProcess(
                    config, environ, ("--role", "worker", "--instance", f"worker-{n}"), nice
                )
            )
            started.append(crew[-1])
            crew[-1].wait_for(WORKING)
        return Layout(webs, crew, ports)
    except BaseException:
        for process in started:
            process.stop()
        raise


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def load_line(when: str) -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average at {when}: {one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min)"


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) a process has used so far; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def backends(url: str | None) -> list[int]:
    """The PostgreSQL server processes serving this database now (none for SQLite)."""
    if not url:
        return []
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
    return [int(r[0]) for r in rows]


class CpuMeter:
    """CPU seconds each process used between `start` and `stop`; the database's server
    processes summed as one ("PostgreSQL"), counting those that started meanwhile whole."""

    def __init__(self, processes: dict[str, int], url: str | None) -> None:
        self.processes = processes
        self.url = url
        self.before: dict[int, float] = {}
        self.used: dict[str, float] = {}

    async def start(self) -> None:
        pids = [*self.processes.values(), *await backends(self.url)]
        self.before = {pid: cpu_seconds(pid) for pid in pids}

    async def stop(self) -> dict[str, float]:
        for name, pid in self.processes.items():
            self.used[name] = cpu_seconds(pid) - self.before.get(pid, 0.0)
        if self.url:
            pids = set(await backends(self.url)) | (set(self.before) - set(self.processes.values()))
            self.used["PostgreSQL"] = sum(
                max(0.0, cpu_seconds(pid) - self.before.get(pid, 0.0)) for pid in pids
            )
        return self.used
