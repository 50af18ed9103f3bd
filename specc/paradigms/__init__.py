"""The Keras side of each task type: one `Paradigm` per declaration in specc/tasks/.

    paradigm = paradigm_of(resolved)             # from task.type, through specc.registries
    model = build_model(resolved, where=...)     # plugins imported, then paradigm.build

Importing this package imports no TensorFlow; `paradigm_of` imports the one implementation
module it needs.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional

from specc.registries import TASK_TYPES, spec_task_type
from specc.registry import load_conforming
from specc.tasks.base import TaskType
from specc.tasks.trees import is_trees

if TYPE_CHECKING:
    from specc.paradigms.base import Paradigm


def declaration_of(resolved: dict) -> TaskType:
    """The task type of a resolved spec; a spec with several outputs is supervised (each of
    its outputs is a row of the task table, which validation checks)."""
    declared = spec_task_type(resolved)
    if declared is not None:
        return declared
    outputs = (resolved.get("task") or {}).get("outputs") or {}
    first: Any = next(iter(outputs.values()), {}) if isinstance(outputs, dict) else {}  # spec data
    return TASK_TYPES.get(first.get("type", "regression") if isinstance(first, dict) else "regression")


def paradigm_of(resolved: dict) -> Paradigm:
    """The `Paradigm` that builds, trains, evaluates and keeps the spec's model (a trees
    model's, for `model: {trees: ...}`: its task type learned by a booster)."""
    declared = declaration_of(resolved)
    if is_trees(resolved):
        from specc.paradigms.trees import TreesParadigm

        return TreesParadigm(declared)
    return implementation_of(declared)(declared)


def implementation_of(declared: TaskType) -> type[Paradigm]:
    """The `Paradigm` subclass a task type names, checked: a subclass whose overrides take
    the base class's parameters.

    Raises:
        SpeccError: It is not such a class (a bug: exit 70, naming what is wrong).
    """
    from specc.errors import SpeccError
    from specc.paradigms.base import Paradigm

    cls = load_conforming(declared.implementation, Paradigm)
    if not isinstance(cls, type) or not issubclass(cls, Paradigm):
        raise SpeccError(f"{declared.implementation} is not a subclass of specc.paradigms.base.Paradigm")
    return cls


def register_serializables() -> None:
    """Import every paradigm, so `keras.saving.load_model` knows specc's model classes
    (`specc>GAN`, ...). Opening a run needs only its own: `paradigm_of` imports that one."""
    for name in TASK_TYPES:
        implementation_of(TASK_TYPES.get(name))


def build_model(resolved: dict, where: Optional[Callable] = None, spec_dir: Optional[str] = None) -> Any:
    """The uncompiled keras.Model that trains the resolved spec (plugins imported first).

    Args:
        resolved: `specc.render.resolve(spec)`.
        where: Maps a spec path tuple to a Position (or None), e.g. `doc.position_of`.
        spec_dir: Directory to import plugins from (default: the spec file's directory).

    Raises:
        SpecInvalid: Unknown layer/argument, shape errors, missing plugin (with positions).
    """
    from pathlib import Path

    from specc.backbones import pin
    from specc.compile import load_plugins

    load_plugins(resolved.get("plugins") or [], spec_dir, where)
    resolved, _ = pin(resolved, Path(spec_dir or "."), where=where)
    return paradigm_of(resolved).build(resolved, where)


def compile_spec(resolved: dict, total_steps: int = 1000, where: Optional[Callable] = None,
                 spec_dir: Optional[str] = None, steps_per_execution: int = 1,
                 jit_compile: bool = False) -> Any:
    """Build and compile the model of a resolved spec (what `specc compile` shows)."""
    model = build_model(resolved, where, spec_dir)
    return paradigm_of(resolved).compile(model, resolved, total_steps, steps_per_execution, jit_compile, where)


def summarize(model: Any, resolved: dict, where: Optional[Callable] = None,
              total_steps: Optional[int] = None) -> str:
    """The `specc compile` summary of a model built by `build_model`."""
    return paradigm_of(resolved).summary(model, resolved, where, total_steps)


__all__ = ["build_model", "compile_spec", "declaration_of", "implementation_of", "paradigm_of",
           "register_serializables", "summarize"]
