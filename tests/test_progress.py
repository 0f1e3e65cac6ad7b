"""Progress output stays readable when stderr is not a terminal (issue 16)."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import time

import pytest

from beyondfid.progress import LineWriter, log_interval, progress_bar

ETA_LINE = re.compile(r"^job: +\d+%\|[# 0-9]*\| (\d+)/10 \[\d\d:\d\d<(\d\d:\d\d|\?), .*(it|step)/s\]$")


def test_not_a_terminal_gives_whole_lines_with_eta_at_most_every_interval():
    buf = io.StringIO()  # not a tty
    bar = progress_bar(total=10, desc="job", file=buf, interval=0.2)
    t0 = time.perf_counter()
    for _ in range(10):
        time.sleep(0.05)
        bar.update(1)
    bar.close()
    elapsed = time.perf_counter() - t0
    out = buf.getvalue()
    assert "\r" not in out and out.endswith("\n")
    lines = out.splitlines()
    assert all(ETA_LINE.match(line) for line in lines), lines
    counts = [int(ETA_LINE.match(line).group(1)) for line in lines]
    assert counts[0] == 0 and counts[-1] == 10 and counts == sorted(set(counts))  # first, final, no repeats
    assert len(lines) <= 2 + elapsed / 0.2 + 1  # one line per interval, not per update
    assert any(ETA_LINE.match(line).group(2) != "?" for line in lines[1:])  # an ETA once the rate is known


def test_line_writer_drops_tqdm_clearing_and_repeated_counts():
    buf = io.StringIO()
    w = LineWriter(buf)
    w.write("\ra: 10%| 1/10 [00:01<00:09]   ")
    w.write("\r")
    w.write("\n")
    w.write("\ra: 10%| 1/10 [00:02<00:18]")  # a refresh without progress
    w.write("\ra: 20%| 2/10 [00:02<00:08]")
    assert buf.getvalue() == "a: 10%| 1/10 [00:01<00:09]\na: 20%| 2/10 [00:02<00:08]\n"


def test_interval_from_the_environment(monkeypatch):
    monkeypatch.setenv("BEYONDFID_PROGRESS_INTERVAL", "7.5")
    assert log_interval() == 7.5
    monkeypatch.setenv("BEYONDFID_PROGRESS_INTERVAL", "soon")
    with pytest.raises(ValueError, match="BEYONDFID_PROGRESS_INTERVAL"):
        log_interval()


def test_a_training_run_reports_progress_in_a_log(tmp_path, one_thread):
    """fit() through a subprocess whose stderr is a pipe, as under DVC with redirected output."""
    code = (
        "import torch, time\n"
        "from beyondfid.zoo.training import fit\n"
        "m = torch.nn.Linear(2, 1); o = torch.optim.SGD(m.parameters(), lr=0.1)\n"
        "def step(s, g):\n"
        "    time.sleep(0.02); return {'loss': 1.0 / (s + 1)}\n"
        f"fit(step, {{'m': m}}, {{'o': o}}, n_steps=10, ckpt_path=r'{tmp_path / 'c.pt'}', seed=0, desc='job')\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**__import__("os").environ, "BEYONDFID_PROGRESS_INTERVAL": "0.05"})
    assert p.returncode == 0, p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("job:")]
    assert "\r" not in p.stderr and len(lines) >= 2
    assert lines[-1].split("|")[-1].strip().startswith("10/10")
