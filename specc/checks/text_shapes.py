"""Shape rules of the layers that turn strings into numbers (`text_vectorization`,
`string_lookup`) and of the attention layer of a Transformer block, known without TensorFlow.

Registered in `layer_shapes.RULES`; held against Keras by tests/test_text.py, as
tests/test_shape_rules.py holds the others (Keras's inputs there are float, these take strings).
"""
from __future__ import annotations

from typing import Optional

from specc.checks.shape_basics import Out, Shape, ShapeError, Unknown, int_arg
from specc.spec_data import integer

# What Keras 3's TextVectorization saves of an idf-weighted, padded vocabulary cannot be
# loaded back ("idf_weights must be the same length as vocabulary"): refused before training.
UNLOADABLE = "Keras cannot load back a text_vectorization with output_mode tf_idf and pad_to_max_tokens"


def text_vectorization(key: str, args: dict, ins: list) -> Out:
    """One text per sample -> token ids (`int`: output_sequence_length of them, else any
    number) or one vector over the vocabulary (multi_hot, count, tf_idf: max_tokens wide
    when pad_to_max_tokens, else of a width Keras knows only once adapted)."""
    _one_string(key, ins[0])
    mode = args.get("output_mode", "int")
    if mode == "int":
        length = args.get("output_sequence_length")
        if length is not None and integer(length) is None:
            raise Unknown("output_sequence_length")
        return Out((length,))
    if mode not in ("multi_hot", "count", "tf_idf"):
        raise Unknown("output_mode")
    padded = bool(args.get("pad_to_max_tokens"))
    if mode == "tf_idf" and padded:
        raise ShapeError(f"{UNLOADABLE} (its saved idf weights are longer than its vocabulary), so its "
                         "checkpoints and exports would not reload",
                         "use output_mode: count or multi_hot (with pad_to_max_tokens: true)", arg="output_mode")
    width = int_arg(args, "max_tokens", 0) if padded else None
    if padded and not width:
        raise ShapeError(f"text_vectorization pads its {mode} vector to max_tokens, which is not set",
                         "set max_tokens (the vocabulary size)", arg="max_tokens")
    return Out(ins[0] + (width,))   # Keras keeps a [1] axis here (not for token ids)


def string_lookup(key: str, args: dict, ins: list) -> Out:
    """Categories -> ids (`int`, the input's shape) or one-hot / multi-hot vectors (as wide as
    the vocabulary: max_tokens when pad_to_max_tokens, else known only once adapted)."""
    shape = ins[0]
    mode = args.get("output_mode", "int")
    if mode == "int":
        return Out(shape)
    if mode not in ("one_hot", "multi_hot", "count", "tf_idf"):
        raise Unknown("output_mode")
    width = int_arg(args, "max_tokens", 0) if args.get("pad_to_max_tokens") else _listed_width(args)
    if mode == "one_hot" and shape and shape[-1] != 1:
        return Out(shape + (width or None,))
    return Out((shape[:-1] if shape else ()) + (width or None,))


def _listed_width(args: dict) -> Optional[int]:
    """A vocabulary written in the spec is known: its terms and the out-of-vocabulary ids."""
    vocabulary = args.get("vocabulary")
    if not isinstance(vocabulary, list) or args.get("mask_token") is not None:
        return None
    return len(vocabulary) + int_arg(args, "num_oov_indices", 1)


def multi_head_attention(key: str, args: dict, ins: list) -> Out:
    """query, value (and key): the output has the query's shape; weights from the last axes."""
    query, value = ins[0], ins[1] if len(ins) > 1 else ins[0]
    keys = ins[2] if len(ins) > 2 else value
    if args.get("output_shape") is not None or args.get("attention_axes") is not None:
        raise Unknown("output_shape")
    for shape in (query, value, keys):
        if not shape or shape[-1] is None:
            raise Unknown("features")
    heads, key_dim = int_arg(args, "num_heads"), int_arg(args, "key_dim")
    value_dim = key_dim if args.get("value_dim") is None else int_arg(args, "value_dim")
    bias = 1 if args.get("use_bias", True) else 0
    size = heads * key_dim * (query[-1] + keys[-1] + 2 * bias) + heads * value_dim * (value[-1] + bias)
    size += heads * value_dim * query[-1] + bias * query[-1]
    return Out(query, size)


def _one_string(key: str, shape: Shape) -> None:
    """Claim nothing but for one string per sample (Keras builds on other shapes and fails
    only when data comes)."""
    if shape not in ((), (1,)):
        raise Unknown("input shape")
