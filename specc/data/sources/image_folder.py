"""`image_folder`: one sub-folder of images per class (decoded with TensorFlow)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from specc.data.checks import existing_path
from specc.data.table import Table
from specc.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp")


def load(spec: dict, context: Any) -> Table:
    """One sub-folder per class (sorted names = class ids); images resized, raw 0..255 float32."""
    base_dir, key = context.base_dir, context.key
    text = spec["path"].rstrip("/")
    folder = existing_path(text, base_dir, f"{key}.image_folder.path", folder=True)
    size = [int(d) for d in spec["size"]]
    channels = 1 if spec.get("color") == "grayscale" else 3
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"{text}: has no class sub-folders",
                        hint="put the images of each class in their own sub-folder, e.g. cats/, dogs/")
    images, labels = [], []
    for class_id, name in enumerate(classes):
        files = sorted(p for p in (folder / name).iterdir()
                       if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
        if not files:
            raise DataError(f"{text}/{name}: has no images ({', '.join(IMAGE_SUFFIXES)})",
                            hint="remove the empty class folder or add images to it")
        for file in files:
            images.append(decode_image(file, f"{text}/{name}/{file.name}", size, channels))
            labels.append(class_id)
    x = np.stack(images).astype(np.float32)
    return Table(features={"x": x}, labels=np.asarray(labels, dtype=np.int64), class_names=classes,
                 origin=text, rows=np.arange(len(x), dtype=np.int64))


def decode_image(path: Path, text: str, size: list, channels: int) -> np.ndarray:
    import tensorflow as tf

    try:
        image = tf.io.decode_image(path.read_bytes(), channels=channels, expand_animations=False)
    except (tf.errors.OpError, ValueError) as err:
        reason = str(getattr(err, "message", err)).strip().splitlines()[0][:200]
        raise DataError(f"{text}: cannot decode the image ({reason})",
                        hint="replace or remove the file; PNG, JPEG, GIF and BMP are supported") from None
    if list(image.shape[:2]) != size:
        image = tf.image.resize(image, size)
    return image.numpy().astype(np.float32)
