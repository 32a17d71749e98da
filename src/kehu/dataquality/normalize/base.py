"""What every normaliser returns.

Normalisers are pure functions (no database, no Django settings, no network): raw value in,
canonical value out, plus the list of what was changed and what is wrong. They are idempotent:
`normalize_x(normalize_x(v).value).value == normalize_x(v).value`, and they never lose the
input: a value that cannot be understood is kept verbatim (`value == raw.strip()`) and flagged
with a problem, never dropped or guessed.

`changes` and `problems` carry stable codes (``"phone.prefix_removed"``, ``"email.domain_typo"``);
`kehu.dataquality.normalize.messages.describe()` turns them into words for the UI and reports,
so the hot path never touches gettext.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with a value: `code` is stable ("phone.invalid"), `value` the offending
    text, `hint` an optional suggestion ("qq.com" for "qq.con")."""

    code: str
    value: str = ""
    hint: str = ""


@dataclass(frozen=True, slots=True)
class Normalized:
    """Base of every result: the canonical text to store, what changed, what is wrong."""

    raw: str
    value: str
    changes: tuple[str, ...] = field(default=())
    problems: tuple[Problem, ...] = field(default=())

    @property
    def changed(self) -> bool:
        return self.value != self.raw

    @property
    def ok(self) -> bool:
        return not self.problems
