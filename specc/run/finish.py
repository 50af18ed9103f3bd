"""The end of a completed run: final metrics per split, the parts users keep, the record."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from specc.run.evaluate import evaluate_splits
from specc.run.records import RunRecord


def finish(resolved: dict, prepared: Any, trainable: Any, record: RunRecord, recorder: Any,
           seconds: float) -> Any:
    """Evaluate every split, keep the paradigm's parts, and mark the record completed."""
    from specc.paradigms import declaration_of
    from specc.run.train import Outcome

    epochs_done = recorder.last_epoch + 1
    samples = trainable.feed.samples * max(0, epochs_done - trainable.first_epoch)
    metrics = evaluate_splits(trainable.paradigm, trainable.model, prepared.splits)
    record.write_metrics(metrics)
    last_is_best = declaration_of(resolved).best == "last"
    best_file = "checkpoints/last.keras" if last_is_best else "checkpoints/best.keras"
    record.update(epochs_completed=epochs_done, train_seconds=round(seconds, 3),
                  samples_per_second=round(samples / seconds, 1) if seconds else None,
                  best={"epoch": recorder.best_epoch,
                        "monitor": "last epoch" if last_is_best else recorder.monitor,
                        "value": None if last_is_best else recorder.best},
                  checkpoints={"best": best_file, "last": "checkpoints/last.keras"})
    save_parts(trainable.paradigm, record, record.path / best_file)
    record.finish("completed")
    return Outcome(record, metrics, seconds, samples / seconds if seconds else 0.0, epochs_done)


def save_parts(paradigm: Any, record: RunRecord, checkpoint: Path) -> None:
    """Save the paradigm's parts of a checkpoint beside it (encoder.keras, generator.keras, ...):
    plain functional models that `keras.saving.load_model` reads without specc."""
    if not checkpoint.exists():
        checkpoint = Path(record.checkpoint_dir) / "last.keras"
    if not checkpoint.exists():
        return
    import keras

    model = keras.saving.load_model(checkpoint)
    parts = paradigm.parts(model)
    saved = {}
    for name, part in parts.items():
        folder = Path(record.checkpoint_dir)
        tmp = folder / f".{name}.tmp.keras"
        part.save(tmp)
        tmp.replace(folder / f"{name}.keras")
        saved[name] = f"checkpoints/{name}.keras"
    if saved:
        record.update(parts=saved)
