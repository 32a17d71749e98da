"""The `kehu` command: `kehu <command> [options]` runs a Django management command with Kehu's
settings, so `kehu setup`, `kehu serve`, `kehu migrate` and `kehu shell` all work from any folder.

`kehu --help` lists Kehu's own commands; `kehu help` lists every command, Django's included.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

SETTINGS_MODULE = "kehu.config.settings"
# Shown first, in this order; other Kehu commands (from any kehu.* app) follow alphabetically.
PRIMARY_COMMANDS = ["setup", "serve", "demo", "reindex"]
# Django commands worth mentioning in the overview.
DJANGO_COMMANDS = {
    "migrate": "应用数据库迁移（`kehu setup` 已包含）",
    "createsuperuser": "创建超级管理员",
    "changepassword": "修改用户密码",
    "shell": "Django shell",
    "dbshell": "数据库命令行",
}


def kehu_commands() -> dict[str, str]:
    """{name: one-line help} for the management commands that Kehu's own apps provide."""
    import django
    from django.core.management import get_commands, load_command_class

    django.setup()
    found: dict[str, str] = {}
    for name, app in get_commands().items():
        if not app.startswith("kehu."):
            continue
        try:
            found[name] = str(load_command_class(app, name).help).strip().splitlines()[0]
        except Exception as exc:  # a broken command must not hide the others
            found[name] = f"(failed to load: {exc})"
    ordered = {n: found[n] for n in PRIMARY_COMMANDS if n in found}
    ordered.update({n: found[n] for n in sorted(found) if n not in ordered})
    return ordered


def usage() -> str:
    lines = [
        "用法 / usage: kehu <command> [options]",
        "",
        "Kehu 命令 / Kehu commands:",
    ]
    commands = kehu_commands()
    width = max((len(n) for n in [*commands, *DJANGO_COMMANDS]), default=10) + 2
    lines += [f"  {name:<{width}}{text}" for name, text in commands.items()]
    lines += ["", "常用 Django 命令 / Django commands (all of `kehu help` work too):"]
    lines += [f"  {name:<{width}}{text}" for name, text in DJANGO_COMMANDS.items()]
    lines += [
        "",
        "kehu <command> --help   一个命令的全部选项 / options of one command",
        "环境变量 / environment: DATABASE_URL, SECRET_KEY, DEBUG, KEHU_DATA_DIR, ALLOWED_HOSTS (see README.md)",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        print(usage())
        return 0
    if args[0] in {"--version", "version"}:
        from importlib.metadata import version

        print(f"kehu {version('kehu')}")
        return 0
    from django.core.management import execute_from_command_line

    execute_from_command_line(["kehu", *args])
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
