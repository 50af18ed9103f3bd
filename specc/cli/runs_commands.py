"""`specc runs list|show|compare`: look at past runs. No TensorFlow, no matplotlib: fast."""
from __future__ import annotations

import json
import shlex
from datetime import datetime, timezone
from typing import Any, Optional

import click

from specc.cli.group import SpeccGroup, main
from specc.errors import UsageError
from specc.run.records.fields import STATUSES
from specc.shown import printable

RUNS_DIR_HELP = "Folder holding the runs (default: runs)."


def echo(text: str, **kwargs: Any) -> None:
    """Print text made of what run folders hold (a received one's record.json included),
    without the control characters it may carry (specc/shown.py)."""
    click.echo(printable(text), **kwargs)


def runs_dir_option(func: Any) -> Any:
    return click.option("--runs-dir", default="runs", show_default=True, metavar="DIR",
                        type=click.Path(file_okay=False), help=RUNS_DIR_HELP)(func)


@main.group(cls=SpeccGroup)
def runs() -> None:
    """List, inspect, compare and export training runs (runs/<name>/<run id>/).

    \b
    RUN is a run folder, a run id, a unique prefix of one, NAME/ID,
    or NAME (same as NAME/latest: the newest run of that spec).
    """


@runs.command("list")
@runs_dir_option
@click.option("--name", help="Only the runs of this spec name.")
@click.option("--status", type=click.Choice(STATUSES), help="Only the runs with this status.")
@click.option("--sweep", metavar="ID", help="Only the trials of this sweep (its name, as `specc sweep` prints it).")
@click.option("--columns", "columns_text", metavar="PATH,...",
              help="Spec values to show as columns, --set paths separated by commas: "
                   "optimizer.adam.learning_rate,model.layers[0].dense.units.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              help="json: a list of objects (for scripts).")
def list_command(runs_dir: str, name: Optional[str], status: Optional[str], sweep: Optional[str],
                 columns_text: Optional[str], fmt: str) -> None:
    """The runs, newest first: id, spec name, status, start time, epochs, best and test metrics
    (and a sweep's trial, and the spec values --columns asks for)."""
    from specc.run.records import list_runs, spec_values

    paths = [p.strip() for p in (columns_text or "").split(",") if p.strip()]
    _check_columns(paths)
    rows = list_runs(runs_dir, name=name, status=status, sweep=sweep)
    for row in rows:
        row["columns"] = spec_values(row["path"], paths) if paths else {}
    if fmt == "json":
        echo(json.dumps(rows, indent=2))
        return
    if not rows:
        where = f"{runs_dir.rstrip('/')}/" + (f"{name}/" if name else "")
        chosen = ", ".join(f"{k} {v}" for k, v in (("status", status), ("sweep", sweep)) if v)
        echo(f"no runs under {where}" + (f" with {chosen}" if chosen else ""), err=True)
        return
    trials = any(r["sweep"] for r in rows)
    header = ["RUN", "NAME", "STATUS", "CREATED", "EPOCHS", *(["SWEEP"] if trials else []), *paths, "BEST", "TEST"]
    lines = [[r["id"], r["name"], _status(r), _when(r["created"]), _text(r["epochs"]),
              *([_trial(r["sweep"])] if trials else []), *[_spec_value(r["columns"][p]) for p in paths],
              _best(r["best"]), _metrics_text(r["test"])] for r in rows]
    for line in columns(lines, header):
        echo(line)
    for row in rows:
        if row["damaged"]:
            echo(f"warning: run {row['id']} is damaged ({row['damaged']}); `specc runs show` refuses it",
                 err=True)


@runs.command()
@click.argument("run")
@runs_dir_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              help="json: {record, metrics, files} (for scripts).")
def show(run: str, runs_dir: str, fmt: str) -> None:
    """One run: its record, final metrics, and where its files are."""
    from specc.run.compare import phases_text, sources_text
    from specc.run.records import find_run

    record = find_run(run, runs_dir)
    data, metrics, files = record.read(), record.metrics(), record.files()
    if fmt == "json":
        echo(json.dumps({"path": str(record.path), "record": data, "metrics": metrics,
                               "files": {k: str(v) for k, v in files.items()}}, indent=2))
        return
    best = data.get("best") or {}
    git = data.get("git") or {}
    packages = data.get("packages") or {}
    device = data.get("device") or {}
    fields = [
        ("run", f"{data.get('name')}/{data.get('run_id')}"),
        ("status", data.get("status")),
        ("message", data.get("message")),
        ("created", _when(data.get("created"))),
        ("finished", _when(data.get("finished"))),
        ("duration", _duration(data.get("created"), data.get("finished"))),
        ("spec file", data.get("spec_file")),
        ("spec hash", data.get("spec_hash")),
        ("overrides", " ".join(f"--set {shlex.quote(o)}" for o in data.get("overrides") or []) or None),
        ("sweep", _sweep_text(data.get("sweep"))),
        ("data", data.get("data_fingerprint")),
        ("git", _git(git)),
        ("seed", data.get("seed")),
        ("device", ", ".join(f"{k}={v}" for k, v in device.items()) if device else None),
        ("packages", ", ".join(f"{k} {v}" for k, v in packages.items() if v)),
        ("weights", sources_text(data.get("weight_sources")) if data.get("weight_sources") else None),
        ("epochs", data.get("epochs_completed")),
        ("phases", phases_text(data.get("phases"))),
        ("best", _best(best) if best.get("value") is not None else None),
        ("exports", ", ".join(_export_text(e) for e in data.get("exports") or []) or None),
        ("warnings", "; ".join(data.get("warnings") or []) or None),
    ]
    width = max(len(k) for k, _ in fields)
    for key, value in fields:
        if value not in (None, ""):
            echo(f"{key.ljust(width)}  {value}")
    if metrics:
        echo("")
        echo("metrics:")
        names = list(dict.fromkeys(n for split in metrics.values() for n in (split or {})))
        splits = list(metrics)
        rows = [[n] + [_number((metrics[s] or {}).get(n)) for s in splits] for n in names]
        for line in columns(rows, ["metric"] + splits, indent="  "):
            echo(line)
    echo("")
    echo(f"files: {record.path}/")
    for label, path in files.items():
        echo(f"  {label}{'/' if path.is_dir() else ''}")


@runs.command()
@click.argument("run_a", metavar="RUN")
@click.argument("run_b", metavar="RUN")
@runs_dir_option
def compare(run_a: str, run_b: str, runs_dir: str) -> None:
    """What changed from the first run to the second: spec, data, git, metrics."""
    from specc.run.compare import compare as compare_runs
    from specc.run.records import find_run

    a, b = find_run(run_a, runs_dir), find_run(run_b, runs_dir)
    echo(compare_runs(a, b), nl=False)


@runs.command("export")
@click.argument("refs", metavar="RUN...", nargs=-1)
@runs_dir_option
@click.option("--sweep", metavar="ID", help="Also every trial of this sweep.")
@click.option("--mlflow", "tracking_uri", required=True, metavar="URI",
              help="The MLflow tracking store: sqlite:///mlflow.db, http://host:5000, ... (pip install 'specc[mlflow]').")
@click.option("--experiment", help="The MLflow experiment (default: each run's spec name).")
def export_command(refs: tuple, runs_dir: str, sweep: Optional[str], tracking_uri: str,
                   experiment: Optional[str]) -> None:
    """Write runs to MLflow: params from the resolved spec, per-epoch metrics, tags (spec hash,
    git commit, data fingerprint), the run folder as artifacts."""
    from specc.errors import UsageError
    from specc.run.mlflow_export import export_runs
    from specc.run.records import RunRecord, find_run, list_runs

    records = [find_run(ref, runs_dir) for ref in refs]
    if sweep:
        trials = list_runs(runs_dir, sweep=sweep)
        if not trials:
            raise UsageError(f"no trials of the sweep '{sweep}' under {runs_dir}", "`specc runs list` shows the runs")
        records += [RunRecord.open(row["path"]) for row in reversed(trials)]
    if not records:
        raise UsageError("name the runs to export (RUN..., or --sweep ID)")
    for done in export_runs(list({r.path: r for r in records}.values()), tracking_uri, experiment):
        verb = "already in" if done.skipped else "exported to"
        echo(f"{done.run_id}: {verb} MLflow run {done.mlflow_run_id} (experiment {done.experiment})")


# --- formatting ----------------------------------------------------------------------------

def _check_columns(paths: list) -> None:
    """Each --columns path must be a setting of the spec language (as for --set).

    Raises:
        UsageError: It is not (with "did you mean").
    """
    from specc.load.overrides import override_allowed, path_parts

    for dotted in paths:
        problem = override_allowed(tuple(int(p) if p.isdigit() else p for p in path_parts(dotted, dotted)))
        if problem:
            raise UsageError(problem.replace("--set:", f"--columns {dotted}:", 1),
                             "give the paths as --set takes them: optimizer.adam.learning_rate,"
                             "model.layers[0].dense.units")


def columns(rows: list, header: list, indent: str = "") -> list:
    """Plain aligned columns, left aligned, two spaces apart."""
    rows = [header] + [[_text(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return [(indent + "  ".join(c.ljust(widths[i]) for i, c in enumerate(row))).rstrip()
            for row in rows]


def _text(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _status(row: dict) -> str:
    return "running?" if row.get("stale") else _text(row.get("status"))


def _parse_time(text: Optional[str]) -> Optional[datetime]:
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def _when(text: Optional[str]) -> Optional[str]:
    """`2026-11-21 23:58:00Z` (UTC, to the second)."""
    moment = _parse_time(text)
    if moment is None:
        return text
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def _duration(start: Optional[str], end: Optional[str]) -> Optional[str]:
    a, b = _parse_time(start), _parse_time(end)
    if a is None or b is None:
        return None
    seconds = int(round((b - a).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"


def _best(best: Optional[dict]) -> Optional[str]:
    if not best or best.get("value") is None:
        return None
    return f"{best.get('monitor')}={_number(best.get('value'))}@{best.get('epoch')}"


def _trial(sweep: Any) -> Optional[str]:
    """`mlp-wine-sweep#7` (a sweep's id and the trial number), `...#7 fold 2`, `...#7 refit`."""
    return f"{sweep.get('id')}#{sweep.get('trial')}{_part(sweep)}" if isinstance(sweep, dict) else None


def _part(sweep: dict) -> str:
    """Which run of a trial: one of its folds (sweep.folds), or the refit of its values."""
    if sweep.get("refit"):
        return " refit"
    return f" fold {sweep['fold']}" if sweep.get("fold") is not None else ""


def _sweep_text(sweep: Any) -> Optional[str]:
    if not isinstance(sweep, dict):
        return None
    again = f", continuing trial {sweep['retry_of']}" if sweep.get("retry_of") is not None else ""
    values = " ".join(f"{k}={_spec_value(v)}" for k, v in (sweep.get("values") or {}).items())
    return f"trial {sweep.get('trial')}{_part(sweep)} of {sweep.get('id')}{again}: {values}"


def _spec_value(value: Any) -> str:
    """A spec value in a table cell: numbers to 4 digits, mappings and lists as compact JSON."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return _number(value) if value is not None else "-"


def _metrics_text(metrics: Optional[dict]) -> Optional[str]:
    if not metrics:
        return None
    return " ".join(f"{k}={_number(v)}" for k, v in metrics.items())


def _git(git: dict) -> Optional[str]:
    if not git.get("root"):
        return "not in a git repository"
    commit = (git.get("commit") or "no commit")[:12]
    return f"{commit}{' (dirty)' if git.get('dirty') else ''} in {git.get('root')}"


def _export_text(export: Any) -> str:
    if isinstance(export, dict):
        return str(export.get("format") or export.get("path") or export)
    return str(export)
