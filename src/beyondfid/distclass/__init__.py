"""Paper 3: distribution classification (are images indistinguishable to humans also to classifiers?).

The stable API (see /work/wt/API_distclass.md and the README's module map):

* :mod:`.pixels` -- the one pixel path (:func:`load_pool`, :class:`PixelPath`);
* :mod:`.task` -- tasks of K balanced distributions with disjoint train/val (:class:`TaskSpec`,
  :class:`PoolRef`, :func:`make_task`, :func:`build_task`);
* :mod:`.models` -- the timm classifiers scaled to 28 px (:func:`build_classifier`);
* :mod:`.train` -- :func:`train_and_evaluate` / :func:`train_task` -> :class:`RunResult`;
* :mod:`.significance` -- binomial interval, p-value vs chance, :class:`AccuracyRecord`;
* :mod:`.runs` -- cached, resumable runs executed by a local pool or under torchrun.
"""

from .significance import AccuracyRecord, accuracy_record, binomial_ci, mean_std, p_value_vs_chance
from .task import PoolRef, Task, TaskSpec, build_task, halves, make_task, task_spec
from .pixels import PixelPath, load_pool, pixel_path
from .train import RunResult, train_and_evaluate, train_task

__all__ = [
    "AccuracyRecord", "accuracy_record", "binomial_ci", "mean_std", "p_value_vs_chance",
    "PoolRef", "Task", "TaskSpec", "build_task", "halves", "make_task", "task_spec",
    "PixelPath", "load_pool", "pixel_path", "RunResult", "train_and_evaluate", "train_task",
]
