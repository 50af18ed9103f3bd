"""What differs between two runs: the spec, the data, the code, and the final metrics.

No TensorFlow here.
"""
from __future__ import annotations

import json
import math
from typing import Any, Optional

from specc.run.records import SPLITS, RunRecord

MISSING = object()


def flatten(data: Any, prefix: str = "") -> dict:
    """{"optimizer.adam.learning_rate": 0.001, "model.layers[0].dense.units": 64, ...}.

    Empty mappings and lists are leaves (`{}` / `[]`) so that they still show up in a diff.
    """
    out: dict = {}
    if isinstance(data, dict) and data:
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(data, list) and data:
        for index, value in enumerate(data):
            out.update(flatten(value, f"{prefix}[{index}]"))
    else:
        out[prefix or "(spec)"] = data
    return out


def spec_diff(a: dict, b: dict) -> list:
    """[(path, a value or MISSING, b value or MISSING)] for every leaf that differs, in spec order."""
    flat_a, flat_b = flatten(a), flatten(b)
    keys = list(flat_a) + [k for k in flat_b if k not in flat_a]
    changes = []
    for key in keys:
        va, vb = flat_a.get(key, MISSING), flat_b.get(key, MISSING)
        if va is MISSING or vb is MISSING or not _same(va, vb):
            changes.append((key, va, vb))
    return changes


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same type (`1` and `1.0` differ in a resolved spec, and in its hash)."""
    return type(a) is type(b) and a == b


def format_value(value: Any) -> str:
    if isinstance(value, str):
        plain = value and value.strip() == value and value[0] not in "{[\"'"
        return value if plain else json.dumps(value)
    return json.dumps(value, ensure_ascii=False)


def format_number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int):
        return str(value)
    return f"{value:.4g}" if abs(value) >= 1e-4 or value == 0 else f"{value:.3e}"


def change(a: Any, b: Any) -> str:
    """`+0.0123 (+1.4%)`; empty when either side is not a number."""
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b)):
        return ""
    if not (math.isfinite(a) and math.isfinite(b)):
        return ""
    delta = b - a
    if delta == 0:
        return "0"
    text = f"{delta:+.4g}"
    if a != 0:
        text += f" ({delta / abs(a) * 100:+.1f}%)"
    return text


def table(rows: list, header: Optional[list] = None, indent: str = "") -> list:
    """Plain aligned columns (first column left, the others right aligned)."""
    rows = ([header] if header else []) + rows
    if not rows:
        return []
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [str(c).ljust(widths[i]) if i == 0 else str(c).rjust(widths[i])
                 for i, c in enumerate(row)]
        lines.append((indent + "  ".join(cells)).rstrip())
    return lines


def _short(value: Optional[str], n: int = 12) -> str:
    if not value:
        return "-"
    value = str(value)
    if value.startswith("sha256:"):
        return "sha256:" + value[7:7 + n]
    return value[:n]


def _git_text(git: dict) -> str:
    if not git or not git.get("root"):
        return "not in a git repository"
    commit = _short(git.get("commit"), 12) if git.get("commit") else "no commit"
    return commit + (" (dirty)" if git.get("dirty") else "")


def _label(record: dict, run: RunRecord) -> str:
    return f"{record.get('name') or run.name}/{record.get('run_id') or run.run_id}"


def compare(a: RunRecord, b: RunRecord) -> str:
    """A plain-text report of how run `b` differs from run `a`."""
    ra, rb = a.read(), b.read()
    lines = [f"a: {_label(ra, a)}  ({ra.get('status')}, {ra.get('epochs_completed')} epochs)",
             f"b: {_label(rb, b)}  ({rb.get('status')}, {rb.get('epochs_completed')} epochs)", ""]

    # the spec
    changes = spec_diff(a.spec(), b.spec())
    if not changes:
        same = "same spec hash" if ra.get("spec_hash") == rb.get("spec_hash") else "same resolved spec"
        lines.append(f"spec: no changes ({same})")
    else:
        lines.append(f"spec: {len(changes)} change(s)")
        for key, va, vb in changes:
            if va is MISSING:
                lines.append(f"  + {key}: {format_value(vb)}")
            elif vb is MISSING:
                lines.append(f"  - {key}: {format_value(va)}")
            else:
                lines.append(f"    {key}: {format_value(va)} -> {format_value(vb)}")

    # the data and the code
    fa, fb = ra.get("data_fingerprint"), rb.get("data_fingerprint")
    if fa == fb:
        lines.append(f"data: same ({_short(fa, 16)})" if fa else "data: no fingerprint recorded")
    else:
        lines.append(f"data: DIFFERENT: {_short(fa, 16)} -> {_short(fb, 16)}")
    ga, gb = ra.get("git") or {}, rb.get("git") or {}
    ta, tb = _git_text(ga), _git_text(gb)
    if all(ga.get(k) == gb.get(k) for k in ("commit", "dirty", "root")):
        lines.append(f"git: same ({ta})")
    else:
        lines.append(f"git: {ta} -> {tb}")
    pa, pb = ra.get("packages") or {}, rb.get("packages") or {}
    moved = [f"{k} {pa.get(k)} -> {pb.get(k)}" for k in list(pa) + [k for k in pb if k not in pa]
             if pa.get(k) != pb.get(k)]
    if moved:
        lines.append("packages: " + ", ".join(moved))
    wa, wb = sources_text(ra.get("weight_sources")), sources_text(rb.get("weight_sources"))
    lines.append(f"weights: same ({wa})" if wa == wb else f"weights: {wa} -> {wb}")
    if ra.get("seed") != rb.get("seed") and "seed" not in [key for key, _, _ in changes]:
        lines.append(f"seed: {ra.get('seed')} -> {rb.get('seed')}")

    # the results
    best_a, best_b = ra.get("best") or {}, rb.get("best") or {}
    if best_a.get("value") is not None or best_b.get("value") is not None:
        lines.append(f"best: {_best_text(best_a)} -> {_best_text(best_b)}")
    ma, mb = a.metrics(), b.metrics()
    splits = [s for s in SPLITS if s in ma or s in mb] + \
        [s for s in list(ma) + list(mb) if s not in SPLITS]
    splits = list(dict.fromkeys(splits))
    if not splits:
        lines.append("metrics: none recorded")
    for split in splits:
        sa, sb = ma.get(split) or {}, mb.get(split) or {}
        names = list(sa) + [k for k in sb if k not in sa]
        rows = [[name, format_number(sa.get(name)), format_number(sb.get(name)),
                 change(sa.get(name), sb.get(name))] for name in names]
        lines.append("")
        lines.append(f"{split}:")
        lines.extend(table(rows, ["metric", "a", "b", "change"], indent="  "))
    return "\n".join(lines) + "\n"


def _best_text(best: dict) -> str:
    if best.get("value") is None:
        return "-"
    return f"{best.get('monitor')}={format_number(best.get('value'))} @ epoch {best.get('epoch')}"


def sources_text(sources: Any) -> str:
    """Where a run's starting weights came from: `backbone from run ID (sha256:...)`, or none."""
    if not sources:
        return "none"
    texts = []
    for source in sources if isinstance(sources, list) else []:
        if not isinstance(source, dict):
            continue
        kind, path = source.get("kind"), str(source.get("path") or "")
        where = f"run {source.get('run')}" if kind == "run" else f"{kind} {path.rsplit('/', 1)[-1]}"
        texts.append(f"{source.get('layer')} from {where} (sha256:{str(source.get('sha256'))[:16]})")
    return "; ".join(texts) or "none"


def phases_text(phases: Any) -> Optional[str]:
    """`head 1-2, fine_tune 3-5 (stopped early)`: the phases a run went through, by epoch."""
    if not isinstance(phases, list) or not phases:
        return None
    return ", ".join(f"{p.get('name')} {p.get('first_epoch')}-{p.get('last_epoch')}"
                     + (" (stopped early)" if p.get("stopped_early") else "") for p in phases if isinstance(p, dict))
