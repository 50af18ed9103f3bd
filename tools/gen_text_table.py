"""Write specs/data/listings.csv: a table of numbers, categories and text for
specs/text-mixed.yaml (deterministic; run again to write the same file).

Each row is a product listing: `price` (a number), `condition` (new, used or refurbished),
`review` (a synthetic review, specc.data.sources.synthetic kind `text`) and `recommend`, the
label: 1 when the review is positive and the product is new or costs under 60. No single
column decides it: a model needs the numbers, the category and the words (in order).

    python tools/gen_text_table.py [ROWS]
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

from specc.data.sources.synthetic import load_synthetic

ROOT = Path(__file__).resolve().parent.parent
CONDITIONS = ("new", "used", "refurbished")


def main(argv: list[str]) -> int:
    rows = int(argv[0]) if argv else 2000
    reviews = load_synthetic({"kind": "text", "samples": rows, "seed": 23}, 0)
    rng = np.random.default_rng(23)
    prices = np.round(rng.uniform(5, 120, rows), 2)
    conditions = rng.choice(CONDITIONS, rows)
    path = ROOT / "specs" / "data" / "listings.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["price", "condition", "review", "recommend"])
        for price, condition, text, liked in zip(prices, conditions, reviews.features["text"], reviews.labels):
            recommend = int(liked == 1 and (condition == "new" or price < 60))
            writer.writerow([f"{price:.2f}", condition, text, recommend])
    print(f"wrote {path.relative_to(ROOT)} ({rows} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
