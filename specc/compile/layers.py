"""Build one Keras layer from a resolved layer item.

A layer item is a one-key mapping `{conv2d: {filters: 16, kernel_size: 3}}` (plus the meta
keys `from`, `repeat`, `name`, `trainable`). The key is looked up among Keras's layers
(snake_case, as in the catalog) and the layers plugins registered with
`keras.saving.register_keras_serializable`; the arguments are checked against the
constructor's signature before anything is built, so a misspelt argument is reported with
a did-you-mean instead of a Keras traceback.
"""
from __future__ import annotations

import inspect
import re
from functools import lru_cache
from typing import Any, Callable, Iterable, Optional

import keras
from keras.src.utils.naming import to_snake_case

from specc.compile.objects import as_floats, check_args, init_arg_names, keras_object, kind_of_arg, problem
from specc.compile.shapes import clean_message
from specc.errors import SpecInvalid
from specc.layer_items import META_KEYS, layer_key, normalize_item
from specc.suggest import did_you_mean

# Arguments that hold a nested layer spec (wrappers).
LAYER_ARGS = ("layer", "backward_layer")


def custom_layers() -> dict:
    """Layers registered by plugins: by snake_case class name, registered name and full key."""
    table: dict = {}
    for key, obj in keras.saving.get_custom_objects().items():
        if not (inspect.isclass(obj) and issubclass(obj, keras.layers.Layer)):
            continue
        short = key.split(">")[-1]
        for name in (key, short, to_snake_case(short), to_snake_case(obj.__name__)):
            table.setdefault(name, obj)
    return table


def all_layer_names(extra: Iterable[str] = ()) -> list:
    """Every layer name a spec may use (built-in, plugins, and `extra` such as block names)."""
    return sorted(set(builtin_layers()) | set(custom_layers()) | set(extra))


def builtin_layers() -> dict:
    """snake_case name -> Keras layer class (specc.compile.names keeps the one table)."""
    from specc.compile.names import builtin_layers as table

    return table()


def layer_class(key: str, path: tuple, where: Optional[Callable] = None, blocks: Iterable[str] = ()) -> type:
    """The Keras class for a spec's layer name.

    Raises:
        SpecInvalid: Unknown name (with did-you-mean among layers and blocks).
    """
    cls = builtin_layers().get(key) or custom_layers().get(key)
    if cls is not None:
        return cls
    hint = did_you_mean(key, all_layer_names(blocks))
    if hint is None:
        hint = ("a layer of a plugin must be registered with "
                "@keras.saving.register_keras_serializable and its module listed under `plugins:`")
    raise problem(tuple(path), f"unknown layer '{key}'", hint, where)


@lru_cache(maxsize=None)
def input_mode(cls) -> str:
    """How a layer takes several inputs: `list` (merge layers, attention), `positional`
    (multi_head_attention(query, value)), or `single`."""
    merge = getattr(keras.layers, "Concatenate").__mro__[1]  # the Merge base class
    if issubclass(cls, (merge, keras.layers.Attention)):
        return "list"
    try:
        params = list(inspect.signature(cls.call).parameters.values())[1:]
    except (TypeError, ValueError, AttributeError):
        return "single"
    required = [p for p in params if p.default is p.empty
                and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return "positional" if len(required) >= 2 else "single"


def build_layer(item: Any, path: tuple, where: Optional[Callable] = None, name: Optional[str] = None,
                defaults: Optional[dict] = None, blocks: Iterable[str] = ()) -> Any:
    """Construct (but do not call) the Keras layer a layer item describes.

    Args:
        item: A resolved layer item, e.g. `{"dense": {"units": 64}, "name": "hidden"}`.
        path: Spec path of the item (for messages), e.g. `("model", "layers", 3)`.
        where: Maps a spec path to a Position (or None).
        name: The Keras layer name (None: the item's `name:` or Keras's default).
        defaults: Arguments used when the layer takes them and the spec gives none
            (e.g. `{"kernel_initializer": "he_normal"}` from `model.initializer`, or
            `{"dtype": "float32"}` for an output layer under mixed precision).
        blocks: Block names, only for did-you-mean when the name is unknown.

    Returns:
        The layer (with `trainable` set when the item says so).

    Raises:
        SpecInvalid: Unknown layer, unknown/missing argument, bad argument value.
    """
    item = normalize_item(item)
    key = layer_key(item)
    if key is None:
        raise problem(tuple(path), "a layer item needs exactly one layer name besides "
                      f"{', '.join(META_KEYS)}; found {', '.join(map(str, item)) or 'nothing'}",
                      "write it as `{dense: {units: 64}}`", where)
    cls = layer_class(key, tuple(path) + (key,), where, blocks)
    args_path = tuple(path) + (key,)
    raw = item[key] if item[key] is not None else {}
    if not isinstance(raw, dict):  # a plugin layer's short value: its first constructor argument
        first = (init_arg_names(cls)[0] or [None])[0]
        if first is None or first in ("name", "trainable", "dtype"):
            raise problem(args_path, f"{key} takes no short value ({raw!r})",
                          f"write its arguments as a mapping: `{key}: {{name: value}}`", where)
        raw = {first: raw}
    check_args(cls, raw, key, args_path, where)
    args = {arg: convert_arg(cls, key, arg, value, args_path, where, blocks)
            for arg, value in as_floats("layers", key, raw).items()}
    known, _, _ = init_arg_names(cls)
    for arg, value in (defaults or {}).items():
        if arg in known and arg not in args and value is not None:
            kind = kind_of_arg(arg)
            args[arg] = keras_object(kind, value, ("model", "initializer"), where) if kind else value
    layer_name = name or item.get("name")
    if layer_name and "name" not in args:
        args["name"] = layer_name
    try:
        layer = cls(**args)
    except SpecInvalid:
        raise
    except Exception as err:  # noqa: BLE001 - a bad value becomes a spec problem
        message = clean_message(err)
        arg = _named_argument(message, raw)
        path = args_path + (arg,) if arg else args_path
        raise problem(path, f"{key}: {message}", _value_hint(key, arg, raw), where) from None
    if "trainable" in item:
        layer.trainable = bool(item["trainable"])
    return layer


def convert_arg(cls, key: str, arg: str, value: Any, path: tuple, where: Optional[Callable],
                blocks: Iterable[str] = ()) -> Any:
    """One argument value as the layer constructor takes it."""
    if arg in LAYER_ARGS and isinstance(value, (dict, str)) and _takes_layer(cls, arg):
        return build_layer(value, tuple(path) + (arg,), where, blocks=blocks)
    kind = kind_of_arg(arg)
    if kind:
        return keras_object(kind, value, tuple(path) + (arg,), where)
    return value


def _takes_layer(cls, arg: str) -> bool:
    names, _, _ = init_arg_names(cls)
    return arg in names


def _named_argument(message: str, args: dict) -> Optional[str]:
    """The argument of the spec a Keras message is about (`padding`, `rate`), if it names one."""
    named = [arg for arg in args if re.search(rf"\b{re.escape(arg)}\b", message)]
    return named[0] if len(named) == 1 else None


def _value_hint(key: str, arg: Optional[str], args: dict) -> Optional[str]:
    """What to change: the argument Keras refused, with the value the spec gave it."""
    if arg is not None:
        return f"change {arg}: {args[arg]!r} to a value the message allows"
    return f"check the arguments given to {key}: {', '.join(args) or 'none'}"
