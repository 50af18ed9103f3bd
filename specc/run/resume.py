"""Resuming a run: what `--resume` continues from, the command that does it, and when a run
cannot be resumed (completed, or its data changed)."""
from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from specc.errors import DataError, UsageError
from specc.run.checkpoints import read_state
from specc.run.records import RunRecord

DEFAULT_RUNS_DIR = "runs"  # where runs go, and where `--resume` looks, unless told otherwise


def reopen(record: RunRecord, data_fingerprint: str, options: Any) -> dict:
    """The state to resume from ({}: no checkpoint was written, so the run starts again from
    its first epoch in the same folder); interrupted writes are finished or dropped first."""
    check_resumable(record, data_fingerprint)
    record.remove_temporaries(resuming=True)
    state = read_state(record.checkpoint_dir, record.run_id)
    if state is None:
        options.reporter.line(f"run {record.run_id} has no checkpoint: it starts again from its first "
                              "epoch, in the same folder")
        record.clear_history()
    record.update(status="running", finished=None)
    return state or {}


def resume_text(record: RunRecord) -> str:
    """What `--resume` will do: continue after the last checkpoint, or start again."""
    from specc.run.checkpoints import STATE

    from specc.run.trees import LAST

    command = f"`{resume_command(record)}`"
    if (record.checkpoint_dir / STATE).exists() or (record.checkpoint_dir / LAST).exists():
        return f"{command} continues from the last checkpoint"
    return f"no epoch was saved yet: {command} starts it again from the first epoch, in the same folder"


def resume_command(record: RunRecord) -> str:
    """The command that resumes a run, as a shell takes it: `--runs-dir` (quoted) is named
    whenever the run is not under the default runs/ folder, where `--resume` looks."""
    words = ["specc", "train", "--resume", record.run_id]
    runs_dir = Path(record.path).parent.parent
    if runs_dir.resolve() != Path(DEFAULT_RUNS_DIR).resolve():
        words += ["--runs-dir", str(runs_dir)]
    return shlex.join(words)


def check_resumable(record: RunRecord, data_fingerprint: str) -> None:
    """A completed run has nothing left to do; a run whose data changed cannot be continued."""
    data = record.read()
    if data.get("status") == "completed":
        raise UsageError(f"run {record.run_id} has completed; there is nothing to resume",
                         "to train longer, train the spec again with --set train.epochs=N")
    if data.get("data_fingerprint") not in (None, data_fingerprint):
        raise DataError(f"the data of run {record.run_id} changed since it started "
                        f"({data['data_fingerprint']} then, {data_fingerprint} now)",
                        "restore the data it was trained on, or train the spec again")
