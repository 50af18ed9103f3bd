"""The end of a completed run: final metrics per split, the parts users keep, the record."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from specc.run.callbacks import loss_warnings
from specc.run.evaluate import evaluate_splits
from specc.run.records import RunRecord

BEST = "checkpoints/best.keras"


def finish(resolved: dict, prepared: Any, trainable: Any, record: RunRecord, recorder: Any,
           seconds: float) -> Any:
    """Evaluate every split, keep the paradigm's parts, and mark the record completed."""
    from specc.paradigms import declaration_of
    from specc.run.train import Outcome

    from specc.paradigms.base import Context

    record.start_curves()  # the history is complete: draw while the splits are evaluated
    epochs_done = recorder.last_epoch + 1
    last_is_best = declaration_of(resolved).best == "last"
    kept = not last_is_best and keep_best(trainable.model, recorder.best_epoch, epochs_done, record.path / BEST,
                                          recorder.held_best)
    samples = trainable.feed.samples * max(0, epochs_done - trainable.first_epoch)
    splits = prepared.splits
    context = Context(resolved, train=splits.train, validation=splits.validation)
    context.state = trainable.paradigm.after_training(trainable.model, context)
    if context.state:
        record.update(paradigm=context.state)
    metrics = evaluate_splits(trainable.paradigm, trainable.model, splits, context)
    record.write_metrics(metrics)
    best_file = "checkpoints/last.keras" if last_is_best else BEST
    record.update(epochs_completed=epochs_done, train_seconds=round(seconds, 3),
                  samples_per_second=round(samples / seconds, 1) if seconds else None,
                  best={"epoch": recorder.best_epoch,
                        "monitor": "last epoch" if last_is_best else recorder.monitor,
                        "value": None if last_is_best else recorder.best},
                  checkpoints={"best": best_file, "last": "checkpoints/last.keras"})
    save_parts(trainable.paradigm, record, record.path / best_file)
    warnings = (loss_warnings(recorder.first_loss, _last_loss(record)) + class_warnings(prepared.splits.train)
                + baseline_warnings(metrics))
    if warnings:
        record.update(warnings=warnings)
    record.finish("completed")
    return Outcome(record, metrics, seconds, samples / seconds if seconds else 0.0, epochs_done,
                   kept_epoch=recorder.best_epoch if kept else None)


def keep_best(model: Any, best_epoch: Any, epochs_done: int, path: Path, held: Optional[list] = None) -> bool:
    """The model a run keeps is its best checkpoint (what predict, evaluate and export load):
    when an earlier epoch was best, its weights replace the last epoch's before the splits are
    evaluated, so metrics.json, the summary and what is chosen after training (an
    autoencoder's threshold) are that model's. Returns whether it did (with
    `train.checkpoints.keep: last` there is no best.keras: the last epoch is kept). `held` is
    the best epoch's weights the run kept in memory as it wrote them there: used instead of the
    file (None: not held, e.g. the best epoch came before a resume)."""
    if best_epoch is None or best_epoch == epochs_done or not path.exists():
        return False
    if held is not None:
        model.set_weights(held)
    else:
        model.load_weights(path)
    return True


def save_parts(paradigm: Any, record: RunRecord, checkpoint: Path) -> None:
    """Save the paradigm's parts of a checkpoint beside it (encoder.keras, generator.keras, ...):
    plain functional models that `keras.saving.load_model` reads without specc."""
    if not paradigm.keeps_parts:
        return
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


def _last_loss(record: RunRecord) -> Any:
    history = record.history()
    return history[-1].get("loss") if history else None


def class_warnings(table: Any) -> list:
    """A classifier trained on one class only learns to say that class."""
    import numpy as np

    labels = table.labels
    if labels is None or isinstance(labels, dict) or not table.class_names:
        return []
    present = np.unique(np.asarray(labels))
    if len(present) == 1:
        name = table.class_names[int(present[0])] if int(present[0]) < len(table.class_names) else present[0]
        return [f"the training split holds one class only ({name}): the model can only learn to predict it"]
    return []


def baseline_warnings(metrics: dict) -> list:
    """A split whose headline figure is no better than what a model that learned nothing scores
    (its `baseline_...` figure): the run ended with exit 0 but the model is of no use there."""
    from specc.paradigms.base import no_better_than_baseline

    out = []
    for split, figures in metrics.items():
        found = no_better_than_baseline(figures)
        if found:
            name, value, baseline = found
            out.append(f"the {split} split's {name} {value:.4f} is no better than its baseline (baseline_{name} "
                       f"{baseline:.4f}): the model has learned nothing that helps there")
    return out
