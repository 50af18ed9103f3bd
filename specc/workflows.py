"""Application workflows: what a command does from start to end, built from the layers below.

    train_and_export   train a spec, then apply its `export:` section (what `specc train` does)

The training flow (specc/run) never exports and the exporters never train; this is the only
module that does both, so neither of those layers imports the other.
"""
from __future__ import annotations

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
