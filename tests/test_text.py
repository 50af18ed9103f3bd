"""Text columns and text models: the synthetic text data, CSV text columns, the shape rules of
the string layers against Keras, and a model that takes raw strings trained, predicted from a
raw CSV by column name and reloaded."""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from conftest import SPECS, cli, read_json, train_run  # noqa: E402

from specc.checks.layer_shapes import infer  # noqa: E402
from specc.checks.shape_basics import ShapeError  # noqa: E402
from specc.data.sources.csv import load_csv  # noqa: E402
from specc.data.sources.synthetic import load_synthetic, review_class  # noqa: E402


def write_reviews(path: Path, table, columns=("text", "id")) -> None:
    """The reviews of a synthetic text Table as a CSV file with these columns (`id`: the row)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for index, text in enumerate(table.features["text"]):
            cells = {"text": text, "id": f"r{index}", "extra": str(index * 7)}
            writer.writerow([cells[name] for name in columns])


def test_synthetic_text_is_deterministic_and_order_decides():
    first, again = load_synthetic({"kind": "text", "samples": 600}, 3), load_synthetic({"kind": "text",
                                                                                         "samples": 600}, 3)
    assert list(first.features["text"]) == list(again.features["text"])
    assert np.array_equal(first.labels, again.labels)
    assert load_synthetic({"kind": "text", "samples": 600}, 4).features["text"][0] != first.features["text"][0] \
        or not np.array_equal(load_synthetic({"kind": "text", "samples": 600}, 4).labels, first.labels)
    assert 0.4 < first.labels.mean() < 0.6 and first.class_names == ["negative", "positive"]
    # "good, but not good" is negative, "not good, but good" positive: the same words in
    # another order (and one review in three or so has two clauses that cancel)
    assert review_class([1, -1]) == 0 and review_class([-1, 1]) == 1 and review_class([-1, -1]) == 0
    polarities = [(" not " in f" {t} ") for t in first.features["text"]]
    assert 0.3 < np.mean(polarities) < 0.8   # negations are common
    assert first.columns == {"inputs": {"text": ["text"]}, "labels": None, "categorical": [], "text": ["text"]}


def test_csv_text_columns_are_strings_and_may_be_empty(tmp_path):
    (tmp_path / "r.csv").write_text('stars,review,kind,liked\n4,"good, not bad",book,1\n1,,film,0\n'
                                    '2,not good,book,0\n', encoding="utf-8")
    spec = {"path": "r.csv", "label": "liked", "categorical": ["kind"], "text": ["review"]}
    table = load_csv(spec, tmp_path, "data.source")
    assert table.features["review"].tolist() == ["good, not bad", "", "not good"]
    assert table.features["x"].tolist() == [[4.0], [1.0], [2.0]]
    assert table.categorical == {"kind": ["book", "film"]}   # text columns have no vocabulary listed
    assert table.columns == {"inputs": {"x": ["stars"], "kind": ["kind"], "review": ["review"]}, "labels": "liked",
                             "categorical": ["kind"], "text": ["review"]}


def test_a_column_both_categorical_and_text_is_refused(tmp_path):
    from specc.errors import DataError

    (tmp_path / "r.csv").write_text("review,liked\ngood,1\n", encoding="utf-8")
    with pytest.raises(DataError, match="both as categorical and as text"):
        load_csv({"path": "r.csv", "label": "liked", "categorical": ["review"], "text": ["review"]}, tmp_path,
                 "data.source")


# --- shape rules against Keras (string inputs) -------------------------------------------------

STRING_CASES = [
    ("text_vectorization", {"max_tokens": 20, "output_sequence_length": 5}, [()]),
    ("text_vectorization", {"max_tokens": 20, "output_sequence_length": 5}, [(1,)]),
    ("text_vectorization", {"max_tokens": 20}, [()]),
    ("text_vectorization", {"max_tokens": 20, "output_mode": "multi_hot", "pad_to_max_tokens": True}, [()]),
    ("text_vectorization", {"max_tokens": 20, "output_mode": "count", "pad_to_max_tokens": True}, [(1,)]),
    ("text_vectorization", {"max_tokens": 20, "output_mode": "count"}, [()]),
    ("text_vectorization", {"max_tokens": 20, "output_sequence_length": 5}, [(3,)]),
    ("text_vectorization", {"max_tokens": 20, "output_sequence_length": 5}, [(2, 1)]),
    ("string_lookup", {}, [()]),
    ("string_lookup", {}, [(1,)]),
    ("string_lookup", {"output_mode": "one_hot", "max_tokens": 6, "pad_to_max_tokens": True}, [()]),
    ("string_lookup", {"output_mode": "one_hot", "max_tokens": 6, "pad_to_max_tokens": True}, [(1,)]),
    ("string_lookup", {"output_mode": "multi_hot", "max_tokens": 6, "pad_to_max_tokens": True}, [(3,)]),
    # a vocabulary written in the spec: its width is known (terms + out-of-vocabulary ids)
    ("string_lookup", {"output_mode": "one_hot", "vocabulary": ["red", "green", "blue"]}, [(1,)]),
    ("string_lookup", {"output_mode": "one_hot", "vocabulary": ["red", "green", "blue"]}, [()]),
    ("string_lookup", {"output_mode": "multi_hot", "vocabulary": ["a", "b"], "num_oov_indices": 2}, [(3,)]),
    ("string_lookup", {"output_mode": "count", "vocabulary": ["a", "b"]}, [(3,)]),
]


def keras_string_call(key, args, shapes):
    import keras

    from specc import catalog

    cls = getattr(keras.layers, catalog.layer_info(key)["class"])
    try:
        layer = cls(**args)
        out = layer(keras.Input(shapes[0], dtype="string"))
    except Exception as error:  # noqa: BLE001 - any refusal counts
        return error
    return tuple(out.shape)[1:], layer.count_params()


@pytest.mark.parametrize("key,args,shapes", STRING_CASES, ids=lambda v: str(v))
def test_string_layer_rules_agree_with_keras(key, args, shapes):
    try:
        ours = infer(key, args, shapes)
    except ShapeError as error:
        assert isinstance(keras_string_call(key, args, shapes), Exception), error.message
        return
    theirs = keras_string_call(key, args, shapes)
    assert not isinstance(theirs, Exception), theirs
    if ours.shape is not None:
        assert ours.shape == theirs[0] and ours.parameters == theirs[1]


@pytest.mark.parametrize("args,shapes", [({"num_heads": 2, "key_dim": 4}, [(6, 8), (6, 8)]),
                                         ({"num_heads": 3, "key_dim": 2, "value_dim": 5}, [(6, 8), (4, 3)]),
                                         ({"num_heads": 2, "key_dim": 4, "use_bias": False}, [(None, 8), (None, 8)]),
                                         ({"num_heads": 2, "key_dim": 4}, [(8,), (8,)])])
def test_attention_rule_agrees_with_keras(args, shapes):
    import keras

    try:
        ours = infer("multi_head_attention", args, shapes)
    except ShapeError:
        with pytest.raises(Exception):  # noqa: B017 - any refusal counts
            keras.layers.MultiHeadAttention(**args)(keras.Input(shapes[0]), keras.Input(shapes[1]))
        return
    layer = keras.layers.MultiHeadAttention(**args)
    out = layer(keras.Input(shapes[0]), keras.Input(shapes[1]))
    assert ours.shape == tuple(out.shape)[1:] and ours.parameters == layer.count_params()


# --- a model of raw strings, trained, predicted by column name, reloaded ----------------------

@pytest.fixture(scope="module")
def bow_run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("text-runs")
    return train_run(SPECS / "text-bow.yaml", runs, "--set", "data.source.synthetic.samples=300",
                     "--set", "train.epochs=2", "--no-export")


def test_bow_run_records_its_text_column(bow_run):
    record = bow_run.record()
    assert record["status"] == "completed"
    assert record["columns"]["text"] == ["text"]


def predictions(run, given: Path, out: Path) -> list:
    result = cli("predict", run.run_id, "--runs-dir", run.runs_dir, "--input", given, "--output", out)
    assert result.exit_code == 0, result.output
    with open(out, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_predict_from_raw_csv_by_column_name(bow_run, tmp_path):
    import keras

    table = load_synthetic({"kind": "text", "samples": 40}, 99)
    table.features["text"][:3] = ["zebra flibbertigibbet excellent", "", "the movie was not good, bad"]
    write_reviews(tmp_path / "same.csv", table, ("text", "id"))
    write_reviews(tmp_path / "moved.csv", table, ("extra", "id", "text"))
    same = predictions(bow_run, tmp_path / "same.csv", tmp_path / "a.csv")
    moved = predictions(bow_run, tmp_path / "moved.csv", tmp_path / "b.csv")
    assert same == moved and len(same) == 40
    model = keras.saving.load_model(bow_run.path / "checkpoints" / "best.keras")
    raw = model.predict(np.array(table.features["text"], dtype=object), verbose=0)[:, 0]
    assert [r["predicted"] for r in same] == [str(int(p > 0.5)) for p in raw]


def test_vocabulary_is_adapted_on_the_training_split_and_saved(bow_run):
    import keras

    model = keras.saving.load_model(bow_run.path / "checkpoints" / "best.keras")
    layer = next(layer for layer in model.layers if isinstance(layer, keras.layers.TextVectorization))
    vocabulary = layer.get_vocabulary()
    assert "good" in vocabulary and "not" in vocabulary and len(vocabulary) > 20
    assert read_json(bow_run.path / "record.json")["columns"]["inputs"] == {"text": ["text"]}


# --- sequence models -----------------------------------------------------------------------------

def test_validate_follows_shapes_through_the_transformer_block():
    result = cli("validate", SPECS / "text-transformer.yaml", "--set", "model.nodes.encoded.encoder.width=16")
    assert result.exit_code == 1
    assert "$.model.blocks.encoder.nodes.fed" in result.stderr and "add" in result.stderr


@pytest.fixture(scope="module")
def transformer_run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("transformer-runs")
    return train_run(SPECS / "text-transformer.yaml", runs, "--set", "data.source.synthetic.samples=200",
                     "--set", "train.epochs=1", "--no-export")


def test_transformer_predicts_from_raw_csv_without_trusting_plugins(transformer_run, tmp_path):
    """specc's own plugin module needs no --trust-plugins; an empty review gets a probability."""
    (tmp_path / "in.csv").write_text('id,text\n1,"the film is not bad, i found it good"\n2,\n3,zebra\n',
                                     encoding="utf-8")
    rows = predictions(transformer_run, tmp_path / "in.csv", tmp_path / "out.csv")
    assert list(rows[0]) == ["row", "predicted", "probability"]   # the `liked` output answers the task
    assert all(0.0 <= float(row["probability"]) <= 1.0 for row in rows)


# --- exports of a model that takes raw strings ------------------------------------------------

def test_keras_and_saved_model_exports_reproduce_predict_on_raw_strings(bow_run, tmp_path):
    import keras
    import tensorflow as tf

    out = tmp_path / "exports"
    result = cli("export", bow_run.run_id, "--runs-dir", bow_run.runs_dir, "--format", "keras",
                 "--format", "saved_model", "--out", out)
    assert result.exit_code == 0, result.output
    assert "classes agree 100.0%" in result.stdout
    table = load_synthetic({"kind": "text", "samples": 30}, 5)
    write_reviews(tmp_path / "in.csv", table)
    rows = predictions(bow_run, tmp_path / "in.csv", tmp_path / "p.csv")
    expected = np.array([float(row["probability"]) for row in rows])
    texts = np.array(table.features["text"], dtype=object)
    from_keras = keras.saving.load_model(out / "model.keras").predict(texts, verbose=0)[:, 0]
    serve = tf.saved_model.load(str(out / "saved_model")).signatures["serving_default"]
    from_saved = next(iter(serve(text=tf.constant(texts.astype(str))).values())).numpy()[:, 0]
    np.testing.assert_allclose(from_keras, expected, atol=1e-6)
    np.testing.assert_allclose(from_saved, expected, atol=1e-5)


def test_export_refuses_litert_for_a_model_that_takes_strings(bow_run, tmp_path):
    result = cli("export", bow_run.run_id, "--runs-dir", bow_run.runs_dir, "--format", "litert", "--out", tmp_path)
    assert result.exit_code == 5
    assert "litert export cannot take string inputs" in result.stderr
    assert not list(tmp_path.iterdir())


def test_evaluate_reads_a_labelled_text_csv_by_column_name(bow_run, tmp_path, monkeypatch):
    table = load_synthetic({"kind": "text", "samples": 50}, 8)
    with open(tmp_path / "labelled.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["liked", "note", "text"])
        writer.writerows([label, "x", text] for text, label in zip(table.features["text"], table.labels))
    monkeypatch.chdir(tmp_path)
    result = cli("evaluate", bow_run.run_id, "--runs-dir", bow_run.runs_dir, "--data",
                 "{csv: {path: labelled.csv, label: liked}}")
    assert result.exit_code == 0, result.output
    assert "binary_accuracy" in result.stdout


CATEGORY_EMBEDDING = """\
specc: 1
name: category-embedding
seed: 3
data:
  source:
    csv: {path: listings.csv, label: recommend, features: {price: [price], condition: [condition]},
          categorical: [condition]}
  split: {validation: 0.2, test: 0.2}
task: {type: binary}
model:
  inputs: {price: [1], condition: {shape: [], dtype: string}}
  nodes:
    ids:    {string_lookup: {output_mode: int}, from: condition}
    vector: {embedding: {input_dim: 8, output_dim: 3}, from: ids}
    joined: {concatenate: {}, from: [price, vector]}
  outputs: {recommend: joined}
  head: auto
train: {epochs: 1}
"""


def test_a_categorical_column_feeds_an_embedding_of_a_chosen_size(tmp_path):
    """Categories as ids (string_lookup adapted on the training split) into an embedding of
    the spec's size, beside a number: validated, trained, and predicted from raw rows."""
    rows = (SPECS / "data" / "listings.csv").read_text(encoding="utf-8").splitlines()[:201]
    (tmp_path / "listings.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text(CATEGORY_EMBEDDING, encoding="utf-8")
    assert cli("validate", spec).exit_code == 0
    run = train_run(spec, tmp_path / "runs", "--no-export")
    import keras

    model = keras.saving.load_model(run.path / "checkpoints" / "best.keras")
    embedding = next(layer for layer in model.layers if isinstance(layer, keras.layers.Embedding))
    assert tuple(embedding.embeddings.shape) == (8, 3)
    (tmp_path / "in.csv").write_text("condition,price\nnew,10\nbroken-unseen,90\n", encoding="utf-8")
    result = cli("predict", run.path, "--input", tmp_path / "in.csv", "--output", tmp_path / "out.csv")
    assert result.exit_code == 0, result.output
    assert len((tmp_path / "out.csv").read_text(encoding="utf-8").splitlines()) == 3
