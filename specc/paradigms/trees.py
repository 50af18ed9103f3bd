"""Gradient-boosted trees (XGBoost) as the model of a spec: `model: {trees: {...}}`.

The data path, the splits, the run record, the baselines and the figures are the networks':
only how the model is built, fitted, kept and asked differs. The figures of a split are the
spec's own loss and metrics, computed by Keras on the booster's outputs (an identity model
compiled as `specc train` compiles a network), so a trees run and a network run of the same
task report the same names, computed the same way.

A booster keeps what it needs to read new data inside itself (its attributes: the feature
columns and each categorical column's categories, the training state), so a saved model
file is a checkpoint that resumes exactly and a model that predicts on its own.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple, Optional

import numpy as np

from specc.data.table import Table
from specc.errors import DataError
from specc.paradigms.base import Context, Paradigm, baselines
from specc.tasks.base import TaskType
from specc.tasks.trees import FORM

STATE = "specc_history"  # booster attribute: the history of its rounds (JSON rows)
PLAN = "specc_plan"  # booster attribute: feature keys, names, categories


# --- the data as XGBoost takes it ----------------------------------------------------------------

@dataclass
class Plan:
    """Which features, in which order, and the categories of each categorical one (from the
    training split: other data is coded with them, an unseen category becomes missing)."""

    keys: list
    names: list
    types: list  # XGBoost's feature types: `c` a categorical column, `q` a number
    categories: dict = field(default_factory=dict)

    @classmethod
    def of(cls, table: Table) -> "Plan":
        keys = list(table.features)
        names: list = []
        types: list = []
        for key in keys:
            width = _width(table.features[key])
            if key == "x" and table.feature_names and len(table.feature_names) == width:
                names += list(table.feature_names)
            else:
                names += [key] if width == 1 else [f"{key}_{i}" for i in range(width)]
            types += ["c" if key in table.categorical else "q"] * width
        categories = {key: [str(v) for v in table.categorical[key]] for key in keys if key in table.categorical}
        return cls(keys, names, types, categories)

    def matrix(self, table: Table) -> np.ndarray:
        """The samples as one float matrix, categorical columns as category codes."""
        blocks = []
        for key in self.keys:
            if key not in table.features:
                raise DataError(f"{table.origin}: no feature '{key}', which the trees were trained on",
                                hint=f"the run reads: {', '.join(self.keys)}")
            values = np.asarray(table.features[key])
            if key in self.categories:
                lookup = {name: i for i, name in enumerate(self.categories[key])}
                codes = [lookup.get(str(v), np.nan) for v in values.reshape(len(values), -1)[:, 0]]
                blocks.append(np.asarray(codes, dtype=np.float32).reshape(-1, 1))
            else:
                blocks.append(values.reshape(len(values), -1).astype(np.float32))
        return np.concatenate(blocks, axis=1)

    def to_json(self) -> str:
        return json.dumps({"keys": self.keys, "names": self.names, "types": self.types,
                           "categories": self.categories})

    @classmethod
    def from_json(cls, text: str) -> "Plan":
        data = json.loads(text)
        return cls(list(data["keys"]), list(data["names"]), list(data["types"]), dict(data["categories"]))


def _width(values: Any) -> int:
    values = np.asarray(values)
    return 1 if values.ndim == 1 else int(np.prod(values.shape[1:]))


def labels_of(table: Table, task: dict) -> np.ndarray:
    """The labels as XGBoost fits them: class ids (one-hot rows become ids), 0/1, or numbers."""
    labels = np.asarray(table.labels)
    if task.get("type") == "multiclass" and labels.ndim == 2 and labels.shape[1] > 1:
        return labels.argmax(axis=1).astype(np.float32)
    if task.get("type") in ("binary", "regression") and labels.ndim == 2 and labels.shape[1] == 1:
        return labels[:, 0].astype(np.float32)
    return labels.astype(np.float32)


def dmatrix(plan: Plan, table: Table, task: Optional[dict] = None) -> Any:
    import xgboost as xgb

    label = labels_of(table, task) if task is not None and table.labels is not None else None
    return xgb.DMatrix(plan.matrix(table), label=label, feature_names=plan.names,
                       feature_types=plan.types, enable_categorical=bool(plan.categories))


# --- the booster's parameters ---------------------------------------------------------------------

EVAL_METRIC = {"binary:logistic": "logloss", "multi:softprob": "mlogloss", "reg:squarederror": "rmse"}


def params(declared: TaskType, resolved: dict, classes: Optional[int]) -> dict:
    """XGBoost's parameters for the spec: its hyperparameters, the task's objective, the seed.

    One thread: the same spec gives the same booster (a histogram summed in another order
    may split differently) and the machine's other work keeps its cores."""
    trees = dict(resolved["model"][FORM])
    for key in ("rounds", "early_stopping_rounds"):
        trees.pop(key, None)
    objective = declared.trees or ""
    out = {**trees, "objective": objective, "eval_metric": EVAL_METRIC[objective],
           "seed": int(resolved.get("seed", 0)), "nthread": 1, "verbosity": 0}
    if objective == "multi:softprob":
        out["num_class"] = int(classes or resolved["task"]["classes"])
    if declared.name == "multilabel":
        out["multi_strategy"] = "one_output_per_tree"
    return out


# --- the model -----------------------------------------------------------------------------------

class Signature(NamedTuple):
    name: str
    shape: tuple
    dtype: str


class TreesModel:
    """A booster with what reads data into it: what evaluate, predict and export receive.

    Attributes:
        booster: The xgboost.Booster (all its rounds).
        plan: The features it reads.
        best_round: How many rounds make the kept model (early stopping's best), or None: all.
    """

    output_names = ["output"]
    input_names = ["features"]  # an exported model's one input: the feature matrix

    def __init__(self, booster: Any, plan: Plan, best_round: Optional[int] = None):
        self.booster = booster
        self.plan = plan
        self.best_round = best_round

    @classmethod
    def load(cls, path: Any) -> "TreesModel":
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(str(path))
        progress = Progress.replayed(json.loads(booster.attr(STATE) or "[]"))
        return cls(booster, Plan.from_json(booster.attr(PLAN) or "{}"), progress.best_round)

    def kept(self) -> Any:
        """The booster of the kept rounds (early stopping's best, else every round)."""
        if self.best_round is None or self.best_round >= self.booster.num_boosted_rounds():
            return self.booster
        return self.booster[: self.best_round]

    def predict(self, x: np.ndarray, verbose: int = 0, batch_size: int = 256) -> np.ndarray:
        """Probabilities (classification) or values, one row per sample, as a network's head
        would give them: (n, 1) for binary and one target, (n, classes), (n, labels)."""
        import xgboost as xgb

        data = xgb.DMatrix(x, feature_names=self.plan.names, feature_types=self.plan.types,
                           enable_categorical=bool(self.plan.categories))
        rounds = self.best_round or self.booster.num_boosted_rounds()
        values = np.asarray(self.booster.predict(data, iteration_range=(0, rounds)), dtype=np.float32)
        return values.reshape(len(x), -1)

    @property
    def outputs(self) -> list:
        """The one output's signature (name, shape, dtype), as an export's manifest lists it."""
        width = self.predict(np.zeros((1, len(self.plan.names)), dtype=np.float32)).shape[1]
        return [Signature("output", (None, width), "float32")]

    def importances(self) -> dict:
        """Feature -> total gain of its splits (XGBoost's `total_gain`), largest first."""
        scores = self.kept().get_score(importance_type="total_gain")
        return dict(sorted(((k, float(v)) for k, v in scores.items()), key=lambda kv: -kv[1]))


_SCORERS: dict = {}  # one per width, loss and metrics: a new model per split would retrace its step


def scorer(width: int, resolved: dict) -> Any:
    """An identity Keras model compiled with the spec's loss and metrics: `evaluate(outputs,
    labels)` gives the figures a network of the same spec would report for those outputs."""
    import keras

    from specc.compile.training import compile_model

    key = json.dumps([width, resolved.get("loss"), resolved.get("metrics")], sort_keys=True, default=str)
    if key not in _SCORERS:
        inputs = keras.Input(shape=(width,), name="output_values")
        model = keras.Model(inputs, keras.layers.Identity(name="output")(inputs))
        _SCORERS[key] = compile_model(model, {**resolved, "optimizer": "sgd", "schedule": None}, total_steps=1)
    return _SCORERS[key]


def figures(model: TreesModel, table: Table, resolved: dict, train: Optional[Table] = None) -> dict:
    """The split's loss and metrics (as a network's evaluate reports them) and baselines."""
    from specc.data.pipeline import to_arrays

    outputs = model.predict(model.plan.matrix(table))
    _, y = to_arrays(table, None, None, ["output"])
    values = scorer(outputs.shape[1], resolved).evaluate(outputs, y, verbose=0, batch_size=1024,
                                                         return_dict=True)
    out = {k: float(v) for k, v in values.items()}
    if train is not None:
        out.update(baselines(table, train, resolved))
    return out


class TreesParadigm(Paradigm):
    """A supervised task learned by trees: evaluate and predict through the booster."""

    keras_train_step = False

    def build(self, resolved: dict, where: Any = None) -> Any:
        """Nothing to build before the data is seen: `specc train` makes the booster."""
        return None

    def compile(self, model: Any, resolved: dict, total_steps: int, steps_per_execution: int = 1,
                jit_compile: bool = False, where: Any = None) -> Any:
        return model

    def summary(self, model: Any, resolved: dict, where: Any = None, total_steps: Optional[int] = None) -> str:
        """What `specc compile` prints of a trees spec: the objective and the hyperparameters."""
        declared = self.task_type
        lines = [f"Gradient-boosted trees (XGBoost), objective {declared.trees}, one tree per round"
                 + (" and class" if declared.trees == "multi:softprob" else "")]
        lines += [f"  {key:<22} {value}" for key, value in resolved["model"][FORM].items()]
        metrics = resolved.get("metrics") or []
        lines.append(f"Figures: loss {resolved.get('loss')} (on the booster's outputs), metrics "
                     f"{', '.join(map(str, metrics)) or 'none'}")
        return "\n".join(lines)

    def evaluate(self, model: Any, table: Table, context: Context) -> dict:
        return figures(model, table, context.resolved, context.train)

    def inputs(self, model: Any, table: Table) -> Any:
        return model.plan.matrix(table)


# --- boosting, round by round ----------------------------------------------------------------------

@dataclass
class Progress:
    """Where boosting stands. Its history travels inside each saved booster, so a checkpoint
    and its state are one file (one atomic rename: a kill -9 leaves the old one or the new);
    the best round and the wait are replayed from that history on resume.

    Attributes:
        history: One row per round boosted: {"epoch": round, "loss": ..., "val_loss": ...}.
        best_round: Rounds of the best validation loss so far (None without a validation split).
        best: That loss.
        wait: Rounds since it last improved.
    """

    history: list = field(default_factory=list)
    best_round: Optional[int] = None
    best: Optional[float] = None
    wait: int = 0

    @property
    def rounds(self) -> int:
        return len(self.history)

    def add(self, row: dict) -> None:
        """One more round's row: its losses, and the best and wait they make."""
        self.history.append(row)
        value = row.get("val_loss")
        if value is None:
            return
        if self.best is None or value < self.best:
            self.best, self.best_round, self.wait = value, row["epoch"], 0
        else:
            self.wait += 1

    def stops(self, patience: Optional[int]) -> bool:
        """Early stopping: no better validation loss for `patience` rounds."""
        return bool(patience) and self.best_round is not None and self.wait >= int(patience or 0)

    @classmethod
    def replayed(cls, history: list) -> "Progress":
        progress = cls()
        for row in history:
            progress.add(dict(row))
        return progress


def round_losses(booster: Any, dtrain: Any, dvalid: Any, index: int) -> dict:
    """The training and validation loss after round `index` (0-based), by XGBoost's own
    metric of the objective: log loss, or the squared error (its rmse squared, as
    mean_squared_error is)."""
    sets = [(dtrain, "train")] + ([(dvalid, "validation")] if dvalid is not None else [])
    text = booster.eval_set(sets, iteration=index)
    row = {}
    for part in text.split("\t")[1:]:
        name, value = part.rsplit(":", 1)
        split, metric = name.split("-", 1)
        number = float(value) ** 2 if metric == "rmse" else float(value)
        row["loss" if split == "train" else "val_loss"] = number
    return row


def boost(booster: Any, dtrain: Any, dvalid: Any, total: int, patience: Optional[int], progress: Progress,
          after_round: Callable[[Progress], None]) -> Progress:
    """Boost up to `total` rounds after those done, one `update` at a time (the round's number
    is XGBoost's iteration, so a resumed booster continues the same sequence), stopping early
    when the validation loss has not improved for `patience` rounds."""
    for index in range(progress.rounds, total):
        if progress.stops(patience):
            break
        booster.update(dtrain, index)
        progress.add({"epoch": index + 1, **round_losses(booster, dtrain, dvalid, index)})
        after_round(progress)
    return progress
