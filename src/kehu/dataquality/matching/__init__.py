"""Kehu's duplicate-matching engine on plain records (no database).

    record = build_record({"name": "张先生", "phone": "138 1234 5678", "company": "北京分扬科技有限公司"})
    blocking_keys(record)              # {"p+8613812345678", "k分扬科技", "bfenyang", ...}
    candidate_pairs(records)           # (i, j) pairs sharing a key; never all pairs
    stats = MatchStats.from_records(records)
    compare(a, b, stats)               # PairScore(score, verdict, reasons)
    explain(pair.reasons, "zh")        # "同一手机号 138****5678；公司名去掉“有限公司”和地区“北京”后相同（分扬科技）"
    dedupe(records)                    # DedupeResult(clusters, scores, pairs, ...)

records.py builds the comparable forms once per record; blocking.py generates candidates;
scoring.py weighs agreement and disagreement per field (Fellegi–Sunter, frequency-aware);
reasons.py turns the evidence into words; engine.py clusters. `columns.py` recognises which file
column plays which role, for `kehu dedupe`.
"""

from kehu.dataquality.matching.blocking import CandidateIndex, blocking_keys, candidate_pairs
from kehu.dataquality.matching.engine import DedupeResult, ScoredPair, dedupe
from kehu.dataquality.matching.reasons import Reason, describe, explain
from kehu.dataquality.matching.records import ROLES, MatchRecord, build_record
from kehu.dataquality.matching.scoring import CERTAIN, REVIEW, MatchStats, PairScore, compare

__all__ = [
    "CERTAIN", "REVIEW", "ROLES", "CandidateIndex", "DedupeResult", "MatchRecord", "MatchStats", "PairScore",
    "Reason", "ScoredPair", "blocking_keys", "build_record", "candidate_pairs", "compare", "dedupe", "describe",
    "explain",
]  # fmt: skip
