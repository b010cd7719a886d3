"""The catalog's source of truth, a readable table, rendered into the JSON Karpenter reads.

``cluster/catalog/instance-types.tsv`` is the one place to edit instance types: hand-editing
hundreds of offerings in JSON is error-prone. This module parses the table (errors name
file:line:column), models spot prices, and renders the byte-stable JSON that Karpenter's
kwok provider loads from ``INSTANCE_TYPES_FILE_PATH``:

    make catalog            # or: python -m workshop.instances.table [--check]

The runtime model that graders and notebooks use lives in ``workshop/instances/catalog.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from workshop.instances.catalog import (
    ARCHITECTURES, AWS_ACCELERATOR_KEYS, AWS_GPU_KEYS, CAPACITY_TYPE, CAPACITY_TYPES, CATALOG_JSON,
    CATALOG_TABLE, HYPERVISORS, REGENERATE_FIX, ZONE, ZONES, CatalogError, InstanceType,
    aws_name_parts, read_catalog, shown_path,
)

# Spot prices are modelled, not fetched: a per-family discount off on-demand (roughly the
# long-run savings AWS's Spot Advisor shows in us-west-2; older and burstable families are
# discounted more, the newest GPUs least) plus a per-zone skew. The skew is rotated per
# family, so the cheapest spot zone differs between families as it does on AWS.
SPOT_DISCOUNT = {
    "t3": 0.70, "m5": 0.62, "m6i": 0.60, "c5": 0.64, "c6i": 0.62, "r5": 0.68,
    "m6g": 0.58, "c6g": 0.60, "g4dn": 0.66, "g5": 0.62, "p3": 0.70, "p4d": 0.55,
    "t4g": 0.68, "m7g": 0.55, "c7g": 0.57, "r6g": 0.62, "m7i": 0.55, "c7i": 0.57,
    "r6i": 0.64, "g6": 0.60, "inf2": 0.60,
}
DEFAULT_SPOT_DISCOUNT = 0.65
ZONE_SPOT_SKEW = (-0.02, 0.0, 0.03)  # added to the discount

# ---------------------------------------------------------------- the table

# The header names the columns; they may come in any order, all are required.
TABLE_COLUMNS = ("name", "arch", "vcpu", "memory_gib", "gpus", "gpu_name", "gpu_manufacturer",
                 "gpu_memory_mib", "accelerators", "accelerator_name", "accelerator_cores",
                 "pods", "hypervisor", "on_demand_price")
NONE = "-"  # placeholder for the GPU / accelerator columns of types without one
_FIELD = re.compile(r"\S+")


@dataclass(frozen=True)
class _Cell:
    """One field of the table and where it is, so errors can point at it."""

    path: Path
    line: int
    col: int  # 1-based character column
    column: str
    text: str

    def fail(self, problem: str) -> CatalogError:
        return CatalogError(f"{self.path}:{self.line}:{self.col}: column '{self.column}': {problem}")

    def whole(self, minimum: int = 0) -> int:
        if not re.fullmatch(r"\d+", self.text) or int(self.text) < minimum:
            raise self.fail(f"expected a whole number >= {minimum}, got {self.text!r}")
        return int(self.text)

    def number(self) -> float:
        try:
            value = float(self.text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise self.fail(f"expected a positive number, got {self.text!r}")
        return value

    def choice(self, choices: Sequence[str]) -> str:
        if self.text not in choices:
            raise self.fail(f"unknown value {self.text!r} (expected {' or '.join(choices)})")
        return self.text


def _fields(line: str) -> list[tuple[int, str]]:
    """(1-based column, text) of each whitespace-separated field, comments removed."""
    return [(m.start() + 1, m.group()) for m in _FIELD.finditer(line.split("#", 1)[0])]


def _read_header(path: Path, lineno: int, fields: list[tuple[int, str]]) -> list[str]:
    names = [text for _, text in fields]
    for col, text in fields:
        if text not in TABLE_COLUMNS:
            raise CatalogError(f"{path}:{lineno}:{col}: unknown column {text!r} in the header "
                               f"(expected {', '.join(TABLE_COLUMNS)})")
        if names.count(text) > 1:
            raise CatalogError(f"{path}:{lineno}:{col}: column {text!r} appears twice in the header")
    missing = [c for c in TABLE_COLUMNS if c not in names]
    if missing:
        raise CatalogError(f"{path}:{lineno}:1: the header lacks column(s) {', '.join(missing)}")
    return names


def _row_cells(path: Path, lineno: int, line: str, fields, header) -> dict[str, _Cell]:
    if len(fields) != len(header):
        col = fields[len(header)][0] if len(fields) > len(header) else len(line.rstrip()) + 1
        raise CatalogError(f"{path}:{lineno}:{col}: expected {len(header)} columns "
                           f"({', '.join(header)}), found {len(fields)}")
    return {name: _Cell(path, lineno, col, name, text) for name, (col, text) in zip(header, fields)}


def _counted(cells: dict[str, _Cell], count: str, details: Sequence[str]) -> tuple[int, list[_Cell]]:
    """A count column and the columns describing what is counted (GPUs, accelerators):
    the detail columns must be all set when the count is above 0, all '-' when it is 0."""
    n = cells[count].whole()
    detail = [cells[c] for c in details]
    for cell in detail:
        if n and cell.text == NONE:
            raise cell.fail(f"required when {count} is {n}")
        if not n and cell.text != NONE:
            raise cell.fail(f"must be '{NONE}' when {count} is 0, got {cell.text!r}")
        if cell.text != NONE and cell.text != cell.text.lower():
            raise cell.fail(f"use lower case, as AWS's labels do: {cell.text.lower()!r}")
    return n, detail


def _parse_row(cells: dict[str, _Cell]) -> InstanceType:
    name = cells["name"].text
    parts = aws_name_parts(name)
    if parts is None:
        raise cells["name"].fail(f"{name!r} is not an AWS instance type name like m5.xlarge")
    family, category, generation, size = parts
    memory_gib = cells["memory_gib"].number()
    if memory_gib * 1024 != int(memory_gib * 1024):
        raise cells["memory_gib"].fail(f"{memory_gib} GiB is not a whole number of MiB")
    gpus, gpu = _counted(cells, "gpus", ("gpu_name", "gpu_manufacturer", "gpu_memory_mib"))
    accelerators, accel = _counted(cells, "accelerators", ("accelerator_name", "accelerator_cores"))
    if gpus and accelerators:
        raise cells["accelerators"].fail("a type has GPUs or Neuron accelerators, not both")
    return InstanceType(
        name=name, family=family, category=category, generation=generation, size=size,
        arch=cells["arch"].choice(ARCHITECTURES),
        vcpu=cells["vcpu"].whole(minimum=1),
        memory_mib=int(memory_gib * 1024),
        gpus=gpus, gpu_name=gpu[0].text if gpus else "",
        gpu_manufacturer=gpu[1].text if gpus else "",
        gpu_memory_mib=gpu[2].whole(minimum=1) if gpus else 0,
        pods=cells["pods"].whole(minimum=1),
        on_demand_price=cells["on_demand_price"].number(),
        hypervisor=cells["hypervisor"].choice(HYPERVISORS),
        accelerators=accelerators,
        accelerator_name=accel[0].text if accelerators else "",
        # The only non-GPU accelerators the AWS provider labels this way are its own
        # Neuron devices (Inferentia, Trainium): their manufacturer label is always "aws".
        accelerator_manufacturer="aws" if accelerators else "",
        accelerator_cores=accel[1].whole(minimum=1) if accelerators else 0,
    )


def parse_table(path: Path | str = CATALOG_TABLE) -> list[InstanceType]:
    """The table's instance types, in table order. Errors name file:line:column."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise CatalogError(f"cannot read {path}: {exc.strerror}") from None
    header: list[str] | None = None
    types: list[InstanceType] = []
    first_seen: dict[str, int] = {}
    for lineno, line in enumerate(lines, start=1):
        fields = _fields(line)
        if not fields:
            continue
        if header is None:
            header = _read_header(path, lineno, fields)
            continue
        cells = _row_cells(path, lineno, line, fields, header)
        name = cells["name"]
        if name.text in first_seen:
            raise name.fail(f"duplicate instance type {name.text!r} (first on line {first_seen[name.text]})")
        first_seen[name.text] = lineno
        types.append(_parse_row(cells))
    if not types:
        raise CatalogError(f"{path}: no instance types (expected a header line, then one row per type)")
    return types


# ---------------------------------------------------------------- rendering the JSON


def spot_price(it: InstanceType, zone: str) -> float:
    """The modelled spot price of `it` in `zone` (deterministic; see SPOT_DISCOUNT)."""
    rotation = zlib.crc32(it.family.encode()) % len(ZONES)
    skew = ZONE_SPOT_SKEW[(ZONES.index(zone) + rotation) % len(ZONE_SPOT_SKEW)]
    discount = SPOT_DISCOUNT.get(it.family, DEFAULT_SPOT_DISCOUNT) + skew
    return round(it.on_demand_price * (1 - discount), 4)


def _price(it: InstanceType, zone: str, capacity_type: str) -> float:
    return it.on_demand_price if capacity_type == "on-demand" else spot_price(it, zone)


def _requirement(key: str, operator: str, *values: str) -> dict[str, Any]:
    return {"key": key, "operator": operator, "values": list(values)}


def offering_requirements(it: InstanceType, zone: str, capacity_type: str) -> list[dict[str, Any]]:
    """The Requirements of one offering in the JSON.

    Besides the labels, types without a GPU (or accelerator) say `DoesNotExist` for those
    keys, as AWS's provider does: Karpenter lets an offering that does not mention a
    well-known key pass any requirement on it, so without these a NodePool asking for
    `instance-gpu-count Gt 0` could still launch an m5 (a node without the label).
    """
    reqs = [_requirement(CAPACITY_TYPE, "In", capacity_type), _requirement(ZONE, "In", zone)]
    reqs += [_requirement(k, "In", v) for k, v in it.aws_labels().items()]
    if not it.gpus:
        reqs += [_requirement(k, "DoesNotExist") for k in AWS_GPU_KEYS]
    if not it.accelerators:
        reqs += [_requirement(k, "DoesNotExist") for k in AWS_ACCELERATOR_KEYS]
    return reqs


def _json_entry(it: InstanceType) -> dict[str, Any]:
    return {
        "name": it.name,
        "architecture": it.arch,
        "operatingSystems": ["linux"],
        "resources": it.resources(),
        "offerings": [
            {"Price": _price(it, zone, ct), "Available": True,
             "Requirements": offering_requirements(it, zone, ct)}
            for zone in ZONES for ct in CAPACITY_TYPES
        ],
    }


def render_json(types: Iterable[InstanceType]) -> str:
    """The JSON Karpenter's kwok provider reads; byte-stable (sorted by name, indent 2)."""
    entries = [_json_entry(it) for it in sorted(types, key=lambda t: t.name)]
    return json.dumps(entries, indent=2) + "\n"


def generate(table: Path | str = CATALOG_TABLE, out: Path | str = CATALOG_JSON, check: bool = False) -> bool:
    """Render `table` into `out`. Returns True if `out` changed (was rewritten).

    With check=True nothing is written: returns False when `out` is up to date and raises
    CatalogError when it is stale or missing.
    """
    out = Path(out)
    text = render_json(parse_table(table))
    current = out.read_text() if out.exists() else None
    if current == text:
        return False
    if check:
        state = "is missing" if current is None else "is out of date with " + Path(table).name
        raise CatalogError(f"{shown_path(out)} {state}", fix=REGENERATE_FIX)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, out)  # a running Karpenter never sees a half-written file
    return True


# ---------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m workshop.instances.table [--check]`: regenerate (or check) the JSON."""
    parser = argparse.ArgumentParser(prog="python -m workshop.instances.table", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check the JSON is up to date")
    parser.add_argument("--table", type=Path, default=CATALOG_TABLE, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=CATALOG_JSON, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        changed = generate(args.table, args.out, check=args.check)
        catalog = read_catalog(args.out)
    except CatalogError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    size = f"{len(catalog.types)} instance types, {len(catalog.offerings)} offerings"
    verb = "wrote" if changed else "up to date:"
    print(f"{verb} {shown_path(args.out)} ({size})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
