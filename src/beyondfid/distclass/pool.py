"""Independent jobs in parallel processes (issue 14's replace/augment and semi-supervised runs).

Tiny networks on a 2-core CPU run faster as two single-thread processes than as one
two-thread process (``distclass.runner``'s reasoning). :func:`parallel_map` runs ``fn(*args)``
for every argument tuple in a pool of ``workers`` spawned processes with ``threads`` torch
threads each (in this process when ``workers == 1``), and returns the results in input order.
``fn`` must be a module-level function; every job must be deterministic on its own (seeded by
its arguments), so the order in which jobs finish does not matter.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence


def set_threads(threads: int) -> None:
    import torch

    if threads:
        torch.set_num_threads(threads)


def parallel_map(fn: Callable[..., Any], jobs: Sequence[tuple], *, workers: int = 1, threads: int = 1,
                 progress: bool = True, desc: str = "jobs") -> list[Any]:
    """``[fn(*job) for job in jobs]``, computed by ``workers`` processes of ``threads`` threads."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    from ..progress import progress_bar

    jobs = list(jobs)
    if workers <= 1 or len(jobs) <= 1:
        set_threads(threads)
        return [fn(*j) for j in progress_bar(jobs, desc=desc, disable=not progress or len(jobs) < 2)]
    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=mp.get_context("spawn"), initializer=set_threads,
                             initargs=(threads,)) as ex:
        futs = [ex.submit(fn, *j) for j in jobs]
        bar = progress_bar(total=len(futs), desc=desc, disable=not progress)
        out = []
        for f in futs:  # in input order; the pool works on all of them meanwhile
            out.append(f.result())
            bar.update(1)
        bar.close()
    return out
