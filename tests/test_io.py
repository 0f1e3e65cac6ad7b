"""Atomic writes: a killed writer leaves no junk that DVC would commit (issue 10, case 8)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from beyondfid.io import load_npz, save_npz

# A writer that is SIGKILLed in the middle of an atomic .npz write: np.savez has written part
# of the temporary file when the process dies.
_KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from beyondfid import io

    def slow_savez(fh, **arrays):
        fh.write(b"PK\\x03\\x04 half an npz")
        fh.flush()
        print("writing", flush=True)
        time.sleep(60)

    np.savez = slow_savez
    io.save_npz(sys.argv[1], x=np.zeros(3))
    """
)


def _start_writer(target: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    p = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(target)], stdout=subprocess.PIPE, env=env,
                         text=True)
    assert p.stdout.readline().strip() == "writing"
    return p


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_temp_file_of_a_killed_write_is_removed_by_the_next_write(tmp_path):
    out = tmp_path / "features"
    p = _start_writer(out / "a.npz")
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert len(_hidden(out)) == 1  # the killed writer's temp file is left behind ...
    save_npz(out / "b.npz", y=np.ones(2))
    assert _hidden(out) == []  # ... and the next atomic write into the folder removes it
    assert sorted(p.name for p in out.iterdir()) == ["b.npz"]
    assert np.array_equal(load_npz(out / "b.npz")["y"], np.ones(2))


def test_a_live_writers_temp_file_is_left_alone(tmp_path):
    out = tmp_path / "features"
    p = _start_writer(out / "a.npz")
    try:
        save_npz(out / "b.npz", y=np.ones(2))
        assert len(_hidden(out)) == 1  # still being written by a running process
    finally:
        p.kill()
        p.wait()


def test_feature_stage_sweeps_stale_temps_in_its_output_tree(tmp_path):
    """Temps of a killed run deep in the output tree (e.g. in a .parts folder) go at the next stage run."""
    from beyondfid.io import remove_stale_temps

    parts = tmp_path / "features" / "k.parts"
    p = _start_writer(parts / "part_00003.npz")
    p.send_signal(signal.SIGKILL)
    p.wait()
    time.sleep(0.01)
    assert len(_hidden(parts)) == 1
    removed = remove_stale_temps(tmp_path / "features")
    assert [r.parent for r in removed] == [parts] and _hidden(parts) == []


@pytest.mark.parametrize("kind", ["json", "text"])
def test_other_atomic_writes_leave_no_temp(tmp_path, kind):
    from beyondfid.io import save_json, save_text

    (save_json if kind == "json" else save_text)(tmp_path / "x", {"a": 1} if kind == "json" else "a")
    assert _hidden(tmp_path) == []
