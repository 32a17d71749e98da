"""The pipeline, stages and lost reasons a new installation starts with (a data migration loads
them once; admins edit them afterwards)."""

from __future__ import annotations

from typing import Any

DEFAULT_PIPELINE = ("新客户销售", "New business")
# (中文, English, win probability %, kind, colour, fields required to enter)
DEFAULT_STAGES: list[tuple[str, str, int, str, str, list[str]]] = [
    ("初步接洽", "Qualification", 10, "open", "#8c8c8c", []),
    ("需求确认", "Needs analysis", 30, "open", "#1677ff", []),
    ("方案报价", "Proposal", 50, "open", "#13c2c2", ["amount"]),
    ("商务谈判", "Negotiation", 70, "open", "#fa8c16", ["amount", "expected_close_date"]),
    ("赢单", "Won", 100, "won", "#52c41a", ["amount"]),
    ("输单", "Lost", 0, "lost", "#f5222d", []),
]
DEFAULT_LOST_REASONS: list[tuple[str, str]] = [
    ("价格太高", "Price too high"),
    ("选择了竞争对手", "Chose a competitor"),
    ("需求取消或延期", "Need cancelled or postponed"),
    ("预算不足", "No budget"),
    ("联系不上", "Could not reach them"),
    ("其他", "Other"),
]


def load_defaults(pipeline_model: Any, stage_model: Any, reason_model: Any) -> None:
    if not pipeline_model.objects.exists():
        pipeline = pipeline_model.objects.create(name_zh=DEFAULT_PIPELINE[0], name_en=DEFAULT_PIPELINE[1],
                                                 is_default=True)
        for position, (zh, en, probability, kind, color, required) in enumerate(DEFAULT_STAGES):
            stage_model.objects.create(pipeline=pipeline, name_zh=zh, name_en=en, position=position,
                                       probability=probability, kind=kind, color=color, required_fields=required)
    if not reason_model.objects.exists():
        for position, (zh, en) in enumerate(DEFAULT_LOST_REASONS):
            reason_model.objects.create(label_zh=zh, label_en=en, position=position)
