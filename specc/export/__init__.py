"""Export a trained run and verify every artifact against the Keras model.

Each artifact is written under a temporary name, run with its own runtime in a separate
process on held-out samples (one process for all the formats of one export), compared with
Keras, and only when every one passes moved into place and listed in `manifest.json`. A
mismatch is an error (exit 5) and leaves nothing behind.
TensorFlow is imported inside the functions.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Optional, cast

from specc.errors import ExportError
from specc.export.formats import check_quantize, get_format, require_kind, require_packages
from specc.registries import EXPORT_FORMATS
from specc.report import SILENT, Reporter
from specc.run.records.lock import RunLock
from specc.tasks.trees import model_kind

if TYPE_CHECKING:
    from specc.data.table import Table

PARITY_SAMPLES = 500


def export_run(record: Any, formats: list, quantize: str = "none", out_dir: Optional[str] = None,
               force: bool = False, reporter: Reporter = SILENT, checkpoint: str = "best",
               trust_plugins: bool = False) -> list:
    """Write, verify and list each format; return the manifest entries written.

    Raises:
        UsageError: An unknown format or quantization, or an artifact that exists (without force).
        ExportError: A converter failed, a package is missing, or an artifact failed its check.
    """
    from specc.export.manifest import update_manifest
    from specc.export.parity import ArtifactChecker
    from specc.run.session import open_run

    run = open_run(str(record.path), trust_plugins=trust_plugins)
    run.check_plugins()
    chosen = [get_format(name) for name in dict.fromkeys(formats)]
    _check_quantize(chosen, quantize)
    plan = [(fmt, quantize if fmt.quantizable else "none") for fmt in chosen]
    kind = model_kind(run.resolved)
    for fmt, _ in plan:
        require_kind(fmt, kind)
        require_packages(fmt, kind)
    _refuse_strings(chosen, run.resolved)
    folder = writable_folder(Path(out_dir) if out_dir else run.record.export_dir)  # export_dir: never a link
    targets = [(fmt, mode, folder / artifact_name(fmt, mode)) for fmt, mode in plan]
    _refuse_existing([t for _, _, t in targets], force)
    with RunLock(run.record.path, run.record.run_id, "exporting"), \
            ArtifactChecker([fmt for fmt, _ in plan], run) as checker:
        model = run.paradigm.export_model(run.load_model(checkpoint))
        samples = _parity_samples(run, model)
        model.predict(_first(samples[0]), verbose=0)  # exporters need a model that has been called
        temps = [target.with_name(f".tmp-{target.name}") for _, _, target in targets]
        parities = _write_and_verify(run, model, targets, temps, samples, checker)
        entries = [_place(fmt, mode, temp, target, model, parity, reporter)
                   for (fmt, mode, target), temp, parity in zip(targets, temps, parities)]
        update_manifest(folder / "manifest.json", run.record.run_id, entries)
        _record_exports(run.record, folder, entries)
    return entries


def _refuse_strings(chosen: list, resolved: dict) -> None:
    """Refuse a format whose runtime cannot take strings when the model takes some (what
    validate says of the spec's `export:`, here for --format), before anything is converted.

    Raises:
        ExportError: Such a format and a string input (exit 5, nothing written).
    """
    inputs = (resolved.get("model") or {}).get("inputs") or {}
    strings = [name for name, value in inputs.items() if isinstance(value, dict) and value.get("dtype") == "string"]
    refused = [fmt.name for fmt in chosen if not fmt.info.strings]
    if strings and refused:
        takers = ", ".join(name for name, info in EXPORT_FORMATS.items() if info.strings)
        raise ExportError(f"{refused[0]} export cannot take string inputs, and model input '{strings[0]}' is a "
                          "string (its text preprocessing lives inside the model)", f"export to {takers}")


def writable_folder(folder: Path) -> Path:
    """The export folder, made if needed.

    Raises:
        ExportError: It cannot be made or written to (exit 5, nothing written).
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot make the export folder {folder}: {exc.strerror or exc}",
                          "give --out a folder you can write to") from None
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise ExportError(f"cannot write to the export folder {folder}", "give --out a folder you can write to")
    return folder


def _check_quantize(chosen: list, quantize: str) -> None:
    """Quantization applies to the quantizable formats among those chosen (the others are
    exported as they are); asking for it with none of them is an error."""
    quantizable = [fmt for fmt in chosen if fmt.quantizable]
    for fmt in quantizable or chosen[:1]:
        check_quantize(fmt, quantize)


def _record_exports(record, folder: Path, entries: list) -> None:
    """List the artifacts in record.json beside those of earlier exports (same file replaces):
    paths relative to the run folder, or absolute when exported elsewhere."""
    root = Path(record.path).resolve()
    listed = list(record.read().get("exports") or [])
    for entry in entries:
        path = (folder / entry["file"]).resolve()
        shown = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
        listed = [e for e in listed if e.get("file") != shown]
        listed.append({"format": entry["format"], "quantize": entry["quantize"], "file": shown})
    record.update(exports=listed)


def artifact_name(fmt: Any, quantize: str) -> str:
    if quantize == "none":
        return fmt.artifact
    stem, _, suffix = fmt.artifact.partition(".")
    return f"{stem}.{quantize}.{suffix}"


def _refuse_existing(paths: list, force: bool) -> None:
    from specc.errors import UsageError

    existing = [p for p in paths if p.exists()]
    if existing and not force:
        raise UsageError(f"{existing[0]} exists already", "pass --force to replace it")


def _write_and_verify(run, model, targets: list, temps: list, samples, checker) -> list:
    """Write every artifact under its temporary name and check them all in one process; on any
    failure remove them all (nothing is left behind) and raise."""
    from specc.export.formats import ExportContext, write
    from specc.export.parity import verify_artifacts

    try:
        record = run.record.read()
        for (fmt, mode, target), temp in zip(targets, temps):
            target.parent.mkdir(parents=True, exist_ok=True)
            _remove(temp)
            write(fmt, ExportContext(model, temp, mode, _calibration(run, model), run.resolved, record))
        return verify_artifacts([(fmt, mode, temp) for (fmt, mode, _), temp in zip(targets, temps)],
                                model, samples, run, checker)
    except BaseException:
        for temp in temps:
            _remove(temp)
        raise


def _place(fmt: Any, quantize: str, temp: Path, target: Path, model: Any, parity: dict,
           reporter: Reporter) -> dict:
    """Move a verified artifact into place; return its manifest entry."""
    from specc.export.manifest import describe_artifact

    _remove(target)
    temp.replace(target)
    entry = describe_artifact(fmt.name, quantize, target, model, parity)
    reporter.line(f"exported {fmt.name}{'' if quantize == 'none' else ' (' + quantize + ')'}: "
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
    from specc.data.feed import take_sample
    from specc.data.pipeline import to_arrays

    splits = prepare_data(run.resolved, run.spec_dir).splits
    table = splits.test or splits.validation or splits.train
    sample = cast("Table", take_sample(table, PARITY_SAMPLES, run.resolved["seed"]))  # loading refused empty data
    return run.paradigm.inputs(model, sample), to_arrays(sample, None, None, list(model.output_names))[1]


def _calibration(run, model):
    """A representative-dataset generator for int8 quantization: 200 training samples, each
    a dict keyed by input name (the converter matches them to the signature by name)."""
    from specc.run.data import prepare_data
    from specc.data.feed import model_arrays, take_sample

    def generate() -> Iterator[dict]:
        splits = prepare_data(run.resolved, run.spec_dir).splits
        sample = take_sample(splits.train, 200, run.resolved["seed"])
        x, _ = model_arrays(cast("Table", sample), model)  # loading refused empty data: there is a sample
        inputs = x if isinstance(x, dict) else {model.inputs[0].name.split(":")[0]: x}
        count = len(next(iter(inputs.values())))
        for i in range(count):
            yield {name: v[i:i + 1].astype("float32") for name, v in inputs.items()}

    return generate
