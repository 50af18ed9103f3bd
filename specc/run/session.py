"""Open a finished (or interrupted) run: its resolved spec, its data and its checkpoints."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import yaml

from specc.errors import DataError, UsageError
from specc.registries import DATA_SOURCES
from specc.report import SILENT, Reporter
from specc.run.records import RunRecord, find_run
from specc.tasks.trees import is_trees

if TYPE_CHECKING:
    from specc.data.table import Table
    from specc.paradigms.base import Paradigm


@dataclass
class OpenRun:
    """A run folder opened for evaluation, prediction, export or resuming."""

    record: RunRecord
    resolved: dict
    spec_file: str
    trust_plugins: bool = False

    @property
    def spec_dir(self) -> Path:
        return Path(self.spec_file).resolve().parent

    @property
    def paradigm(self) -> Paradigm:
        from specc.paradigms import paradigm_of

        return paradigm_of(self.resolved)

    def checkpoint(self, which: str) -> Path:
        """The checkpoint file `best` or `last`. What "best" is, is the paradigm's rule: the
        best monitored epoch, or (a GAN) the last one."""
        from specc.paradigms import declaration_of

        if which == "best" and declaration_of(self.resolved).best == "last":
            which = "last"
        suffix = ".ubj" if is_trees(self.resolved) else ".keras"  # a trees run keeps boosters
        path = Path(self.record.checkpoint_dir) / f"{which}{suffix}"
        if which == "best" and not path.exists():
            path = Path(self.record.checkpoint_dir) / f"last{suffix}"
        if not path.exists():
            raise UsageError(f"run {self.record.run_id} has no {which} checkpoint",
                             "it stopped before its first epoch ended; train it again")
        return path

    def checkpoint_text(self, which: str) -> str:
        """Which run and checkpoint a command uses, e.g. "using run 20261201-042356-22d8
        (checkpoint best.keras, epoch 12)": NAME/latest moves with every new run."""
        path = self.checkpoint(which)
        record = self.record.read()
        epoch = (record.get("best") or {}).get("epoch") if path.stem == "best" \
            else record.get("epochs_completed")
        return f"using run {self.record.run_id} (checkpoint {path.name}" + (f", epoch {epoch})" if epoch else ")")

    def load_model(self, which: str = "best") -> Any:
        """The Keras model of a checkpoint, with its paradigm and the spec's plugins imported
        first (they register the classes the file names)."""
        from specc.compile import load_plugins

        if is_trees(self.resolved):
            from specc.paradigms.trees import TreesModel

            return TreesModel.load(self.checkpoint(which))
        self.paradigm  # noqa: B018  (imports the paradigm's model classes)
        self.check_plugins()
        load_plugins(self.resolved.get("plugins", []), self.spec_dir)
        return load_checkpoint(self.checkpoint(which), self.record.run_id)

    def check_plugins(self) -> None:
        """A run's plugins are Python modules imported from its spec's folder: a run folder
        received from elsewhere could run any code that way, so it takes the user's consent.

        Raises:
            UsageError: The spec lists plugins and `trust_plugins` is off.
        """
        # specc's own plugin modules (specc.compile.text_layers) come from the installed
        # package, already imported, never from the spec's folder: nothing to consent to
        plugins = [name for name in self.resolved.get("plugins") or [] if not str(name).startswith("specc.")]
        if plugins and not self.trust_plugins:
            raise UsageError(f"run {self.record.run_id} imports Python modules as plugins ({', '.join(plugins)}) "
                             f"from {self.spec_dir}: importing them runs their code",
                             "if you trust where this run and its spec came from, pass --trust-plugins")

    def check_spec_folder(self) -> None:
        """The relative paths of the run's spec (data files, vocabularies) are read against
        the folder of the spec file record.json names, which a received run folder chooses:
        each must lie inside the project holding the run (`run_project`).

        Raises:
            UsageError: A relative path that would be read from outside it.
        """
        from specc.checks.paths import spec_paths
        from specc.project import inside, resolve_path

        projects = run_projects(self.record.path)
        for where, value in spec_paths(self.resolved):
            if not isinstance(value, str) or Path(os.path.expanduser(value)).is_absolute():
                continue
            target = resolve_path(value, self.spec_dir)
            if not any(inside(target, project) for project in projects):
                raise UsageError(f"run {self.record.run_id}: its spec's {'.'.join(map(str, where))}: {value} would "
                                 f"be read as {target}, outside the project holding the run ({projects[0]}) and "
                                 f"the git repository you work in: {self.record.path / 'record.json'} names the "
                                 f"spec file {self.spec_file}",
                                 "if the run is yours, run the command from the spec's git repository, or keep "
                                 "the runs folder beside the spec; else do not use it")

    def context(self, splits: Any, options: Optional[dict] = None, runs_dir: Optional[str] = None) -> Any:
        """What the run's paradigm evaluates and predicts with: the spec, the training and
        validation splits (when loaded), what it kept after training, the command line's
        options, the run's record, and a way to open other runs (in `runs_dir`, or by path;
        with this run's consent to plugins)."""
        from specc.paradigms.base import Context

        record = self.record.read()
        return Context(self.resolved, train=getattr(splits, "train", None),
                       validation=getattr(splits, "validation", None),
                       state=record.get("paradigm") or {}, options=dict(options or {}), record=record,
                       open_run=lambda ref: open_run(ref, runs_dir, self.trust_plugins))

    def columns(self) -> dict:
        """The columns the run's model reads, by name (specc/run/columns.py).

        Raises:
            DataError: The run's training data had no column names.
        """
        from specc.run.columns import run_columns

        return run_columns(self.record.read(), self.resolved, self.spec_dir, self.record.run_id)


def open_run(ref: str, runs_dir: Optional[str] = None, trust_plugins: bool = False) -> OpenRun:
    """Find a run by id, prefix, NAME/latest or path, and read its resolved spec.

    A run whose spec imports plugins (Python code) is opened only with `trust_plugins`.

    Stale temporary files of writes a killed process left in the run folder are removed, and
    a checkpoint a kill interrupted is finished or dropped (never in a run that says it is
    running: another process may be writing it).
    """
    from specc.run.checkpoints import recover

    record = find_run(ref, runs_dir or "runs")
    record.remove_temporaries()
    if record.read().get("status") != "running":
        recover(record.checkpoint_dir)
    resolved = _read_spec(record)
    named = record.read().get("spec_file")
    # specc records it absolute; a relative one would be read against the current folder
    spec_file = named if isinstance(named, str) and Path(named).is_absolute() else str(Path(record.path) / "spec.yaml")
    opened = OpenRun(record, resolved, spec_file, trust_plugins)
    opened.check_plugins()  # before anything else of the run is read or run
    opened.check_spec_folder()
    return opened


def run_projects(path: Path) -> list[Path]:
    """Where a run's spec may read from: the git repository holding the run folder, else the
    folder holding its runs folder (runs/<name>/<id>: where specc ran, by default the spec's);
    and the git repository of the current folder (the user's own project, where the run was
    trained from with --runs-dir elsewhere)."""
    from specc.project import git_root

    folder = Path(path).resolve()
    roots = [git_root(str(folder)) or (folder.parents[2] if len(folder.parents) > 2 else folder)]
    here = git_root(os.getcwd())
    return roots + ([here] if here is not None and here not in roots else [])


def _read_spec(record: RunRecord) -> dict:
    resolved = record.spec()  # read as strictly as a spec file (no repeated key, no tag)
    if not resolved:
        raise UsageError(f"run {record.run_id}: it has no spec.yaml (the spec it ran)",
                         "restore the run folder from a copy")
    return resolved


def load_checkpoint(path: Path, run_id: str) -> Any:
    """A checkpoint, in Keras's safe mode (a Lambda layer's code is never run); a damaged or
    truncated file is an error that names it.

    Raises:
        UsageError: The file cannot be read, or it holds code safe mode refuses.
    """
    import keras

    try:
        return keras.saving.load_model(path)
    except ValueError as exc:
        if "safe_mode" in str(exc) or "unsafe" in str(exc).lower():
            raise UsageError(f"run {run_id}: {path} holds Python code (e.g. a Lambda layer); specc loads "
                             "checkpoints in Keras's safe mode and does not run it",
                             "rebuild the model from its spec without code in it") from None
        raise UsageError(f"run {run_id}: {path} cannot be read: {_first_line(exc)}",
                         "it is damaged or truncated; restore it from a copy, or train again") from None
    except (OSError, EOFError, KeyError) as exc:
        raise UsageError(f"run {run_id}: {path} cannot be read: {_first_line(exc)}",
                         "it is damaged or truncated; restore it from a copy, or train again") from None
    except TypeError as exc:
        if "deserializ" not in str(exc) and "locate" not in str(exc):
            raise
        # Keras's config names a class or function it cannot find (an edited config.json, a
        # plugin that is gone): its innermost reason names it.
        raise UsageError(f"run {run_id}: {path} cannot be read: {_innermost(exc)}",
                         "the checkpoint names a layer or function neither Keras nor the spec's plugins "
                         "define; restore it from a copy, or train again") from None
    except Exception as exc:  # noqa: BLE001 - zipfile, h5py and Keras raise many kinds
        if type(exc).__name__ in ("BadZipFile", "LargeZipFile"):
            raise UsageError(f"run {run_id}: {path} is not a complete .keras file ({_first_line(exc)})",
                             "it is damaged or truncated; restore it from a copy, or train again") from None
        raise


def _first_line(error: BaseException) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {_printable(lines[0][:200]) if lines else ''}"


def _innermost(error: BaseException) -> str:
    """The last 'Exception encountered: ...' of Keras's nested deserialization message."""
    reasons = [line.split(":", 1)[1].strip() for line in str(error).splitlines()
               if line.startswith("Exception encountered:")]
    return _printable(reasons[-1][:200]) if reasons else _first_line(error)


def _printable(text: str) -> str:
    """What a message may quote of a file's text: control characters become '?'."""
    return "".join(c if c.isprintable() else "?" for c in text)


def parse_source(text: str) -> dict:
    """`--data`: a YAML source mapping, inline or in a file."""
    path = Path(text)
    if path.suffix in (".yaml", ".yml", ".json") and path.is_file():
        text = path.read_text(encoding="utf-8")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"--data is not valid YAML: {exc}".splitlines()[0]) from None
    if not isinstance(value, dict) or len(value) != 1:
        raise UsageError("--data takes one source mapping, e.g. '{csv: {path: new.csv, label: y}}'",
                         f"the forms are those of data.source: {', '.join(DATA_SOURCES.names())}")
    return value


def evaluate_run(ref: str, split: str = "test", source: Optional[str] = None,
                 checkpoint: str = "best", runs_dir: Optional[str] = None, trust_plugins: bool = False,
                 options: Optional[dict] = None, reporter: Reporter = SILENT) -> dict:
    """Figures of a run's checkpoint on a split of its data, or on all of another source;
    `options` are the paradigm's evaluation settings from the command line; `reporter` is
    told which run and checkpoint once they are evaluated."""
    run = open_run(ref, runs_dir, trust_plugins)
    figures = _evaluate(run, split, source, checkpoint, runs_dir, options)
    reporter.line(run.checkpoint_text(checkpoint))
    return figures


def _evaluate(run: OpenRun, split: str, source: Optional[str], checkpoint: str, runs_dir: Optional[str],
              options: Optional[dict]) -> dict:
    from specc.data import check_labels, load_source
    from specc.run.data import prepare_data
    from specc.run.evaluate import evaluate_splits, evaluate_table

    paradigm = run.paradigm
    paradigm.check_options(run.context(None, options))
    model = run.load_model(checkpoint)
    splits = prepare_data(run.resolved, run.spec_dir).splits
    context = run.context(splits, options, runs_dir)
    if source:
        table = load_source(_by_name(run, parse_source(source)), Path.cwd(), run.resolved["seed"],
                            key="--data")
        table = _selected_as_run(table, run)
        align_to_run(table, run.record.read())
        check_labels(table, run.resolved["task"], "--data")
        return {"data": evaluate_table(paradigm, model, table, context)}
    if split == "all":
        return evaluate_splits(paradigm, model, splits, context)
    table = getattr(splits, split)
    if table is None:
        raise UsageError(f"the spec of run {run.record.run_id} has no {split} split",
                         "use --split train, or another split the spec makes")
    return {split: evaluate_table(paradigm, model, table, context)}


def _by_name(run: OpenRun, source: dict) -> dict:
    """A columnar source reads the run's columns by name (other forms have no names)."""
    from specc.run.columns import evaluation_source, is_columnar

    (form, given), = source.items()
    if not is_columnar(form) or not isinstance(given, dict):
        return source
    try:
        columns: Optional[dict] = run.columns()
    except DataError:
        if given.get("features", "auto") in (None, "auto"):
            raise
        columns = None  # the user's own `features:` name the columns
    return {form: evaluation_source(form, given, columns, Path.cwd(), "--data")}


def _selected_as_run(table: Table, run: OpenRun) -> Table:
    """Other data of a run trained on `data.select`ed classes: the samples of those classes,
    numbered as training numbered them (the selection applies to every source of the spec)."""
    names = run.record.read().get("class_names")
    if not run.resolved["data"].get("select") or not names:
        return table
    from specc.data.select import keep_classes_of

    return keep_classes_of(table, names, "--data")


def align_to_run(table: Table, record: dict) -> None:
    """Number string class labels of other data as the run's training data numbered them
    (new data may lack a class, or list them in another order)."""
    from specc.data.classes import align_classes

    def mismatch(table: Table, unknown: list, known: list) -> DataError:
        return DataError(f"{table.origin}: classes the run was not trained on: {', '.join(map(str, unknown[:10]))}",
                         hint=f"the run's classes: {', '.join(map(str, known[:20]))}")

    align_classes(table, record.get("class_names"), record.get("output_class_names"), mismatch)


def predict_run(ref: str, input_path: str, output_path: str, checkpoint: str = "best",
                runs_dir: Optional[str] = None, trust_plugins: bool = False,
                options: Optional[dict] = None, reporter: Reporter = SILENT) -> int:
    """Predict for the samples of a file or folder; write CSV or NPZ; return the count
    (`reporter` is told which run and checkpoint once they have predicted)."""
    run = open_run(ref, runs_dir, trust_plugins)
    count = _predict(run, input_path, output_path, checkpoint, runs_dir, options)
    reporter.line(run.checkpoint_text(checkpoint))
    return count


def _predict(run: OpenRun, input_path: str, output_path: str, checkpoint: str, runs_dir: Optional[str],
             options: Optional[dict]) -> int:
    from specc.run.predict import read_inputs, write_columns, write_predictions

    context = run.context(None, options, runs_dir)
    run.paradigm.check_options(context)
    inputs = read_inputs(input_path, run)
    model = run.load_model(checkpoint)
    columns = run.paradigm.predict(model, inputs.table, context)
    if columns is not None:
        write_columns(output_path, columns, inputs)
        return len(inputs.table)
    record = run.record.read()
    write_predictions(output_path, model_predict(run, model, inputs.table), model, run.resolved, inputs,
                      class_names=record.get("class_names"), output_class_names=record.get("output_class_names"))
    return len(inputs.table)


def model_predict(run: OpenRun, model: Any, table: Table) -> Any:
    """What the run's model predicts for the features of `table` (its outputs, raw), fed as
    its paradigm feeds it (a Keras network its inputs by name, trees their feature matrix)."""
    from specc.data.feed import predict_arrays

    return predict_arrays(model, run.paradigm.inputs(model, table))


def prediction_columns(run: OpenRun, model: Any, table: Table, context: Any) -> dict:
    """Column name -> one value per sample: what `specc predict` writes to a CSV file for
    these samples (the paradigm's own columns, else the task table's reading of the outputs)."""
    from specc.run.predict import named_outputs, task_columns

    columns = run.paradigm.predict(model, table, context)
    if columns is not None:
        return columns
    record = context.record  # read once with the context, not per call
    return task_columns(named_outputs(model_predict(run, model, table), list(model.output_names)), run.resolved,
                        record.get("class_names"), record.get("output_class_names"))


__all__ = ["OpenRun", "open_run", "evaluate_run", "predict_run", "parse_source", "DataError"]
