"""The data half of a spec: load a source, check it, split it, fingerprint it.

`specc.data.pipeline` (tf.data) imports TensorFlow and is therefore not re-exported here.
"""
from specc.data.checks import check_labels, check_table
from specc.data.fingerprint import fingerprint
from specc.data.sources import load_source
from specc.data.select import select_classes
from specc.data.split import Splits, split_table
from specc.data.table import Table

__all__ = ["load_source", "select_classes", "split_table", "fingerprint", "check_labels", "check_table",
           "Table", "Splits"]
