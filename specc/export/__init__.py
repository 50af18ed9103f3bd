"""Export a trained run and verify every artifact against the Keras model.

Each artifact is written under a temporary name, run with its own runtime in a separate
process on held-out samples, compared with Keras, and only then moved into place and listed
in `manifest.json`. A mismatch is an error (exit 5) and leaves nothing behind.
TensorFlow is imported inside the functions.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

import click

from specc.export.formats import check_quantize, get_format, require_packages

PARITY_SAMPLES = 500


def export_run(record, formats: list, quantize: str = "none", out_dir: Optional[str] = None,
               force: bool = False, quiet: bool = False, checkpoint: str = "best") -> list:
    """Write, verify and list each format; return the manifest entries written."""
    from specc.export.manifest import update_manifest
    from specc.run.session import open_run

    run = open_run(str(record.path))
    plan = [(get_format(name), quantize if get_format(name).quantizable else "none") for name in formats]
    for fmt, mode in plan:
        check_quantize(fmt, mode)
        require_packages(fmt)
    folder = Path(out_dir) if out_dir else Path(record.export_dir)
    targets = [(fmt, mode, folder / artifact_name(fmt, mode)) for fmt, mode in plan]
    _refuse_existing([t for _, _, t in targets], force)
    model = run.load_model(checkpoint)
    samples = _parity_samples(run, model)
    model.predict(_first(samples[0]), verbose=0)  # exporters need a model that has been called
    entries = [_export_one(run, model, fmt, mode, target, samples, quiet) for fmt, mode, target in targets]
    update_manifest(folder / "manifest.json", run.record.run_id, entries)
    run.record.update(exports=[{"format": e["format"], "file": e["file"]} for e in entries])
    return entries


def artifact_name(fmt, quantize: str) -> str:
    if quantize == "none":
        return fmt.artifact
    stem, _, suffix = fmt.artifact.partition(".")
    return f"{stem}.{quantize}.{suffix}"


def _refuse_existing(paths: list, force: bool) -> None:
    from specc.errors import UsageError

    existing = [p for p in paths if p.exists()]
    if existing and not force:
        raise UsageError(f"{existing[0]} exists already", "pass --force to replace it")


def _export_one(run, model, fmt, quantize, target: Path, samples, quiet: bool) -> dict:
    from specc.export.manifest import describe_artifact
    from specc.export.parity import check_parity

    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".tmp-{target.name}")
    _remove(temp)
    try:
        from specc.export.formats import write

        write(fmt, model, temp, quantize, calibration=_calibration(run, model))
        parity = check_parity(fmt, quantize, temp, model, samples, run)
    except BaseException:
        _remove(temp)
        raise
    _remove(target)
    temp.replace(target)
    entry = describe_artifact(fmt.name, quantize, target, model, parity)
    if not quiet:
        click.echo(f"exported {fmt.name}{'' if quantize == 'none' else ' (' + quantize + ')'}: "
                   f"{target} ({parity['summary']})")
    return entry


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _first(x):
    return {k: v[:1] for k, v in x.items()} if isinstance(x, dict) else x[:1]


def _parity_samples(run, model):
    """Held-out samples (test split, else validation, else train) as model-ready arrays."""
    from specc.run.data import prepare_data
    from specc.run.feed import model_arrays, take_sample

    splits = prepare_data(run.resolved, run.spec_dir).splits
    table = splits.test or splits.validation or splits.train
    sample = take_sample(table, PARITY_SAMPLES, run.resolved["seed"])
    return model_arrays(sample, model)


def _calibration(run, model):
    """A representative-dataset generator for int8 quantization: 200 training samples."""
    from specc.run.data import prepare_data
    from specc.run.feed import model_arrays, take_sample

    def generate():
        splits = prepare_data(run.resolved, run.spec_dir).splits
        x, _ = model_arrays(take_sample(splits.train, 200, run.resolved["seed"]), model)
        inputs = x if isinstance(x, dict) else {model.inputs[0].name.split(":")[0]: x}
        count = len(next(iter(inputs.values())))
        for i in range(count):
            yield [v[i:i + 1].astype("float32") for v in inputs.values()]

    return generate
