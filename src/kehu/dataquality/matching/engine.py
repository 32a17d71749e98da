"""De-duplicate a list of records: block, score, keep the pairs worth showing, cluster.

`dedupe(records)` is what `kehu dedupe` and the FEBRL benchmark run: candidate pairs from the
blocking index, each scored without reasons (the hot path), reasons built only for the pairs at or
above the review threshold, then union-find over the pairs at or above the clustering threshold
(default: `CERTAIN`). Records in one cluster are taken to be the same entity.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kehu.dataquality.matching.blocking import MAX_BLOCK, WEAK_BLOCK, WINDOW, CandidateIndex
from kehu.dataquality.matching.reasons import Reason
from kehu.dataquality.matching.records import MatchRecord
from kehu.dataquality.matching.scoring import CERTAIN, REVIEW, MatchStats, compare, verdict_of

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class ScoredPair:
    left: int  # record positions, left < right
    right: int
    score: float
    verdict: str
    reasons: tuple[Reason, ...] = ()


@dataclass
class DedupeResult:
    """`clusters[i]`: the 1-based cluster of record i (numbered in order of first appearance; a
    record with no match is a cluster of its own). `scores[i]`: its best score to another record of
    its cluster, None when alone. `pairs`: the pairs scoring at least the review threshold (or the
    clustering threshold when lower), strongest first, with reasons. `compared`: candidate pairs
    scored."""

    clusters: list[int]
    scores: list[float | None]
    pairs: list[ScoredPair]
    compared: int
    threshold: float
    stats: MatchStats = field(repr=False)

    @property
    def cluster_count(self) -> int:
        return max(self.clusters, default=0)

    def members(self) -> dict[int, list[int]]:
        """{cluster id: record positions} for clusters of two or more records."""
        groups: dict[int, list[int]] = {}
        for position, cluster in enumerate(self.clusters):
            groups.setdefault(cluster, []).append(position)
        return {c: m for c, m in groups.items() if len(m) > 1}


class UnionFind:
    """Disjoint sets over 0..n-1 with path halving and union by size."""

    def __init__(self, size: int) -> None:
        self.parent = list(range(size))
        self.size = [1] * size

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, x: int, y: int) -> None:
        x, y = self.find(x), self.find(y)
        if x == y:
            return
        if self.size[x] < self.size[y]:
            x, y = y, x
        self.parent[y] = x
        self.size[x] += self.size[y]


def dedupe(
    records: Sequence[MatchRecord],
    *,
    threshold: float | None = None,
    review: float = REVIEW,
    explain: bool = True,
    stats: MatchStats | None = None,
    max_block: int = MAX_BLOCK,
    weak_block: int = WEAK_BLOCK,
    window: int = WINDOW,
    progress: Progress | None = None,
) -> DedupeResult:
    """Cluster `records` (see the module docstring). `threshold` defaults to `CERTAIN`; `explain`
    False leaves the pairs without reasons (faster, for benchmarks)."""
    cut = CERTAIN if threshold is None else threshold
    keep = min(cut, review)
    stats = stats or MatchStats.from_records(records)
    index = CandidateIndex(records, max_block=max_block, weak_block=weak_block, window=window)
    found: list[tuple[int, int, float]] = []
    compared = 0
    total = len(records)
    for position in range(total):
        left = records[position]
        for other in index.candidates_of(position):
            compared += 1
            score = compare(left, records[other], stats, explain=False).score
            if score >= keep:
                found.append((position, other, score))
        if progress is not None and position % 10_000 == 0:
            progress(position, total)
    union = UnionFind(total)
    for i, j, score in found:
        if score >= cut:
            union.union(i, j)
    clusters = _number(union, total)
    best: list[float | None] = [None] * total
    for i, j, score in found:
        if score >= cut:
            for p in (i, j):
                current = best[p]
                if current is None or score > current:
                    best[p] = score
    found.sort(key=lambda item: (-item[2], item[0], item[1]))
    pairs = []
    for i, j, score in found:
        reasons = compare(records[i], records[j], stats).reasons if explain else ()
        pairs.append(ScoredPair(i, j, score, verdict_of(score, review=review), reasons))
    if progress is not None:
        progress(total, total)
    return DedupeResult(clusters, best, pairs, compared, cut, stats)


def _number(union: UnionFind, total: int) -> list[int]:
    ids: dict[int, int] = {}
    clusters = []
    for position in range(total):
        root = union.find(position)
        cluster = ids.get(root)
        if cluster is None:
            cluster = ids[root] = len(ids) + 1
        clusters.append(cluster)
    return clusters
