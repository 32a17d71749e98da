"""Display helpers of the data-quality pages."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def score_class(score: Any) -> str:
    """CSS class for a 0-100 score: good from 80, fair from 60, poor below, unknown when not checked."""
    if score is None or score == "":
        return "score-none"
    value = int(score)
    if value >= 80:
        return "score-good"
    if value >= 60:
        return "score-fair"
    return "score-poor"
