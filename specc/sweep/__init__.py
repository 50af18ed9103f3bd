"""Hyperparameter sweeps (`specc sweep`): Optuna searches a spec's `sweep:` space, each trial a
normal training run in a process of its own.

    settings.py   the resolved sweep section as one object; the sweep's folder and storage URL
    study.py      Optuna's side: storage (with heartbeats), sampler, pruner, the study, sampling
    driver.py     run_sweep: start trial processes (K at once), follow them, resume, progress
    trial.py      run_trial: what one trial process does (train, report epochs, prune, tell)
    pruning.py    the Keras callback that reports each epoch's metric and stops pruned trials
    results.py    the best trial, the table of trials, trials.csv and sweep.json
    plots.py      PNGs from Optuna's matplotlib plots

The sweep section's space is parsed and checked in the core (specc/sweep_space.py,
specc/checks/sweep.py): `specc validate` needs neither Optuna nor TensorFlow.
Optuna is an optional extra: `pip install 'specc[sweep]'`.
"""
