"""Grids of a GAN's generated samples, drawn into the run folder while it trains.

Every grid of a run comes from the same latent vectors (task.samples.seed), so the grids of
epoch 10, 20, ... show the same latent points as the generator learns. Grids are drawn on
matplotlib's Agg canvas without pyplot (no global backend is touched), and written
atomically: a killed process leaves the old file or a hidden temporary file, which the run
record removes when the run is next opened.
"""
from __future__ import annotations

import io
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Optional

import keras
import numpy as np

FOLDER = "samples"  # in the run folder; listed in record.json `sample_grids`


def latent_vectors(count: int, latent_dim: int, seed: int) -> np.ndarray:
    """`count` standard-normal latent vectors, the same for the same seed."""
    return np.random.default_rng(seed).normal(size=(count, latent_dim)).astype("float32")


def as_images(samples: np.ndarray) -> Optional[np.ndarray]:
    """Samples as (count, height, width) or (count, height, width, 3) images, or None when
    they have no image shape: (h, w), (h, w, 1) and (h, w, 3) are images; flat samples of a
    square size (64 -> 8x8) too."""
    shape = samples.shape[1:]
    if len(shape) == 1:
        side = math.isqrt(shape[0])
        return samples.reshape(-1, side, side) if side * side == shape[0] and side > 1 else None
    if len(shape) == 2:
        return samples
    if len(shape) == 3 and shape[-1] == 1:
        return samples[..., 0]
    if len(shape) == 3 and shape[-1] == 3:
        return samples
    return None


def mosaic(images: np.ndarray, low: float, high: float) -> np.ndarray:
    """One picture of the images in a square-ish grid, a one-pixel line between them,
    values mapped from [low, high] to [0, 1]."""
    count, height, width = images.shape[:3]
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    scaled = np.clip((images.astype("float64") - low) / max(high - low, 1e-12), 0.0, 1.0)
    # a light grey between the tiles: the data's own background (often 0) would hide their edges
    canvas = np.full((rows * (height + 1) + 1, columns * (width + 1) + 1) + images.shape[3:], 0.2)
    for index, image in enumerate(scaled):
        top, left = 1 + (index // columns) * (height + 1), 1 + (index % columns) * (width + 1)
        canvas[top:top + height, left:left + width] = image
    return canvas


def grid_png(samples: np.ndarray, title: str, value_range: Optional[tuple] = None) -> Optional[bytes]:
    """The PNG of a grid of samples, or None when they are not image-shaped.

    Args:
        samples: The generator's output, (count, ...).
        title: Drawn above the grid (e.g. the run and the epoch).
        value_range: (low, high) of the training data, so every grid of a run is drawn on the
            same scale; None: the samples' own range.
    """
    images = as_images(np.asarray(samples))
    if images is None:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    low, high = value_range or (float(np.min(images)), float(np.max(images)))
    picture = mosaic(images, low, high)
    figure = Figure(figsize=(5, 5.4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0.02, 0.02, 0.96, 0.88))
    axes.imshow(picture, cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
    axes.set_axis_off()
    figure.suptitle(title, fontsize="medium")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` through a hidden temporary file in the same folder (the
    naming of specc/run/records/files.py, which the record's clean-up knows)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class SampleGrids(keras.callbacks.Callback):
    """Draws `samples/epoch-NNNN.png` every `every` epochs and after the last one, and lists
    them in record.json (`sample_grids`: [{"epoch": 10, "file": "samples/epoch-0010.png"}])."""

    def __init__(self, record: Any, settings: dict, epochs: int, title: str,
                 value_range: Optional[tuple] = None):
        super().__init__()
        self.record = record
        self.every = int(settings["every"])
        self.count = int(settings["count"])
        self.seed = int(settings["seed"])
        self.epochs = epochs
        self.title = title
        self.value_range = value_range

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        number = epoch + 1
        if number % self.every and number != self.epochs:
            return
        generator = self.model.get_layer("generator")
        z = latent_vectors(self.count, int(generator.inputs[0].shape[-1]), self.seed)
        # a direct call in inference mode: no predict function is traced, and no random
        # state of the model is used, so a run with grids trains exactly as one without
        samples = keras.ops.convert_to_numpy(generator(z, training=False))
        png = grid_png(samples, f"{self.title}: epoch {number}", self.value_range)
        if png is None:
            return
        name = f"{FOLDER}/epoch-{number:04d}.png"
        write_atomically(Path(self.record.path) / name, png)
        listed = [g for g in self.record.read().get("sample_grids") or [] if g.get("epoch") != number]
        listed.append({"epoch": number, "file": name})
        self.record.update(sample_grids=sorted(listed, key=lambda g: g["epoch"]))
