"""Execute a jupytext percent-format notebook with papermill (kernel ``python3``).

DVC stages run the same thing from the shell::

    jupytext --to ipynb -o - notebooks/NAME.py | papermill -k python3 - OUT.ipynb -p profile PROFILE

Only string parameters are passed (the profile name, paths); everything typed is read
from ``params.yaml`` by :func:`beyondfid.config.load_config` inside the notebook, which
avoids papermill turning DVC's ``true`` into the string ``"true"``.
"""

from __future__ import annotations

from pathlib import Path


def run_notebook(src: str | Path, out: str | Path, parameters: dict[str, str], cwd: str | Path = ".",
                 timeout: int = 1800) -> Path:
    import jupytext
    import papermill

    nb = jupytext.read(str(src))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(nb, str(out), parameters=parameters, kernel_name="python3", cwd=str(cwd),
                               progress_bar=False, execution_timeout=timeout)
    return out
