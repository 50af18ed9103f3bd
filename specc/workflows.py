"""Application workflows: what a command does from start to end, built from the layers below.

    train_and_export   train a spec, then apply its `export:` section (what `specc train` does)

The training flow (specc/run) never exports and the exporters never train; this is the only
module that does both, so neither of those layers imports the other.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from specc.run.train import Outcome, TrainOptions, train


def train_and_export(resolved: dict, spec_file: str, where: Optional[Callable] = None,
                     options: Optional[TrainOptions] = None, source_files: tuple = ()) -> Outcome:
    """Train; when the run completes and the spec lists export formats, export them (each
    artifact verified in its own runtime) unless `options.export` is off."""
    options = options or TrainOptions()
    outcome = train(resolved, spec_file, where=where, options=options, source_files=source_files)
    export = resolved["export"]
    if options.export and export["formats"] and outcome.record is not None:  # None: not the chief
        from specc.export import export_run

        # the spec was the user's own: its plugins were imported to train it already
        export_run(outcome.record, export["formats"], quantize=export["quantize"], reporter=options.reporter,
                   trust_plugins=True)
    return outcome


# --- the verdict: a network spec against gradient-boosted trees on the same split -------------------

@dataclass
class Trial:
    """One seed of a verdict: both runs and their figures on the compared split."""

    seed: int
    network: Outcome
    trees: Outcome
    split: str
    fold: Optional[int] = None  # with folds: the fold of train + validation that validated

    def figures(self, which: str) -> dict:
        return dict((getattr(self, which).metrics or {}).get(self.split) or {})


def trees_twin(resolved: dict) -> dict:
    """The network spec with its model replaced by trees of the default hyperparameters: the
    same name (plus `-trees`), seed, data, split and task, so the same samples are compared.

    Raises:
        UsageError: The spec is a trees spec already, or its task type is one trees cannot learn.
    """
    import copy

    from specc.errors import UsageError
    from specc.paradigms import declaration_of
    from specc.tasks import trees

    if trees.is_trees(resolved):
        raise UsageError("the verdict compares a network spec with trees; this spec's model is trees already",
                         "give the network spec: the trees are made from it, on the same split")
    declared = declaration_of(resolved)
    if "outputs" in (resolved.get("task") or {}) or declared.trees is None:
        raise UsageError(f"gradient-boosted trees cannot learn this spec's task ({declared.name})",
                         "the verdict compares networks with trees on binary, multiclass, multilabel and "
                         "regression tasks of one output")
    twin = copy.deepcopy(resolved)
    twin["name"] = f"{resolved['name']}-trees"
    twin["model"] = {trees.FORM: trees.defaults()}
    twin["data"]["preprocessing"] = []  # a network's layers: trees split on raw values
    twin["export"] = {**twin["export"], "formats": []}
    return twin


def verdict(resolved: dict, spec_file: str, seeds: int = 1, options: Optional[TrainOptions] = None,
            source_files: tuple = (), folds: Optional[int] = None) -> list[Trial]:
    """Train the network spec and its trees twin (`trees_twin`) on the same split, for `seeds`
    seeds (the spec's seed, then the next ones: each seed its own split) or, with `folds`, on
    each fold of train + validation (`data.split.cross_validation`: the test split stays), and
    return both runs' figures on the test split (the validation split when the spec has no
    test split). Every run is an ordinary run in the runs folder (`specc runs compare`)."""
    import copy
    from dataclasses import replace

    options = replace(options or TrainOptions(), export=False)
    trials = []
    first = int(resolved.get("seed", 0))
    variants = [(first, fold) for fold in range(folds)] if folds else \
        [(first + offset, None) for offset in range(max(1, seeds))]
    for seed, fold in variants:
        network = {**copy.deepcopy(resolved), "seed": seed}
        if fold is not None:
            network["data"]["split"]["cross_validation"] = {"folds": folds, "fold": fold}
        what = f"seed {seed}" + (f", fold {fold}" if fold is not None else "")
        options.reporter.line(f"{what}: the network")
        net = train(network, spec_file, options=options, source_files=source_files)
        options.reporter.line(f"{what}: the trees")
        boosted = train(trees_twin(network), spec_file, options=options, source_files=source_files)
        split = "test" if "test" in net.metrics else "validation"
        trials.append(Trial(seed, net, boosted, split, fold))
    return trials


# Student's t at 97.5 % for 1..30 degrees of freedom: a 95 % interval of a mean over few seeds.
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042)


def interval(values: list) -> tuple[float, Optional[float]]:
    """Mean and the half-width of its 95 % interval (None for a single value)."""
    import statistics

    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, None
    t = T975[min(len(values) - 1, len(T975)) - 1]
    return mean, t * statistics.stdev(values) / len(values) ** 0.5


def verdict_table(trials: list[Trial]) -> list[tuple]:
    """(figure, network mean, trees mean, difference mean, its half-width) for every figure both
    kinds report on the compared split (the baselines once: they are the split's, not a model's)."""
    names = [n for n in trials[0].figures("network") if n in trials[0].figures("trees")]
    rows: list[tuple] = []
    for name in names:
        net = [t.figures("network")[name] for t in trials]
        boosted = [t.figures("trees")[name] for t in trials]
        if name.startswith("baseline_"):
            rows.append((name, interval(net)[0], None, None, None))
            continue
        diff, half = interval([b - n for n, b in zip(net, boosted)])
        rows.append((name, interval(net)[0], interval(boosted)[0], diff, half))
    return rows
