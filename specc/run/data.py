"""The data of a run: load the source, check it against the task, split, fingerprint."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from specc.data import Splits, check_labels, fingerprint, load_source, select_classes, split_table


@dataclass
class Prepared:
    splits: Splits
    fingerprint: str
    spec_dir: Path

    def validation_dataset(self, paradigm: Any, model: Any) -> Any:
        """The validation split as the paradigm feeds it to evaluation, or None without one."""
        if self.splits.validation is None:
            return None
        return paradigm.evaluation_data(model, self.splits.validation)


def prepare_data(resolved: dict, spec_dir: Path, source: Optional[dict] = None) -> Prepared:
    """Load `data.source` (or another source), keep the classes of `data.select`, check labels,
    split as the spec says."""
    data = resolved["data"]
    table = load_source(source or data["source"], spec_dir, resolved["seed"])
    table = select_classes(table, data.get("select"))
    check_labels(table, resolved["task"])
    splits = split_table(table, data["split"], resolved["seed"], base_dir=spec_dir,
                         select=data.get("select"))
    return Prepared(splits, fingerprint(table), Path(spec_dir))
