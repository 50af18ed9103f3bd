"""Nearest-prototype classification in numpy, on points already embedded (or raw samples).

Evaluation embeds a split once and scores every episode from those points: the same figures
as running each episode through the model (inference mode embeds each sample on its own),
in a fraction of the time, and the raw-input baseline is the same computation on the raw
samples. `specc predict --with support=...` classifies by the same distances.
"""
from __future__ import annotations

import numpy as np

from specc.paradigms.episodes import Episodes

CHUNK_VALUES = 2**22  # float64 values held at once while scoring episodes (32 MB)


def flat(points: np.ndarray) -> np.ndarray:
    """One row of float64 numbers per sample."""
    return np.asarray(points, dtype=np.float64).reshape(len(points), -1)


def squared_distances(queries: np.ndarray, prototypes: np.ndarray) -> np.ndarray:
    """(..., queries, prototypes) squared euclidean distances of (..., q, d) to (..., p, d)."""
    return np.square(queries[..., :, None, :] - prototypes[..., None, :, :]).sum(axis=-1)


def episode_scores(points: np.ndarray, episodes: Episodes) -> tuple:
    """(accuracy, loss) of every episode: each query goes to its nearest prototype (the mean of
    a class's support points); the loss is the softmax cross-entropy over -distances."""
    points = flat(points)
    ways, shots, queries = episodes.ways, episodes.shots, episodes.queries
    split, width = ways * shots, points.shape[1]
    truth = np.repeat(np.arange(ways), queries)
    per_episode = ways * queries * ways * width
    step = max(1, CHUNK_VALUES // per_episode)
    accuracy, loss = [], []
    for start in range(0, len(episodes.indices), step):
        chunk = episodes.indices[start:start + step]
        prototypes = points[chunk[:, :split]].reshape(len(chunk), ways, shots, width).mean(axis=2)
        logits = -squared_distances(points[chunk[:, split:]], prototypes)
        accuracy.append((logits.argmax(axis=-1) == truth).mean(axis=1))
        loss.append(softmax_loss(logits, truth).mean(axis=1))
    return np.concatenate(accuracy), np.concatenate(loss)


def softmax_loss(logits: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """-log softmax(logits)[truth] along the last axis."""
    top = logits.max(axis=-1, keepdims=True)
    log_total = np.log(np.exp(logits - top).sum(axis=-1)) + top[..., 0]
    return log_total - np.take_along_axis(logits, truth[None, :, None], axis=-1)[..., 0]


def ci95(values: np.ndarray) -> float:
    """Half-width of the 95% confidence interval of the mean: 1.96 * std / sqrt(n)."""
    return float(1.96 * np.std(values) / np.sqrt(len(values)))


def episode_figures(embedded: np.ndarray, raw: np.ndarray, episodes: Episodes) -> dict:
    """loss, accuracy and its ci95 of the model's embedding; the same of raw-input prototypes
    (nearest mean of the raw support samples, no training) on the same episodes."""
    accuracy, loss = episode_scores(embedded, episodes)
    baseline, _ = episode_scores(raw, episodes)
    return {"loss": float(loss.mean()), "accuracy": float(accuracy.mean()), "accuracy_ci95": ci95(accuracy),
            "baseline_accuracy": float(baseline.mean()), "baseline_accuracy_ci95": ci95(baseline)}


def nearest_prototype(queries: np.ndarray, support: np.ndarray, labels: np.ndarray) -> tuple:
    """(class index, squared distances, probabilities) of each query, with one prototype per
    class of `labels` (the class indices are positions in np.unique(labels))."""
    support, queries = flat(support), flat(queries)
    classes = np.unique(labels)
    prototypes = np.stack([support[labels == c].mean(axis=0) for c in classes])
    step = max(1, CHUNK_VALUES // prototypes.size)
    distances = np.concatenate([squared_distances(queries[i:i + step], prototypes)
                                for i in range(0, len(queries), step)] or [np.zeros((0, len(classes)))])
    logits = -distances
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    return distances.argmin(axis=1), distances, weights / weights.sum(axis=1, keepdims=True)
