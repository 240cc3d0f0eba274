"""The handles every part of the daemon needs, passed down (never module globals).

`config` and `renderer` are swapped together on a reload (SIGHUP); everything else lives as
long as the process.
"""

from __future__ import annotations

from dataclasses import dataclass

from daemon.clock import Clock
from daemon.config import Config
from daemon.metrics import Metrics
from daemon.render import Renderer
from daemon.store import Store


@dataclass
class Services:
    config: Config
    renderer: Renderer
    store: Store
    clock: Clock
    metrics: Metrics
