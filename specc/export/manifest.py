"""The export manifest: one entry per artifact with its size, hash, signatures and parity."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable


def sha256_of(path: Path) -> str:
    """sha256 of a file, or of a folder's files (relative names and contents, sorted)."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        with open(file, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def size_of(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def signature(tensors: Iterable[Any]) -> list:
    return [{"name": t.name.split(":")[0], "shape": [None if d is None else int(d) for d in t.shape],
             "dtype": str(t.dtype)} for t in tensors]


def describe_artifact(fmt: str, quantize: str, path: Path, model: Any, parity: dict) -> dict:
    outputs = signature(model.outputs)
    for entry, name in zip(outputs, model.output_names):
        entry["name"] = name
    return {"format": fmt, "quantize": quantize, "file": path.name, "bytes": size_of(path),
            "sha256": sha256_of(path), "inputs": parity.get("inputs") or signature(model.inputs),
            "outputs": outputs,
            "parity": {k: v for k, v in parity.items() if k not in ("summary", "inputs")}}


def update_manifest(path: Path, run_id: str, entries: list) -> dict:
    """Merge entries into manifest.json (same format + quantize replaces), atomically."""
    from specc.run.records import atomic_write_json
    from specc.run.records.files import strict_json

    manifest: dict = strict_json(path.read_text()) if path.exists() else {"run_id": run_id, "artifacts": []}
    keys = {(e["format"], e["quantize"]) for e in entries}
    kept = [a for a in manifest["artifacts"] if (a["format"], a["quantize"]) not in keys]
    manifest["artifacts"] = kept + entries
    manifest["updated"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    atomic_write_json(path, manifest)
    return manifest
