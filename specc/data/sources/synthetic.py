"""`synthetic`: generated data sets, deterministic for their seed, that small models can learn."""
from __future__ import annotations

from typing import Any

import numpy as np

from specc.errors import DataError
from specc.data.table import Table

DEFAULT_SAMPLES = 256
DEFAULT_FEATURES = 8
DEFAULT_CLASSES = 3
DEFAULT_SEQUENCE_SHAPE = (16, 4)
DEFAULT_IMAGE_SHAPE = (8, 8, 1)
DEFAULT_ADDING_SHAPE = (50, 2)


def load(spec: Any, context: Any) -> Table:
    """The `load(spec, context)` of a data source (see specc/data/sources/__init__.py)."""
    return load_synthetic(spec or {}, context.seed)


def load_synthetic(spec: dict, seed: int) -> Table:
    """Generate `data.source.synthetic`.

    Kinds:
        classification: gaussian blobs around well separated class centres.
        regression: a random linear map of gaussian features plus a little noise.
        sequence: (samples, timesteps, features); the class is the bin of the sum of the
            first feature over time (its sign for 2 classes), so an LSTM can learn it.
        image: (samples, h, w, c) in 0..1; each class has its own random pixel pattern.
        adding: the adding problem (Hochreiter & Schmidhuber 1997), (samples, timesteps, 2):
            each step is (value, marker), values uniform in 0..1, exactly two markers are 1
            (one in each half of the sequence); the target is the sum of the two marked
            values. Predicting the mean scores a mean squared error of about 1/6; a model
            must carry the first marked value across the gap to do better.
        text: short reviews, one string per sample under the feature (and CSV column) `text`,
            class 1 positive, 0 negative. A review is one or two clauses, each an adjective
            (5 positive, 5 negative), maybe after `not` and an intensifier, after an opener;
            a clause's polarity is its adjective's, flipped by `not`; the review's class is the
            sign of the sum, or the last clause's when they cancel ("good, but not great").
            "not good, bad" and "good, not bad" hold the same words in another order: a
            bag of words cannot tell them apart, a sequence model can.

    Args:
        spec: The `synthetic:` mapping (kind, samples, features | shape, classes, targets, seed).
        seed: The spec's seed, used when the mapping has none.
    """
    kind = spec.get("kind", "classification")
    samples = int(spec.get("samples") or DEFAULT_SAMPLES)
    rng = np.random.default_rng(spec.get("seed", seed))
    makers = {"classification": _classification, "regression": _regression,
              "sequence": _sequence, "image": _image, "adding": _adding}
    if kind not in makers and kind != "text":
        raise DataError(f"synthetic: unknown kind '{kind}'; use one of {', '.join([*makers, 'text'])}")
    if kind == "text":
        return _text(samples, rng)
    x, y, feature_names = makers[kind](spec, samples, rng)
    return Table(features={"x": x}, labels=y, feature_names=feature_names,
                 origin=f"synthetic {kind}", rows=np.arange(samples, dtype=np.int64))


def _balanced_classes(samples: int, classes: int, rng) -> np.ndarray:
    return rng.permutation(np.arange(samples) % classes).astype(np.int64)


def _sample_shape(spec: dict, default: tuple) -> tuple:
    if spec.get("shape"):
        return tuple(int(d) for d in spec["shape"])
    if spec.get("features"):
        return default[:-1] + (int(spec["features"]),)
    return default


def _classification(spec, samples, rng):
    shape = _sample_shape(spec, (DEFAULT_FEATURES,))
    width = int(np.prod(shape))
    classes = int(spec.get("classes") or DEFAULT_CLASSES)
    centres = rng.normal(size=(classes, width))
    centres *= 3.0 / np.linalg.norm(centres, axis=1, keepdims=True)
    y = _balanced_classes(samples, classes, rng)
    x = centres[y] + rng.normal(size=(samples, width))
    names = [f"f{i}" for i in range(width)] if len(shape) == 1 else None
    return x.reshape((samples,) + shape).astype(np.float32), y, names


def _regression(spec, samples, rng):
    shape = _sample_shape(spec, (DEFAULT_FEATURES,))
    width = int(np.prod(shape))
    targets = int(spec.get("targets") or 1)
    weights = rng.normal(size=(width, targets))
    x = rng.normal(size=(samples, width))
    y = x @ weights + 0.1 * rng.normal(size=(samples, targets))
    y = y[:, 0] if targets == 1 else y
    names = [f"f{i}" for i in range(width)] if len(shape) == 1 else None
    return x.reshape((samples,) + shape).astype(np.float32), y.astype(np.float32), names


def _sequence(spec, samples, rng):
    shape = _sample_shape(spec, DEFAULT_SEQUENCE_SHAPE)
    if len(shape) != 2:
        raise DataError(f"synthetic sequence: shape must be [timesteps, features], got {list(shape)}")
    classes = int(spec.get("classes") or 2)
    x = rng.normal(size=(samples,) + shape)
    total = x[:, :, 0].sum(axis=1)
    if classes == 2:
        y = (total > 0).astype(np.int64)
    else:
        edges = np.quantile(total, np.linspace(0, 1, classes + 1)[1:-1])
        y = np.searchsorted(edges, total).astype(np.int64)
    return x.astype(np.float32), y, None


def _image(spec, samples, rng):
    shape = _sample_shape(spec, DEFAULT_IMAGE_SHAPE)
    if len(shape) == 2:
        shape = shape + (1,)
    if len(shape) != 3:
        raise DataError(f"synthetic image: shape must be [height, width, channels], got {list(shape)}")
    classes = int(spec.get("classes") or DEFAULT_CLASSES)
    patterns = (rng.random((classes,) + shape) > 0.5).astype(np.float64)
    y = _balanced_classes(samples, classes, rng)
    x = 0.2 + 0.6 * patterns[y] + 0.15 * rng.normal(size=(samples,) + shape)
    return np.clip(x, 0.0, 1.0).astype(np.float32), y, None


def _adding(spec, samples, rng):
    shape = _sample_shape(spec, DEFAULT_ADDING_SHAPE)
    if len(shape) != 2 or shape[1] != 2 or shape[0] < 2:
        raise DataError(f"synthetic adding: shape must be [timesteps, 2] with at least 2 timesteps "
                        f"(each step is a value and a marker), got {list(shape)}")
    steps = shape[0]
    values = rng.random((samples, steps))
    half = steps // 2
    # one marker in each half, so the first marked value must be remembered across a gap
    first = rng.integers(0, half, size=samples)
    second = rng.integers(half, steps, size=samples)
    markers = np.zeros((samples, steps))
    rows = np.arange(samples)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    target = values[rows, first] + values[rows, second]
    x = np.stack([values, markers], axis=-1)
    return x.astype(np.float32), target.astype(np.float32), None


POSITIVE = ("good", "great", "fine", "excellent", "lovely")
NEGATIVE = ("bad", "awful", "poor", "boring", "terrible")
OPENERS = ("the movie was", "the acting felt", "the plot seemed", "honestly it was", "i found it", "the film is",
           "overall")
INTENSIFIERS = ("really", "very", "quite")
JOINERS = (",", " but", " and")
TEXT_CLASSES = ["negative", "positive"]


def _text(samples: int, rng) -> Table:
    reviews, labels = [], []
    for _ in range(samples):
        clauses = [_clause(rng) for _ in range(1 if rng.random() < 0.4 else 2)]
        labels.append(review_class([polarity for _, polarity in clauses]))
        text = clauses[0][0]
        for words, _ in clauses[1:]:
            text += f"{JOINERS[rng.integers(len(JOINERS))]} {words}"
        reviews.append(text)
    columns = {"inputs": {"text": ["text"]}, "labels": None, "categorical": [], "text": ["text"]}
    return Table(features={"text": np.array(reviews, dtype=np.object_)}, labels=np.array(labels, dtype=np.int64),
                 class_names=list(TEXT_CLASSES), origin="synthetic text", rows=np.arange(samples, dtype=np.int64),
                 columns=columns)


def review_class(polarities: list) -> int:
    """1 (positive) or 0: the sign of the clauses' polarities, the last one's when they cancel."""
    total = sum(polarities)
    return int((total if total else polarities[-1]) > 0)


def _clause(rng) -> tuple[str, int]:
    """One clause's words and polarity (+1 or -1)."""
    positive = bool(rng.random() < 0.5)
    words = [str(rng.choice(OPENERS))]
    negated = bool(rng.random() < 0.45)
    if negated:
        words.append("not")
    if rng.random() < 0.3:
        words.append(str(rng.choice(INTENSIFIERS)))
    words.append(str(rng.choice(POSITIVE if positive else NEGATIVE)))
    return " ".join(words), (1 if positive else -1) * (-1 if negated else 1)
