"""The owner's reward codes: a text file of codes, one a line, loaded into the pool that
`reward.kind = "pool"` pays rewards from (`vouch reward load FILE`, the dashboard's upload).

One reading of the file for both: blank lines and lines starting with # are skipped, each code
is trimmed; a file that is not UTF-8 text, a code with a control character or longer than
MAX_LENGTH is refused with its line number, and nothing is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

from daemon.engine.inputs import text_problem
from daemon.run.services import Services
from daemon.store.rewards import Rewards

MAX_LENGTH = 100
MAX_CODES = 100_000


class CodeFileError(ValueError):
    """The file cannot be loaded; `problems` are its lines' problems, "NAME line N: ..."."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Loaded:
    added: int  # new codes in the pool (a code loaded before is not added twice)
    in_file: int


def parse(data: bytes, name: str) -> list[str]:
    """The codes in a file's bytes, or CodeFileError naming `name` and each bad line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CodeFileError([f"{name}: not UTF-8 text (byte {exc.start + 1})"]) from None
    codes: list[str] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        code = line.strip()
        if not code or code.startswith("#"):
            continue
        if len(code) > MAX_LENGTH:
            problems.append(f"{name} line {number}: a code is at most {MAX_LENGTH} characters")
        elif problem := text_problem(code):
            problems.append(f"{name} line {number}: the code {problem}")
        else:
            codes.append(code)
    if not codes and not problems:
        problems.append(f"{name}: no codes in it (one code a line; # starts a comment)")
    if len(codes) > MAX_CODES:
        problems.append(f"{name}: {len(codes)} codes; load at most {MAX_CODES} at a time")
    if problems:
        raise CodeFileError(problems[:20])
    return codes


async def load(services: Services, codes: list[str]) -> Loaded:
    """Add the codes to the pool; rewards waiting for a code get one (issued, or awaiting the
    owner's approval when `reward.approval` holds them)."""
    store: Rewards = services.store
    state = "awaiting_approval" if services.config.settings.referrals.reward.approval else "issued"
    added = await store.load_reward_codes(codes, services.clock.now(), state)
    services.nudge()
    return Loaded(added, len(codes))
