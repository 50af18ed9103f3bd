"""Draw the documentation's pictures from real runs of the shipped specs: docs/img/*.png.

    nice -n 19 python tools/doc_pictures.py [--work /tmp/specc-doc-pictures] [--only NAME ...]

Each picture comes from a `specc` command run here (train, compile --plot, predict), never
from made-up numbers; the runs go to a scratch folder (--work) and only the pictures are
kept, downscaled and palette-quantized so each stays a few tens of KB. The model diagram
needs pydot and Graphviz's `dot` (`pip install -e ".[plot]"`, `apt-get install graphviz`).

Pictures (NAME: what, from which command):
    lenet-curves      learning curves of `specc train specs/lenet-digits.yaml`
    lenet-model       `specc compile specs/lenet-digits.yaml --plot`
    gan-samples       the first and last sample grids of `specc train specs/gan-digits.yaml`
    dcgan-samples     the same of specs/dcgan-digits.yaml
    dcgan-curves      the DCGAN's learning curves (d_loss, g_loss)
    anomaly-histogram reconstruction errors of anomaly-digits' test split (`specc predict`),
                      the held-out 9s apart from the digits trained on, and the run's threshold
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "img"
MAX_SIDE = 900  # pixels: wide enough to read on a page, small enough to stay tens of KB
COLORS = 48     # palette size after quantization: plots and grids need few colours


def specc(*args: str) -> str:
    """Run one specc command with this Python; return its standard output (raise on failure)."""
    done = subprocess.run([sys.executable, "-m", "specc", *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"specc {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def train(spec: str, work: Path) -> Path:
    """Train a shipped spec without exporting; return its run folder."""
    out = specc("train", spec, "--no-export", "--quiet", "--runs-dir", str(work / "runs"))
    return Path(out.strip().splitlines()[-1].split()[-1])


def shrink(source: Path, name: str) -> Path:
    """Save `source` downscaled and palette-quantized as docs/img/NAME.png."""
    from PIL import Image

    image = Image.open(source).convert("RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    target = OUT / f"{name}.png"
    image.quantize(colors=COLORS).save(target, optimize=True)
    return target


def side_by_side(left: Path, right: Path, out: Path) -> Path:
    """Paste two images next to each other (an early and the last sample grid)."""
    from PIL import Image

    a, b = Image.open(left).convert("RGB"), Image.open(right).convert("RGB")
    joined = Image.new("RGB", (a.width + b.width + 20, max(a.height, b.height)), "white")
    joined.paste(a, (0, 0))
    joined.paste(b, (a.width + 20, 0))
    joined.save(out)
    return out


def lenet_curves(work: Path) -> Path:
    return shrink(train("specs/lenet-digits.yaml", work) / "curves.png", "lenet-curves")


def lenet_model(work: Path) -> Path:
    diagram = work / "lenet-model.png"
    specc("compile", "specs/lenet-digits.yaml", "--plot", str(diagram))
    return shrink(diagram, "lenet-model")


def _grids(spec: str, work: Path, name: str) -> Path:
    run = train(spec, work)
    grids = json.loads((run / "record.json").read_text())["sample_grids"]
    first, last = run / grids[0]["file"], run / grids[-1]["file"]
    return shrink(side_by_side(first, last, work / f"{name}-both.png"), name)


def gan_samples(work: Path) -> Path:
    return _grids("specs/gan-digits.yaml", work, "gan-samples")


def dcgan_samples(work: Path) -> Path:
    return _grids("specs/dcgan-digits.yaml", work, "dcgan-samples")


def dcgan_curves(work: Path) -> Path:
    runs = sorted((work / "runs" / "dcgan-digits").glob("2*"))
    run = runs[-1] if runs else train("specs/dcgan-digits.yaml", work)
    return shrink(run / "curves.png", "dcgan-curves")


def _test_split(run: Path, work: Path) -> tuple[Path, list]:
    """The run's test split as an .npz for `specc predict`, and its labels."""
    import numpy as np
    import yaml

    from specc.data import load_source, split_table

    spec = yaml.safe_load((run / "spec.yaml").read_text())
    data, seed = spec["data"], spec["seed"]
    table = load_source(data["source"], ROOT / "specs", seed)
    test = split_table(table, data.get("split"), seed, ROOT / "specs", data.get("select")).test
    path = work / "anomaly-test.npz"
    np.savez(path, x=test.features["x"])
    return path, list(test.labels)


def anomaly_histogram(work: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    run = train("specs/anomaly-digits.yaml", work)
    inputs, labels = _test_split(run, work)
    scores_csv = work / "anomaly-scores.csv"
    scores_csv.unlink(missing_ok=True)  # predict never overwrites a file
    specc("predict", str(run), "--input", str(inputs), "--output", str(scores_csv))
    with open(scores_csv, newline="") as handle:
        errors = [float(row["reconstruction_error"]) for row in csv.DictReader(handle)]
    threshold = json.loads((run / "record.json").read_text())["paradigm"]["anomaly"]["threshold"]
    normal = [e for e, y in zip(errors, labels) if int(y) != 9]
    nines = [e for e, y in zip(errors, labels) if int(y) == 9]
    figure = Figure(figsize=(6.4, 3.4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    bins = [i * max(errors) / 40 for i in range(41)]
    axes.hist(normal, bins=bins, alpha=0.7, label=f"0-8, the classes trained on ({len(normal)})")
    axes.hist(nines, bins=bins, alpha=0.7, label=f"9s, never trained on ({len(nines)})")
    axes.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.2f} (95th pct.)")
    axes.set_xlabel("reconstruction error (pixel units, 0..16 scale)")
    axes.set_ylabel("test samples")
    axes.set_title("anomaly-digits: test split")
    axes.legend()
    figure.tight_layout()
    drawn = work / "anomaly-histogram.png"
    figure.savefig(drawn)
    return shrink(drawn, "anomaly-histogram")


PICTURES: dict[str, Callable[[Path], Path]] = {
    "lenet-curves": lenet_curves,
    "lenet-model": lenet_model,
    "gan-samples": gan_samples,
    "dcgan-samples": dcgan_samples,
    "dcgan-curves": dcgan_curves,
    "anomaly-histogram": anomaly_histogram,
}


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("/tmp/specc-doc-pictures"),
                        help="scratch folder for the runs (default: %(default)s)")
    parser.add_argument("--only", nargs="+", choices=sorted(PICTURES), help="draw only these pictures")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    OUT.mkdir(parents=True, exist_ok=True)
    for name in args.only or PICTURES:
        target = PICTURES[name](args.work)
        print(f"{name}: {target.relative_to(ROOT)} ({target.stat().st_size // 1024} KB)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
