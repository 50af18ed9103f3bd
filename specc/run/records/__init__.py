"""Run records (runs/<name>/<run id>/): the record, its files, finding and listing runs.

    record.py       RunRecord: create, open, read/update record.json, history, metrics
    fields.py       the fields of record.json, declared once
    files.py        atomic writes
    provenance.py   spec hash, git, package versions, host, times
    history.py      per-epoch rows and history.csv
    plots.py        curves.png
    lookup.py       find a run by id, prefix, NAME/latest or folder; list runs

No TensorFlow anywhere in this package.
"""
from specc.run.records.fields import FINAL_STATUSES, RECORD_FORMAT, STATUSES, RecordFields
from specc.run.records.files import atomic_write_bytes, atomic_write_json, atomic_write_text, json_safe
from specc.run.records.history import history_csv
from specc.run.records.lookup import find_run, list_runs, spec_values, summarize
from specc.run.records.plots import plot_curves
from specc.run.records.provenance import git_info, package_versions, spec_hash, timestamp
from specc.run.records.record import (CURVES, HISTORY_CSV, HISTORY_JSON, METRICS, RECORD, SPEC, SPEC_SOURCE, SPLITS,
                                      RunRecord)

__all__ = ["CURVES", "FINAL_STATUSES", "HISTORY_CSV", "HISTORY_JSON", "METRICS", "RECORD", "RECORD_FORMAT",
           "RunRecord", "RecordFields", "SPEC", "SPEC_SOURCE", "SPLITS", "STATUSES", "atomic_write_bytes",
           "atomic_write_json", "atomic_write_text", "find_run", "git_info", "history_csv", "json_safe",
           "list_runs", "package_versions", "plot_curves", "spec_hash", "spec_values", "summarize", "timestamp"]
