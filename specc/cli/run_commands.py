"""`specc compile`, `train`, `evaluate`, `predict` and `export`. TensorFlow is imported inside
each command (through the library), never when the command line starts."""
from __future__ import annotations

import json
import re
from typing import Any, Optional

import click

from specc.cli import scale_out
from specc.cli.common import Echo, load_checked, refuse_existing, reporter, spec_options
from specc.cli.scale_out import scale_out_options
from specc.cli.group import main
from specc.registries import EXPORT_FORMATS, QUANTIZE_MODES, TASK_TYPES
from specc.report import figures_text

RUNS_DIR_HELP = "Where run records live (default: the spec's train.runs_dir, runs/)."
CHECKPOINT_HELP = "Which checkpoint to use: best (default; what best means is the task type's rule) or last."
TRUST_HELP = ("Import the Python modules the run's spec lists under plugins: (they run code; a run "
              "folder from elsewhere needs your consent).")


def trust_option(func: Any) -> Any:
    return click.option("--trust-plugins", is_flag=True, help=TRUST_HELP)(func)


def with_examples() -> str:
    """`autoencoder normal=[0,1,2], ...`: the first example setting each task type's `options`
    give (`e.g. KEY=VALUE` in its description), so that a new type's help needs no edit here."""
    found = []
    for name in TASK_TYPES:
        for text in TASK_TYPES.get(name).options.values():
            match = re.search(r"e\.g\. (\w+=\S+)", text)
            if match:
                found.append(f"{name} {match.group(1).rstrip(':,;.')}")
                break
    return ", ".join(found)


WITH_HELP = ("A setting of the task type's evaluation or prediction, KEY=VALUE (repeatable): e.g. "
             f"{with_examples()} (docs/guides/: a page per task type).")


def with_option(func: Any) -> Any:
    return click.option("--with", "settings", multiple=True, metavar="KEY=VALUE", help=WITH_HELP)(func)


def parse_settings(settings: tuple) -> dict:
    """`--with shots=1 --with normal=[0, 1]` -> {"shots": 1, "normal": [0, 1]} (values read as YAML)."""
    import yaml

    from specc.errors import UsageError

    out = {}
    for item in settings:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--with expects KEY=VALUE, got {item!r}", "e.g. --with shots=1")
        try:
            out[key.strip()] = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            raise UsageError(f"--with {item!r}: the value is not valid YAML") from None
    return out
FORMATS = ", ".join(EXPORT_FORMATS.names())


def _quiet_tensorflow() -> None:
    """Import TensorFlow now, with its native start-up log lines kept off the terminal."""
    from specc.run.quiet import import_tensorflow

    import_tensorflow()


@main.command("compile")
@click.argument("file")
@spec_options
@click.option("--out", type=click.Path(dir_okay=False), help="Save the untrained compiled model (.keras).")
@click.option("--plot", type=click.Path(dir_okay=False), help="Write a diagram of the model (.png or .svg).")
def compile_cmd(file: str, overrides: tuple, out: Optional[str], plot: Optional[str]) -> None:
    """Build the Keras model of a spec and print its summary."""
    _quiet_tensorflow()
    from specc.api import resolved_spec, spec_dir
    from specc.compile import plot as plot_model
    from specc.paradigms import compile_spec, summarize

    doc = load_checked(file, overrides)
    resolved = resolved_spec(doc)
    model = compile_spec(resolved, where=doc.position_of, spec_dir=str(spec_dir(doc)))
    click.echo(summarize(model, resolved, where=doc.position_of))
    if out:
        refuse_existing(out)
        model.save(out)
        click.echo(f"saved {out}")
    if plot:
        plot_model(model, plot)
        click.echo(f"wrote {plot}")


@main.command()
@click.argument("file", required=False)
@spec_options
@click.option("--runs-dir", help=RUNS_DIR_HELP)
@click.option("--resume", metavar="RUN", help="Continue an interrupted run from its last checkpoint.")
@click.option("--quiet", "-q", is_flag=True, help="Print only errors and the record's path.")
@click.option("--no-export", is_flag=True, help="Skip the spec's export: section.")
@trust_option
@scale_out_options
def train(file: Optional[str], overrides: tuple, runs_dir: Optional[str], resume: Optional[str],
          quiet: bool, no_export: bool, trust_plugins: bool, workers: Optional[int], ray_address: Optional[str],
          cluster: Optional[str], worker_index: Optional[int]) -> None:
    """Train a spec; write a run record under runs/<name>/<run id>/."""
    from specc.errors import UsageError

    scale_out.check_flags(workers, ray_address, cluster, worker_index)
    if resume and overrides:
        raise UsageError("--set cannot be combined with --resume",
                         "a resumed run continues with the spec it started with")
    if not resume and file is None:
        raise click.UsageError("give a spec FILE (or --resume RUN)")
    # the spec (or the run) is read and checked before TensorFlow's seconds of start-up
    if resume:
        resolved, spec_file = _resume_target(resume, runs_dir, file, trust_plugins)
        doc = None
    else:
        from specc.api import resolved_spec

        assert file is not None
        doc = load_checked(file, overrides)
        resolved, spec_file = resolved_spec(doc), file
    if workers is not None:  # a launcher: its workers are `specc train` processes
        added = scale_out.strategy_overrides(resolved, bool(resume))
        if added and file:
            load_checked(file, overrides + added)  # what the workers will check: multi_worker for this task
        scale_out.launch(scale_out.worker_args(file, overrides + added, runs_dir, resume, quiet, no_export,
                                               trust_plugins), workers, ray_address, reporter(False))
        return
    _quiet_tensorflow()
    from specc.run.train import TrainOptions, summary_text
    from specc.workflows import train_and_export

    options = TrainOptions(runs_dir=runs_dir, resume=resume, export=not no_export, reporter=reporter(quiet),
                           overrides=tuple(overrides), cluster=scale_out.cluster_of(cluster, worker_index))
    outcome = train_and_export(resolved, spec_file, where=doc.position_of if doc else None, options=options,
                               source_files=tuple(doc.files) if doc else ())
    click.echo(str(outcome.record.path) if quiet and outcome.record else summary_text(outcome))


def _resume_target(ref: str, runs_dir: Optional[str], file: Optional[str],
                   trust_plugins: bool) -> tuple[dict, str]:
    from specc.run.session import open_run

    run = open_run(ref, runs_dir, trust_plugins)
    run.check_plugins()
    return run.resolved, file or run.spec_file


@main.command()
@click.argument("run")
@click.option("--split", type=click.Choice(["test", "validation", "train", "all"]), default="test",
              show_default=True)
@click.option("--data", "source", metavar="SOURCE",
              help="Evaluate on other data: a YAML source mapping, inline or in a file, "
                   "e.g. '{csv: {path: new.csv, label: y}}' (then the whole of it is used).")
@click.option("--checkpoint", type=click.Choice(["best", "last"]), default="best", help=CHECKPOINT_HELP)
@click.option("--runs-dir", help=RUNS_DIR_HELP)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@with_option
@trust_option
def evaluate(run: str, split: str, source: Optional[str], checkpoint: str, runs_dir: Optional[str],
             fmt: str, settings: tuple, trust_plugins: bool) -> None:
    """Evaluate a trained run on a split of its data (or on other data)."""
    options = parse_settings(settings)
    _quiet_tensorflow()
    from specc.run.session import evaluate_run

    metrics = evaluate_run(run, split=split, source=source, checkpoint=checkpoint, runs_dir=runs_dir,
                           trust_plugins=trust_plugins, options=options, reporter=Echo(err=True))
    if fmt == "json":
        click.echo(json.dumps(metrics, indent=2))
        return
    for name, values in metrics.items():
        click.echo(f"{name:<10} {figures_text(values)}")


@main.command()
@click.argument("run")
@click.option("--input", "input_path", required=True, type=click.Path(),
              help="CSV (columns read by the names the run was trained on), .npz/.npy, or an image folder.")
@click.option("--output", "output_path", required=True, type=click.Path(dir_okay=False),
              help="Where predictions go: .csv or .npz.")
@click.option("--checkpoint", type=click.Choice(["best", "last"]), default="best", help=CHECKPOINT_HELP)
@click.option("--runs-dir", help=RUNS_DIR_HELP)
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@with_option
@trust_option
def predict(run: str, input_path: str, output_path: str, checkpoint: str, runs_dir: Optional[str],
            force: bool, settings: tuple, trust_plugins: bool) -> None:
    """Predict with a trained run; write one row per input sample."""
    refuse_existing(output_path, force)
    options = parse_settings(settings)
    _quiet_tensorflow()
    from specc.run.session import predict_run

    count = predict_run(run, input_path, output_path, checkpoint=checkpoint, runs_dir=runs_dir,
                        trust_plugins=trust_plugins, options=options, reporter=Echo(err=True))
    click.echo(f"wrote {count} prediction(s) to {output_path}")


@main.command()
@click.argument("run")
@click.option("--format", "formats", multiple=True, metavar="FORMAT",
              help=f"{FORMATS} (repeatable; default: the spec's export.formats).")
@click.option("--quantize", default=None,
              help=f"{', '.join(n for n, i in EXPORT_FORMATS.items() if i.quantizable)}: "
                   f"{', '.join(QUANTIZE_MODES)}.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Folder for the artifacts (default: the run's exports/).")
@click.option("--checkpoint", type=click.Choice(["best", "last"]), default="best", help=CHECKPOINT_HELP)
@click.option("--runs-dir", help=RUNS_DIR_HELP)
@click.option("--force", is_flag=True, help="Replace artifacts that exist already.")
@trust_option
def export(run: str, formats: tuple, quantize: Optional[str], out_dir: Optional[str], checkpoint: str,
           runs_dir: Optional[str], force: bool, trust_plugins: bool) -> None:
    """Export a trained run; every artifact is verified against Keras in a separate process."""
    _quiet_tensorflow()
    from specc.errors import UsageError
    from specc.export import export_run
    from specc.run.session import open_run

    opened = open_run(run, runs_dir, trust_plugins)
    settings: Any = opened.resolved.get("export", {})
    chosen = list(formats) or list(settings.get("formats", []))
    if not chosen:
        raise UsageError("no format to export", f"pass --format {'|'.join(EXPORT_FORMATS.names())}")
    export_run(opened.record, chosen, quantize=quantize or settings.get("quantize", "none"),
               out_dir=out_dir, force=force, checkpoint=checkpoint, reporter=reporter(False),
               trust_plugins=trust_plugins)


@main.command()
@click.argument("file")
@spec_options
@click.option("--seeds", type=click.IntRange(1, 30), default=1, show_default=True,
              help="Train both on this many seeds (the spec's, then the next: each its own split) and give "
                   "the difference a 95% interval.")
@click.option("--folds", type=click.IntRange(2, 30), default=None,
              help="Instead of seeds: train both on each of K folds of train + validation (the test split "
                   "stays) and give the difference a 95% interval.")
@click.option("--runs-dir", help=RUNS_DIR_HELP)
@click.option("--quiet", "-q", is_flag=True, help="Print only the table.")
def verdict(file: str, overrides: tuple, seeds: int, folds: Optional[int], runs_dir: Optional[str],
            quiet: bool) -> None:
    """Train a network spec and gradient-boosted trees (XGBoost, default hyperparameters) on the
    same split; print both on the test split, side by side, with the difference."""
    from specc.api import resolved_spec
    from specc.errors import UsageError
    from specc.workflows import trees_twin

    if folds and seeds != 1:
        raise UsageError("give --seeds or --folds, not both", "folds keep the spec's seed and its test split")
    doc = load_checked(file, overrides)
    resolved = resolved_spec(doc)
    trees_twin(resolved)  # refused before TensorFlow's start-up: a trees spec, a task trees cannot learn
    _quiet_tensorflow()
    from specc.run.train import TrainOptions
    from specc.workflows import verdict as run_verdict

    options = TrainOptions(runs_dir=runs_dir, reporter=reporter(True), overrides=tuple(overrides))
    say = reporter(quiet)
    say.line(f"training the network and the trees on {f'{folds} folds' if folds else f'{seeds} seed(s)'} ...")
    trials = run_verdict(resolved, file, seeds, options, tuple(doc.files), folds=folds)
    click.echo(verdict_text(trials))


def verdict_text(trials: list) -> str:
    """The verdict's table: each figure of the network and the trees, the difference (trees -
    network) and, over several seeds, its 95% interval; then the runs."""
    from specc.workflows import verdict_table

    first = trials[0]
    samples = first.network.record.read()["data"][first.split] if first.network.record else "?"
    seeds = ", ".join(str(t.seed) for t in trials)
    over = f"seed {first.seed}, {len(trials)} folds" if first.fold is not None else \
        f"seed{'s' if len(trials) > 1 else ''} {seeds}"
    lines = [f"verdict on the {first.split} split ({samples} samples; {over}; the same split for both)",
             f"  {'figure':<28} {'network':>10} {'trees':>10} {'trees - network':>18}"]
    for name, net, boosted, diff, half in verdict_table(trials):
        if boosted is None:
            lines.append(f"  {name:<28} {net:>10.4f}")
            continue
        shown = f"{diff:+.4f}" + (f" ± {half:.4f}" if half is not None else "")
        lines.append(f"  {name:<28} {net:>10.4f} {boosted:>10.4f} {shown:>18}")
    for trial in trials:
        which = f"fold {trial.fold}" if trial.fold is not None else f"seed {trial.seed}"
        lines.append(f"  {which}: network {trial.network.record.run_id if trial.network.record else '-'}, "
                     f"trees {trial.trees.record.run_id if trial.trees.record else '-'}")
    return "\n".join(lines)
