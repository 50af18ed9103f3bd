"""How good generated samples are, measured with a classifier specc trained on the same data.

    inception_score    exp(E_x[KL(p(y|x) || p(y))]) of the classifier's class probabilities:
                       high when each sample is one clear class and all classes occur (at
                       most the number of classes), 1 when no sample is told apart
    classes_covered    how many classes the classifier gives at least 3% of the samples
    frechet_distance   the Frechet distance between Gaussians fitted to the classifier's
                       features (the activations its output layer takes) of generated and of
                       real samples: 0 when both are distributed alike, lower is better

The same figures of the real samples (`real_inception_score`, `real_classes_covered`, and
`real_frechet_distance` between the training split and the evaluated one) say what a
generator that draws like the data would reach with this classifier and these sample
counts. No TensorFlow at import; the classifier is a Keras model.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from specc.errors import UsageError
from specc.suggest import a_or_an

COVERED_SHARE = 0.03  # a class "is covered" when it holds at least 3% of the samples


def inception_score(probabilities: np.ndarray) -> float:
    """exp(E_x[KL(p(y|x) || p(y))]) of rows of class probabilities (p(y) is their mean)."""
    p = np.clip(np.asarray(probabilities, dtype="float64"), 1e-12, 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    marginal = p.mean(axis=0)
    kl = np.sum(p * (np.log(p) - np.log(marginal)), axis=1)
    return float(np.exp(kl.mean()))


def classes_covered(probabilities: np.ndarray, share: float = COVERED_SHARE) -> int:
    """The number of classes that are the most likely class of at least `share` of the rows."""
    p = np.asarray(probabilities)
    counts = np.bincount(p.argmax(axis=1), minlength=p.shape[1])
    return int(np.sum(counts >= share * len(p)))


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The Frechet distance between Gaussians fitted to two sets of feature rows:
    |mu_a - mu_b|^2 + Tr(C_a) + Tr(C_b) - 2 Tr((C_a C_b)^(1/2)).

    Tr((C_a C_b)^(1/2)) is taken as Tr((S C_b S)^(1/2)) with S = C_a^(1/2): the same value
    (the two matrices are similar), but of a symmetric matrix, whose eigenvalues are real and
    found stably also when a covariance is singular (features that never vary, such as dead
    ReLUs, make scipy.linalg.sqrtm of C_a C_b warn and lose precision).
    """
    a, b = np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    root_a = _psd_sqrt(cov_a)
    middle = root_a @ cov_b @ root_a
    trace_root = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2.0), 0.0, None)))
    distance = np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_root
    return float(max(distance, 0.0))  # rounding can leave -1e-12 for equal sets


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """The square root of a symmetric positive semi-definite matrix (rounding's tiny
    negative eigenvalues taken as 0)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


@dataclass
class Classifier:
    """A trained classifier run's model, as probabilities and features of samples.

    Attributes:
        model: The run's keras model (one input, one output of class scores).
        features_model: Its input -> the activations its output layer takes.
        input_shape: One sample's shape, as the model takes it.
        run_id: The classifier run's id (for messages).
    """

    model: Any
    features_model: Any
    input_shape: tuple
    run_id: str

    def shaped(self, samples: np.ndarray, what: str) -> np.ndarray:
        """Samples reshaped to the classifier's input (64 values -> 8x8x1 is fine).

        Raises:
            UsageError: A sample has another number of values than the classifier takes.
        """
        samples = np.asarray(samples, dtype="float32")
        size, wanted = int(np.prod(samples.shape[1:])), int(np.prod(self.input_shape))
        if size != wanted:
            raise UsageError(f"--with classifier={self.run_id}: {what} have {size} values each, but the "
                             f"classifier takes {list(self.input_shape)} ({wanted} values)",
                             "use a classifier trained on the data this GAN was trained on")
        return samples.reshape((len(samples),) + tuple(self.input_shape))

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities (a softmax is applied when the model ends in logits)."""
        scores = np.asarray(self.model.predict(x, batch_size=256, verbose=0), dtype="float64")
        rows_are_probabilities = scores.min() >= 0.0 and np.allclose(scores.sum(axis=1), 1.0, atol=1e-3)
        if rows_are_probabilities:
            return scores
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    def features(self, x: np.ndarray) -> np.ndarray:
        """The penultimate activations, one flat row per sample."""
        values = np.asarray(self.features_model.predict(x, batch_size=256, verbose=0))
        return values.reshape(len(values), -1)


def classifier_of(model: Any, run_id: str) -> Classifier:
    """Wrap a classifier run's model; its features are the input of the layer that makes its
    output (for a specc classifier: the activations before `head: auto`'s dense softmax).

    Raises:
        UsageError: The model has several inputs or outputs, or no layer before its output.
    """
    import keras

    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UsageError(f"--with classifier={run_id}: its model has {len(model.inputs)} input(s) and "
                         f"{len(model.outputs)} output(s); the quality figures need one of each",
                         "train a single-input classifier of the GAN's data (e.g. specs/lenet-digits.yaml)")
    output_layer = model.outputs[0]._keras_history[0]
    inputs = output_layer.input
    if isinstance(inputs, (list, tuple)) or inputs is model.inputs[0]:
        raise UsageError(f"--with classifier={run_id}: its output layer has no single layer before it to take "
                         "features from", "use a classifier with at least one hidden layer")
    features_model = keras.Model(model.inputs[0], inputs)
    return Classifier(model, features_model, tuple(model.inputs[0].shape[1:]), run_id)


def quality_figures(generated: np.ndarray, real: np.ndarray, train: Any, classifier: Classifier) -> dict:
    """The figures of generated samples against real ones (module docstring).

    Args:
        generated: Samples the generator made, (count, ...), in the data's units.
        real: Real samples of the evaluated split.
        train: Real samples of the training split (for `real_frechet_distance`), or None.
        classifier: The classifier whose probabilities and features measure them.
    """
    fake_x = classifier.shaped(generated, "the generated samples")
    real_x = classifier.shaped(real, "the real samples")
    fake_p, real_p = classifier.probabilities(fake_x), classifier.probabilities(real_x)
    real_features = classifier.features(real_x)
    figures = {"inception_score": inception_score(fake_p), "classes_covered": classes_covered(fake_p),
               "frechet_distance": frechet_distance(classifier.features(fake_x), real_features),
               "real_inception_score": inception_score(real_p), "real_classes_covered": classes_covered(real_p)}
    if train is not None and len(train) > 1:
        train_features = classifier.features(classifier.shaped(train, "the training samples"))
        figures["real_frechet_distance"] = frechet_distance(train_features, real_features)
    return figures


def open_classifier(ref: str, context: Any) -> Classifier:
    """The classifier of run `ref`, opened through `context.open_run`, once its data is known
    to be the evaluated run's.

    Raises:
        UsageError: It cannot be opened here, is no classifier, or was trained on other data
            or other classes.
    """
    from specc.paradigms import declaration_of

    if context.open_run is None:
        raise UsageError("--with classifier= needs a run to evaluate (`specc evaluate RUN`)")
    run = context.open_run(str(ref))
    declared, record = declaration_of(run.resolved), run.record.read()
    if declared.labels != "class_ids" or not declared.supervised:
        raise UsageError(f"--with classifier={ref}: run {run.record.run_id} is {a_or_an(declared.name)} run, not a "
                         "classifier", "train a multiclass classifier of the same data, e.g. "
                         "specs/lenet-digits.yaml, and give its run")
    check_same_data(str(ref), record, run.resolved, context.record, context.resolved)
    return classifier_of(run.load_model("best"), run.record.run_id)


def check_same_data(ref: str, theirs: dict, their_spec: dict, ours: dict, our_spec: dict) -> None:
    """Refuse a classifier run whose data (or classes) are not the evaluated run's: its
    probabilities would name other classes, and its features measure other samples.

    Both records' `data_fingerprint` (of the data as loaded, classes and class names
    included) must agree; runs without one are compared by their data source and selection.

    Raises:
        UsageError: The data or the classes differ.
    """
    hint = "give a classifier run trained on this GAN's data (the same data.source and data.select)"
    mine, other = ours.get("data_fingerprint"), theirs.get("data_fingerprint")
    if mine and other:
        same = mine == other
    else:
        same = all((our_spec.get("data") or {}).get(k) == (their_spec.get("data") or {}).get(k)
                   for k in ("source", "select"))
    if not same:
        raise UsageError(f"--with classifier={ref}: run {theirs.get('run_id')} was trained on other data "
                         f"({_data_text(their_spec)}) than this run ({_data_text(our_spec)})", hint)
    mine_names, their_names = ours.get("class_names"), theirs.get("class_names")
    if mine_names and their_names and list(mine_names) != list(their_names):
        raise UsageError(f"--with classifier={ref}: its classes ({', '.join(map(str, their_names[:10]))}) are "
                         f"not this run's ({', '.join(map(str, mine_names[:10]))})", hint)


def _data_text(spec: dict) -> str:
    data = spec.get("data") or {}
    text = ", ".join(f"{k}: {v}" for k, v in (data.get("source") or {}).items()) or "?"
    select = data.get("select")
    if isinstance(select, dict):
        text += "".join(f", select {key} {value}" for key, value in select.items())
    return text
