"""Plugin modules (`plugins:`), found and read without being imported.

`specc compile` imports each module from the spec's folder first (specc/compile/plugins.py);
validation finds the same file without running it, so a misspelt module name is reported
at once. When every plugin is a plain Python file whose registrations can be read off its
source (classes decorated with `keras.saving.register_keras_serializable`, importing
nothing beyond the standard library, Keras, TensorFlow and NumPy), the layers it registers
are known: a layer name that is neither Keras's, a block's nor a plugin's is then an error,
and a plugin layer's arguments are checked against its constructor. Any module that does
more (registers in a loop, imports other packages) keeps its layers unknown, and unknown
layer names stay warnings. No TensorFlow here, and no plugin code is run.
"""
from __future__ import annotations

import ast
import importlib.util
import os
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from specc.spec_data import items
from specc.spec_data import problem as _p
from specc.suggest import did_you_mean

if TYPE_CHECKING:
    from specc.load.document import Document

MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
# What keras.layers.Layer.__init__ takes besides a subclass's own arguments (a test holds this
# against Keras): a constructor with **kwargs passes them on.
LAYER_BASE_ARGS = ("activity_regularizer", "trainable", "dtype", "autocast", "name")
SAFE_IMPORTS = {"keras", "tensorflow", "numpy"}
LAYER_BASES = {"Layer"}


@dataclass(frozen=True)
class PluginLayer:
    """A layer a plugin registers: its constructor's arguments (None: not known)."""

    cls: str
    args: Optional[tuple]
    keeps_shape: bool = False


def check_plugins(doc: Document) -> list:
    """Each plugin module can be found from the spec's folder, as `specc compile` looks."""
    out = []
    for index, name in enumerate(items(doc.data.get("plugins"))):
        if not isinstance(name, str) or not MODULE.match(name):
            continue  # the schema reports it
        directory = spec_dir(doc, ("plugins", index))
        if _locate(name, directory) is None and "." not in name:
            near = did_you_mean(name, _modules_in(directory))
            hint = f"put {name}.py next to the spec ({_shown(directory)}) or install the package that provides it"
            out.append(_p(doc, ("plugins", index), f"plugin '{name}' cannot be found",
                          f"{near} (a module beside the spec)" if near else hint, code="plugin"))
    return out


def spec_dir(doc: Document, path: tuple) -> str:
    """The folder plugins are imported from: that of the file the entry is written in."""
    position = doc.position_of(path)
    if position is not None and os.path.isfile(position.file):
        return os.path.dirname(os.path.abspath(position.file))
    return os.getcwd()


def plugin_layers(doc: Document) -> Optional[dict]:
    """Layer name -> PluginLayer of every plugin, or None when any plugin is not understood."""
    found: dict = {}
    for index, name in enumerate(items(doc.data.get("plugins"))):
        if not isinstance(name, str) or not MODULE.match(name):
            return None
        where = _locate(name, spec_dir(doc, ("plugins", index)))
        layers = _read(where) if where else None
        if layers is None:
            return None
        found.update(layers)
    return found


def _locate(name: str, directory: str) -> Optional[str]:
    """The source file of a module, looked up the way it is imported (the spec's folder
    first); None when it is not there. A dotted name is looked up only in that folder: a
    package would have to be imported to find its submodules."""
    parts = name.split(".")
    base = Path(directory, *parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return str(candidate)
    if len(parts) > 1:
        return _own_module(parts)
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    return spec.origin if spec.origin and spec.origin.endswith(".py") else ""


def _own_module(parts: list) -> Optional[str]:
    """The file of one of specc's own plugin modules (`specc.compile.text_layers`), found in
    specc's folder without importing its package."""
    if parts[0] != "specc":
        return None
    candidate = Path(__file__).resolve().parent.parent.joinpath(*parts[1:]).with_suffix(".py")
    return str(candidate) if candidate.is_file() else None


def _shown(directory: str) -> str:
    """The folder as the user would write it: relative to where specc runs, when inside it."""
    relative = os.path.relpath(directory)
    return directory if relative.startswith("..") else relative


def _modules_in(directory: str) -> list:
    try:
        return sorted(p.stem for p in Path(directory).glob("*.py"))
    except OSError:
        return []


# --- reading a plugin's source -----------------------------------------------------------------

@lru_cache(maxsize=32)
def _read(path: str) -> Optional[dict]:
    """The layers a plugin file registers, or None when its source does more than this reads."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    if not _plain_imports(tree):
        return None
    found: dict = {}
    covered: set = set()  # the nodes of the decorators read
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        for decorator in node.decorator_list:
            if _is_register(decorator):
                names = _registered_names(node, decorator)
                if names is None:
                    return None
                layer = PluginLayer(node.name, _init_args(node), _keeps_shape(node))
                found.update({name: layer for name in names})
                covered |= {id(part) for part in ast.walk(decorator)}
    other = [n for n in ast.walk(tree) if id(n) not in covered and any(_mentions(n, word) for word in REGISTERING)]
    return None if other else found  # registered some other way (a call, a loop): not known here


REGISTERING = ("register_keras_serializable", "get_custom_objects", "custom_object_scope", "CustomObjectScope")


def _plain_imports(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            tops = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                return False
            tops = [(node.module or "").split(".")[0]]
        else:
            continue
        if any(top not in SAFE_IMPORTS and top not in sys.stdlib_module_names for top in tops):
            return False
    return True


def _is_register(node: ast.AST) -> bool:
    """`@register_keras_serializable` or `@...register_keras_serializable(...)`."""
    return _mentions(node.func if isinstance(node, ast.Call) else node, "register_keras_serializable")


def _mentions(node: ast.AST, word: str) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == word) or (isinstance(node, ast.Name) and node.id == word)


def _registered_names(cls: ast.ClassDef, decorator: ast.AST) -> Optional[list]:
    """The names a spec may call the class by (as specc/compile/layers.py custom_layers looks
    them up): the registered name, `package>name`, and their snake_case forms."""
    package, name = "Custom", cls.name
    if isinstance(decorator, ast.Call):
        given = dict(zip(("package", "name"), decorator.args))
        given.update({k.arg: k.value for k in decorator.keywords if k.arg})
        for field in ("package", "name"):
            value = given.get(field)
            if value is None or (isinstance(value, ast.Constant) and value.value is None):
                continue
            if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
                return None
            package, name = (value.value, name) if field == "package" else (package, value.value)
    return sorted({f"{package}>{name}", name, to_snake_case(name), to_snake_case(cls.name)})


def _keeps_shape(cls: ast.ClassDef) -> bool:
    """`def compute_output_shape(self, input_shape): return input_shape`: the layer's output
    has its input's shape (what Keras uses when it connects the layer)."""
    method = next((n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "compute_output_shape"),
                  None)
    if method is None or len(method.args.args) != 2 or len(method.body) != 1:
        return False
    statement = method.body[0]
    return (isinstance(statement, ast.Return) and isinstance(statement.value, ast.Name)
            and statement.value.id == method.args.args[1].arg)


def _init_args(cls: ast.ClassDef) -> Optional[tuple]:
    """The constructor's argument names (base Layer arguments included when it passes
    **kwargs on to keras.layers.Layer); None when they cannot be told from the source."""
    bases = [b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", None) for b in cls.bases]
    direct = bool(bases) and all(b in LAYER_BASES for b in bases)
    init = next((n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
    if init is None:
        return LAYER_BASE_ARGS if direct else None
    params = init.args
    if params.vararg is not None:
        return None
    own = tuple(a.arg for a in params.posonlyargs + params.args + params.kwonlyargs)[1:]
    if params.kwarg is None:
        return own
    return own + tuple(a for a in LAYER_BASE_ARGS if a not in own) if direct else None


def to_snake_case(name: str) -> str:
    """Keras's own snake_case (keras.src.utils.naming.to_snake_case; a test compares them)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def plugin_args(doc: Document, path: tuple, name: str, value: object, layer: PluginLayer) -> list:
    """A plugin layer's arguments are ones its constructor takes (as specc compile checks)."""
    if layer.args is None:
        return []
    if not isinstance(value, dict):
        short = next((a for a in layer.args if a not in LAYER_BASE_ARGS), None)
        if value is not None and short is None:
            return [_p(doc, path, f"{name} takes no short value ({value!r})", f"write its arguments as a "
                       f"mapping: `{name}: {{name: value}}`", code="unknown-argument")]
        return []
    return [_p(doc, path + (arg,), f"unknown argument '{arg}' for {name}",
               did_you_mean(str(arg), list(layer.args)) or f"{name} takes: {', '.join(layer.args)}",
               code="unknown-argument", key=True)
            for arg in value if arg not in layer.args]
