"""Where the parts of a split analysis run: local processes, or a Dask cluster.

`--jobs N` runs them on N local processes of the standard library's pool: nothing to
install, and the tasks are two rounds of coarse, independent calls, all a pool does well.
`--scheduler ADDRESS` (or DASK_SCHEDULER_ADDRESS) sends the same tasks to a Dask cluster
(`pip install 'qbtrace[dask]'`): Dask's distributed scheduler ships plain Python tasks and
objects with no data-frame model to fit them into, and a `distributed.LocalCluster` runs it
on one machine for the tests. Each part is sent once (`Client.scatter`) and both rounds run
on it where it lies.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import repeat
from typing import TYPE_CHECKING, Any, TypeVar

from qbtrace.errors import QbtraceError
from qbtrace.model import Exchange, Finding
from qbtrace.passes import Engine, findings
from qbtrace.profile import Profile
from qbtrace.split import Part

if TYPE_CHECKING:  # the pool's module costs 23 ms of start-up; --jobs 1 never needs it
    from concurrent.futures import ProcessPoolExecutor

T = TypeVar("T")
R = TypeVar("R")
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
CONNECT = "5s"
"""How long to try reaching a Dask scheduler before saying it cannot be reached."""
PARTS_PER_JOB = 4
"""Parts per worker: components vary in size, so a few parts each even out the work."""


class EngineError(QbtraceError):
    slug = "engine"


@dataclass
class InProcess:
    """Every part in this process, one after another (tests, and `--jobs 1` of a split)."""

    profile: Profile | None = None

    def place(self, parts: Sequence[Part], profile: Profile) -> list[Any]:
        self.profile = profile
        return list(parts)

    def map(
        self, task: Callable[[Part, Profile, T], R], placed: Sequence[Any], args: Sequence[T]
    ) -> list[R]:
        assert self.profile is not None
        return [task(part, self.profile, arg) for part, arg in zip(placed, args, strict=True)]


@dataclass
class Pool(InProcess):
    """The parts on local processes (each task gets its part and the profile pickled)."""

    pool: ProcessPoolExecutor | None = None

    def map(
        self, task: Callable[[Part, Profile, T], R], placed: Sequence[Any], args: Sequence[T]
    ) -> list[R]:
        assert self.pool is not None
        return list(self.pool.map(task, placed, repeat(self.profile), args))


@dataclass
class Dask:
    """The parts on a Dask cluster, sent once and kept there for both rounds."""

    client: Any
    profile: Any = None
    kept: list[Any] = field(default_factory=list)

    def place(self, parts: Sequence[Part], profile: Profile) -> list[Any]:
        # hash=False: naming each part by a digest of its contents took 40 s for 20k requests
        self.profile = self.client.scatter(profile, broadcast=True, hash=False)
        self.kept = list(self.client.scatter(list(parts), hash=False))
        return self.kept

    def map(
        self, task: Callable[[Part, Profile, T], R], placed: Sequence[Any], args: Sequence[T]
    ) -> list[R]:
        n = len(placed)
        futures = self.client.map(task, placed, [self.profile] * n, list(args), pure=False)
        return list(self.client.gather(futures))


@contextlib.contextmanager
def engine_for(jobs: int, scheduler: str | None) -> Iterator[tuple[Engine, int]]:
    """The engine for `--jobs`/`--scheduler` and how many parts to split into."""
    address = scheduler or os.environ.get(SCHEDULER_ENV)
    if address:
        with _dask_client(address) as client:
            workers = max(len(client.scheduler_info().get("workers", {})), 1)
            yield Dask(client), max(jobs, workers) * PARTS_PER_JOB
        return
    if jobs <= 1:
        yield InProcess(), 1
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawned, not forked: a fork after polars has started its threads (a dataset's index
    # pass) hangs the child's first polars call, as in `parallel`
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        yield Pool(pool=pool), jobs * PARTS_PER_JOB


@contextlib.contextmanager
def _dask_client(address: str) -> Iterator[Any]:
    try:
        distributed: Any = importlib.import_module("distributed")  # the optional extra
    except ImportError:
        raise EngineError("--scheduler needs Dask: pip install 'qbtrace[dask]'") from None
    try:
        client = distributed.Client(address, timeout=CONNECT)
    except (OSError, TimeoutError) as exc:
        raise EngineError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    with client:
        yield client


def classifier(
    engine: Engine, parts: int
) -> Callable[[Sequence[Exchange], Profile], list[Finding]]:
    """`classify` of a timeline, split into `parts` parts run on `engine`."""
    return partial(findings, parts=parts, engine=engine)
