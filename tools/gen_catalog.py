"""Generate specc's Keras catalog from the installed Keras.

    python tools/gen_catalog.py            # rewrite the two generated files
    python tools/gen_catalog.py --check    # exit 1 if they are out of date

Writes specc/catalog/keras_layers.json (layers, activations, initializers, ...,
each with its constructor arguments) and schemas/layers-v1.defs.json (JSON Schema
$defs for layer arguments, spliced into the main schema). Never edit those by hand.
"""
import importlib
import inspect
import json
import math
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from arg_constraints import NEEDS_ONE_OF, constraint_for, object_constraint_for  # noqa: E402

CATALOG_PATH = ROOT / "specc" / "catalog" / "keras_layers.json"
DEFS_PATH = ROOT / "schemas" / "layers-v1.defs.json"

# Classes in keras.layers that cannot be built from a plain spec.
SKIP_LAYERS = {
    "Layer", "Wrapper", "InputLayer",        # bases; specc declares inputs itself
    "Lambda",                                # needs a Python function
    "RNN", "StackedRNNCells", "Pipeline",    # need cell / layer objects or lists
    "GRUCell", "LSTMCell", "SimpleRNNCell",  # only usable inside RNN (skipped)
    "JaxLayer", "FlaxLayer", "TorchModuleWrapper",  # other-backend interop
    "TFSMLayer",                             # wraps an external SavedModel
}
# Where Keras's own to_snake_case gives something ugly.
SNAKE_OVERRIDES = {"PReLU": "prelu", "ReLU": "relu", "LeakyReLU": "leaky_relu"}
WRAPPER_LAYER_ARGS = {"layer", "backward_layer"}
# Layers (besides Merge subclasses) whose call() takes a list of tensors.
LIST_INPUT_LAYERS = {"Attention", "AdditiveAttention", "HashedCrossing"}
BASE_ARGS = (("name", None), ("dtype", None), ("trainable", True))
# Types for arguments whose default (None / required) says nothing.
TYPE_HINTS = {
    "units": "integer", "filters": "integer", "kernel_size": "integer",
    "pool_size": "integer", "output_size": "integer", "strides": "integer",
    "num_heads": "integer", "num_query_heads": "integer", "head_dim": "integer",
    "num_key_value_heads": "integer", "key_dim": "integer", "value_dim": "integer",
    "input_dim": "integer", "output_dim": "integer", "n": "integer",
    "height": "integer", "width": "integer", "max_number": "integer",
    "num_bins": "integer", "num_tokens": "integer", "max_tokens": "integer",
    "output_sequence_length": "integer", "seed": "integer", "axes": "integer",
    "rate": "number", "stddev": "number", "scale": "number", "max_value": "number",
    "factor": "number", "height_factor": "number", "width_factor": "number",
    "target_shape": "array", "dims": "array", "noise_shape": "array",
    "equation": "string", "activation": "string", "data_format": "string",
    "name": "string", "dtype": "string", "lora_rank": "integer", "output_padding": "integer",
}
# Schema types that the default cannot tell (Keras accepts more than it shows).
SCHEMA_TYPE_OVERRIDES = {
    "merge_mode": ["string", "null"], "standardize": ["string", "null"],
    "split": ["string", "null"], "window": ["string", "null"],
    "use_cudnn": ["string", "boolean"], "fill_value": ["number"],
    # a list only (Keras iterates over them): `reshape: 4` or `weights: 1` would be refused
    "target_shape": ["array"], "weights": ["array", "null"],
}
TUPLEISH = re.compile(r"size|stride|dilation|pool|cropping|padding|shape|axis|axes")
OBJECT_ARG = re.compile(r"(_initializer|_regularizer|_constraint)$|^(recurrent_)?activation$")
ANY_SHORT = ["string", "number", "integer", "boolean", "array"]

KINDS = ("activations", "initializers", "regularizers", "constraints",
         "losses", "metrics", "optimizers")
KIND_SKIP = {"Loss", "LossFunctionWrapper", "Metric", "Mean", "Sum",
             "MeanMetricWrapper", "Initializer", "Regularizer", "Constraint",
             "Optimizer", "MultiOptimizer", "OptimizerMap", "LossScaleOptimizer",
             "LearningRateSchedule"}
DATA_PARAMS = {"x", "y_true", "y_pred"}
SNAKE_NAME = re.compile(r"[a-z][a-z0-9_]*")


def import_keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    return keras


def snake(name):
    from keras.src.utils.naming import to_snake_case
    return SNAKE_OVERRIDES.get(name) or to_snake_case(name)


def first_doc_line(obj):
    lines = (inspect.getdoc(obj) or "").splitlines()
    return next((ln.strip() for ln in lines if ln.strip()), "")


def json_value(value):
    """(JSON-safe value, is_repr) for a default value."""
    if value is None or isinstance(value, (bool, int, str)):
        return value, False
    if isinstance(value, float):
        return (value, False) if math.isfinite(value) else (repr(value), True)
    if isinstance(value, (tuple, list)):
        items = [json_value(v) for v in value]
        if not any(flag for _, flag in items):
            return [v for v, _ in items], False
    if inspect.isfunction(value) or inspect.isclass(value):
        return f"{value.__module__}.{value.__qualname__}", True
    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value)), True


def json_type(value):
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (tuple, list)):
        return "array"
    return None


def make_arg(name, default, required):
    arg = {"name": name, "required": required, "default": None, "type": None}
    if not required:
        arg["default"], is_repr = json_value(default)
        if is_repr:
            arg["default_repr"] = True
        else:
            arg["type"] = json_type(default)
    if arg["type"] is None and name in TYPE_HINTS:
        arg["type"] = TYPE_HINTS[name]
    return arg


def signature_args(func, skip=()):
    """(args, accepts **kwargs) from a constructor or function signature."""
    args, var_kw = [], False
    for p in inspect.signature(func).parameters.values():
        if p.kind is p.VAR_KEYWORD:
            var_kw = True
        if p.name == "self" or p.name in skip or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        args.append(make_arg(p.name, p.default, p.default is p.empty))
    return args, var_kw


# ---------------------------------------------------------------- layers

def layer_entry(keras, cls, export_name):
    args, var_kw = signature_args(cls.__init__)
    own = [a["name"] for a in args]
    short = next((n for n in own if n not in dict(BASE_ARGS)), None)
    for name, default in BASE_ARGS:
        if name in own:
            args[own.index(name)]["base"] = True
        elif var_kw:
            args.append(dict(make_arg(name, default, False), base=True))
    from keras.src.layers.merging.base_merge import Merge
    wrapper = cls is keras.layers.Bidirectional or issubclass(cls, keras.layers.Wrapper)
    if wrapper:
        for a in args:
            if a["name"] in WRAPPER_LAYER_ARGS:
                a["layer"] = True
    entry = {"class": export_name, "module": "keras.layers", "doc": first_doc_line(cls),
             "args": args, "short": short, "wrapper": wrapper,
             "merge": issubclass(cls, Merge) or export_name in LIST_INPUT_LAYERS}
    call = [p.name for p in inspect.signature(cls.call).parameters.values()
            if p.name != "self" and p.default is p.empty
            and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(call) > 1:
        entry["call_args"] = call
    return entry


def layer_exports(keras):
    """{class: [exported names]} for the public Layer subclasses we keep."""
    exports = {}
    for name in sorted(dir(keras.layers)):
        obj = getattr(keras.layers, name)
        if inspect.isclass(obj) and issubclass(obj, keras.layers.Layer):
            exports.setdefault(obj, []).append(name)
    return {c: n for c, n in exports.items() if not SKIP_LAYERS & set(n)}


def with_constraints(name, entry):
    """The entry with each argument's constraint (tools/arg_constraints.py) attached."""
    for arg in entry["args"]:
        found = constraint_for(name, arg)
        if found is not None:
            arg["constraint"] = found.schema
            if not found.items:
                arg["constraint_items"] = False
    if name in NEEDS_ONE_OF:
        entry["needs_one_of"] = list(NEEDS_ONE_OF[name])
    return entry


def build_layers(keras):
    layers = {}
    for cls, names in layer_exports(keras).items():
        canonical = cls.__name__ if cls.__name__ in names else names[0]
        entry = with_constraints(snake(canonical), layer_entry(keras, cls, canonical))
        layers[snake(canonical)] = entry
        for alias in names:
            if alias != canonical:
                layers[snake(alias)] = dict(entry, alias_of=snake(canonical))
    return dict(sorted(layers.items()))


# ---------------------------------------------------------------- other kinds

def kind_candidates(module, src):
    names = set(getattr(src, "ALL_OBJECTS_DICT", {}))
    for name in dir(module):
        obj = getattr(module, name)
        if inspect.isclass(obj):
            names |= {snake(name), name.lower()}
        elif inspect.isfunction(obj):
            names.add(name)
    names -= {"get", "serialize", "deserialize"}
    return sorted(n for n in names if SNAKE_NAME.fullmatch(n))


def resolve(module, src, name):
    """The function or class keras.<module>.get(name) gives, or None."""
    try:
        obj = module.get(name)
    except TypeError:  # a class needing constructor arguments
        obj = getattr(src, "ALL_OBJECTS_DICT", {}).get(name)
        if not (inspect.isclass(obj) and any(a["required"] for a in signature_args(obj.__init__)[0])):
            return None
    except Exception:
        return None
    if obj is None or inspect.isfunction(obj) or inspect.isclass(obj):
        return obj
    return type(obj)


def object_entry(module, obj, module_name):
    if inspect.isclass(obj):
        return {"class": obj.__name__, "module": module_name,
                "args": signature_args(obj.__init__)[0]}
    entry = {"function": obj.__name__, "module": module_name,
             "args": signature_args(obj, skip=DATA_PARAMS)[0]}
    twin = next((getattr(module, n) for n in dir(module)
                 if inspect.isclass(getattr(module, n)) and snake(n) == obj.__name__), None)
    if twin is not None:  # e.g. losses.huber and losses.Huber
        entry.update({"class": twin.__name__, "args": signature_args(twin.__init__)[0]})
    return entry


def canonical_name(obj, names):
    if inspect.isfunction(obj):
        preferred = [obj.__name__]
    else:
        preferred = [snake(obj.__name__), obj.__name__.lower()]
    return next((n for n in preferred if n in names), min(names))


def build_kind(keras, kind):
    module = getattr(keras, kind)
    src = importlib.import_module(f"keras.src.{kind}")
    by_obj = {}
    for name in kind_candidates(module, src):
        obj = resolve(module, src, name)
        if obj is not None and obj.__name__ not in KIND_SKIP:
            by_obj.setdefault(obj, []).append(name)
    out = {}
    for obj, names in by_obj.items():
        entry = object_entry(module, obj, f"keras.{kind}")
        main = canonical_name(obj, names)
        for name in names:
            out[name] = entry if name == main else dict(entry, alias_of=main)
    return with_object_constraints(kind, dict(sorted(out.items())))


def with_object_constraints(kind, entries):
    """Each named object's arguments with their constraint (tools/arg_constraints.py)."""
    out = {}
    for name, entry in entries.items():
        args = []
        for arg in entry["args"]:
            found = object_constraint_for(kind, entry.get("alias_of", name), arg)
            args.append(dict(arg, constraint=found.schema) if found else arg)
        out[name] = dict(entry, args=args)
    return out


def build_schedules(keras):
    module = keras.optimizers.schedules
    base = module.LearningRateSchedule
    out = {}
    for name in dir(module):
        obj = getattr(module, name)
        if inspect.isclass(obj) and issubclass(obj, base) and name not in KIND_SKIP:
            out[snake(name)] = {"class": name, "module": "keras.optimizers.schedules",
                                "args": signature_args(obj.__init__)[0]}
    return with_object_constraints("schedules", dict(sorted(out.items())))


def build_catalog():
    keras = import_keras()
    catalog = {"keras_version": keras.__version__, "generated_by": "tools/gen_catalog.py",
               "layers": build_layers(keras), "schedules": build_schedules(keras)}
    for kind in KINDS:
        catalog[kind] = build_kind(keras, kind)
    return catalog


# ---------------------------------------------------------------- schema $defs

def schema_types(arg):
    name, kind = arg["name"], arg["type"]
    if name in SCHEMA_TYPE_OVERRIDES:
        return list(SCHEMA_TYPE_OVERRIDES[name])
    if OBJECT_ARG.search(name):
        return ["string", "object", "null"]
    if kind is None:
        return None
    if kind in ("integer", "array") and TUPLEISH.search(name):
        types = ["integer", "array"]
    elif kind == "number" and re.search(r"factor|range", name):
        types = ["number", "array"]
    else:
        types = [kind]
    if not arg["required"] and arg["default"] is None:
        types.append("null")
    return types


def arg_schema(arg):
    if arg["required"]:
        desc = "required"
    else:
        desc = "default: " + (arg["default"] if arg.get("default_repr") else json.dumps(arg["default"]))
    if arg.get("layer"):
        return {"description": "a layer spec; " + desc, "$ref": "#/$defs/layer_item"}
    kind = OBJECT_ARG.search(arg["name"])
    if kind:
        call = object_call_def(arg["name"])
        if call:
            return {"description": desc, "$ref": f"#/$defs/{call}"}
    schema = {"description": desc}
    types = schema_types(arg)
    if types:
        schema["type"] = types
    return constrained(schema, arg.get("constraint"), arg.get("constraint_items", True))


def object_call_def(arg_name):
    """The $defs entry a layer's object argument refers to (kernel_initializer -> initializer_call)."""
    for suffix, call in (("_initializer", "initializer_call"), ("_regularizer", "regularizer_call"),
                         ("_constraint", "constraint_call")):
        if arg_name.endswith(suffix):
            return call
    return None


def constrained(schema, constraint, items=True):
    """An argument's schema with its constraint: an enum replaces the type; a range applies
    to the number and, for size-like arguments that take lists, to every item (unless
    `items` is False)."""
    if not constraint:
        return schema
    if "enum" in constraint:
        return {"description": schema["description"], "enum": list(constraint["enum"])}
    schema = dict(schema, **constraint)
    types = schema.get("type") or []
    if "array" in types and items:
        item_type = "integer" if "integer" in types else "number"
        schema["items"] = {"type": item_type, **constraint}
    return schema


def layer_schema(info):
    args = {a["name"]: a for a in info["args"]}
    required = [a["name"] for a in info["args"] if a["required"]]
    alias = f", alias of {info['alias_of']}" if "alias_of" in info else ""
    obj = {"type": "object", "properties": {n: arg_schema(a) for n, a in args.items()},
           "additionalProperties": False, "required": required}
    desc = f"{info['doc']} (keras.layers.{info['class']}{alias})"
    if info["wrapper"]:  # `bidirectional: {lstm: 64}` -- the short form is a layer spec
        return {"description": desc, "anyOf": [obj, {"$ref": "#/$defs/layer_item"}]}
    types = ["object"]
    if not required:
        types.append("null")
    short = info["short"]
    short_range = {}
    if short and set(required) <= {short}:
        for t in schema_types(args[short]) or ANY_SHORT:
            if t not in types and t not in ("object", "null"):
                types.append(t)
        # a short value (`dropout: 0.25`) is held to its argument's range too; these keywords
        # apply to numbers only, so the long form (a mapping) is unaffected
        constraint = args[short].get("constraint") or {}
        short_range = {k: v for k, v in constraint.items() if k in ("minimum", "maximum", "items")}
        if "enum" in constraint:  # and to its choices (`global_max_pooling2d: channels_first`)
            short_range.update({"if": {"not": {"type": "object"}}, "then": {"enum": list(constraint["enum"])}})
    return dict(obj, description=desc, type=types, **short_range)


# ---------------------------------------------------------------- schema $defs of named objects

OBJECT_KINDS = ("optimizers", "losses", "metrics", "schedules", "initializers", "regularizers", "constraints")
# Arguments whose default says nothing (None) or too little (an int default of a float argument).
OBJECT_TYPES = {
    "learning_rate": ["number", "object"],  # a number, or a schedule {cosine_decay: {...}}
    "weight_decay": ["number", "null"], "clipnorm": ["number", "null"], "clipvalue": ["number", "null"],
    "global_clipnorm": ["number", "null"], "loss_scale_factor": ["number", "null"],
    "ema_overwrite_frequency": ["integer", "null"], "gradient_accumulation_steps": ["integer", "null"],
    "axis": ["integer", "array", "null"], "initial_learning_rate": ["number"], "decay_steps": ["integer"],
    "first_decay_steps": ["integer"], "decay_rate": ["number"], "warmup_target": ["number", "null"],
    "boundaries": ["array"], "values": ["array"], "thresholds": ["number", "array", "null"],
    "top_k": ["integer", "null"], "class_id": ["integer", "null"], "num_labels": ["integer", "null"],
    "num_classes": ["integer"], "ignore_class": ["integer", "null"], "threshold": ["number", "null"],
    "label_smoothing": ["number"], "seed": ["integer", "null"],
}
# Integer arguments of named objects (others with an int default may take a float too).
OBJECT_INTEGERS = {"axis", "seed", "num_thresholds", "warmup_steps", "decay_steps", "first_decay_steps",
                   "ns_steps", "k", "top_k", "num_classes", "class_id", "num_regressors", "num_labels",
                   "ema_overwrite_frequency", "gradient_accumulation_steps"}
# specc's own arguments of every schedule (specc/compile/training.py make_schedule).
SCHEDULE_EXTRAS = {
    "warmup_steps": {"description": "specc: linear warmup over this many steps first.", "type": "integer",
                     "minimum": 0},
    "warmup_target": {"description": "specc: the rate the warmup ends at (default the schedule's start).",
                      "type": ["number", "null"]},
}
# What specc fills in itself when a schedule leaves it out.
FILLED_BY_SPECC = {"initial_learning_rate", "decay_steps", "first_decay_steps"}
# Initializers, regularizers and constraints also take a short value: {l2: 1.0e-4}, the first
# argument (a regularizer's is always its factor, a number).
SHORT_VALUE_KINDS = {"initializers": ["number", "string", "array", "boolean"], "regularizers": ["number"],
                     "constraints": ["number", "string", "array", "boolean"]}


def object_arg_types(arg):
    if arg["name"] in OBJECT_TYPES:
        return list(OBJECT_TYPES[arg["name"]])
    kind = arg["type"]
    if kind is None:
        return None
    if kind == "integer" and arg["name"] not in OBJECT_INTEGERS:
        kind = "number"
    return [kind] + (["null"] if not arg["required"] and arg["default"] is None else [])


def object_schema(kind, name, info):
    """The arguments a named object takes, as a schema ({adam: {learning_rate: ...}})."""
    props = {}
    for arg in info["args"]:
        desc = "required" if arg["required"] else "default: " + (
            arg["default"] if arg.get("default_repr") else json.dumps(arg["default"]))
        schema = {"description": desc}
        types = object_arg_types(arg)
        if types:
            schema["type"] = types
        props[arg["name"]] = constrained(schema, arg.get("constraint"))
    if kind == "schedules":
        props.update(SCHEDULE_EXTRAS)
    required = [a["name"] for a in info["args"] if a["required"] and a["name"] not in FILLED_BY_SPECC]
    types = ["object", "null"] + SHORT_VALUE_KINDS.get(kind, [])
    alias = f", alias of {info['alias_of']}" if "alias_of" in info else ""
    where = info.get("class") or info.get("function")
    # a short value (`{l2: 1.0e-4}`) is the first argument, held to its range (numbers only)
    first = (info["args"][0].get("constraint") or {}) if info["args"] and kind in SHORT_VALUE_KINDS else {}
    short_range = {k: v for k, v in first.items() if k in ("minimum", "maximum")}
    return {"description": f"{kind[:-1]} '{name}' ({info['module']}.{where}{alias}): its arguments",
            "type": types, "properties": props, "additionalProperties": False, "required": required,
            **short_range}


def build_defs(catalog):
    layers = catalog["layers"]
    return {"layer_args": {n: layer_schema(info) for n, info in layers.items()},
            "layer_names": sorted(layers),
            "object_args": {kind: {n: object_schema(kind, n, info) for n, info in catalog[kind].items()}
                            for kind in OBJECT_KINDS}}


# ---------------------------------------------------------------- files

def dump(data):
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def diff_summary(label, old, new, depth=0):
    if old == new:
        return []
    if not isinstance(old, dict) or not isinstance(new, dict):
        return [f"{label}: changed"]
    lines = []
    for key in sorted(set(old) | set(new)):
        if key not in old:
            lines.append(f"{label}:{key}: added")
        elif key not in new:
            lines.append(f"{label}:{key}: removed")
        elif old[key] != new[key]:
            sub = diff_summary(f"{label}:{key}", old[key], new[key], 1) if depth == 0 else []
            lines.extend(sub or [f"{label}:{key}: changed"])
    return lines


def main(argv):
    catalog = build_catalog()
    outputs = {CATALOG_PATH: catalog, DEFS_PATH: build_defs(catalog)}
    if "--check" in argv:
        problems = []
        for path, data in outputs.items():
            rel = path.relative_to(ROOT)
            if not path.exists():
                problems.append(f"{rel}: missing")
            elif path.read_text() != dump(data):
                old = json.loads(path.read_text())
                problems.extend(diff_summary(str(rel), old, data) or [f"{rel}: formatting"])
        for line in problems[:60]:
            print(line)
        if problems:
            print(f"{len(problems)} difference(s); run tools/gen_catalog.py to regenerate")
            return 1
        print("catalog up to date (keras " + catalog["keras_version"] + ")")
        return 0
    for path, data in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dump(data))
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
