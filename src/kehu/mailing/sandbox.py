"""The only template tags and filters a mail template may use (the sandboxed engine's builtins).

Nothing that reaches outside the template: no {% load %}, {% include %}, {% extends %}, {% url %},
{% debug %} (dumps the context), {% csrf_token %}, no |safe / |safeseq (would defeat autoescape in
HTML mails), no |pprint or |stringformat (reprs). No {% for %}: the merge data holds no lists, and
nested loops over strings are a cheap way to make rendering explode."""

from __future__ import annotations

from django.template import Library, defaultfilters, defaulttags

register = Library()

TAGS = ("if", "firstof", "with", "comment", "now", "spaceless", "verbatim")
FILTERS = (
    "add", "capfirst", "center", "cut", "date", "default", "default_if_none", "divisibleby", "escape", "first",
    "floatformat", "last", "length", "linebreaks", "linebreaksbr", "ljust", "lower", "make_list", "pluralize",
    "rjust", "slice", "striptags", "time", "title", "truncatechars", "truncatewords", "upper", "wordcount",
    "wordwrap", "yesno",
)

for _name in TAGS:
    register.tags[_name] = defaulttags.register.tags[_name]
for _name in FILTERS:
    register.filters[_name] = defaultfilters.register.filters[_name]
