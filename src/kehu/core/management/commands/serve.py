"""`kehu serve`: gunicorn with several worker processes (WhiteNoise serves the static files) and,
unless `--no-worker`, one background worker (`kehu worker`, Huey) beside it, so imports, cleaning
runs and reminders work out of the box; `--dev` uses Django's auto-reloading development server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

DEFAULT_BIND = "127.0.0.1:8000"


def default_workers() -> int:
    """gunicorn's rule of thumb (2 × cores + 1), kept between 2 and 8."""
    return max(2, min(8, 2 * (os.cpu_count() or 1) + 1))


def gunicorn_argv(*, bind: str, workers: int, timeout: int = 60) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", "kehu.config.wsgi:application",
        "--bind", bind,
        "--workers", str(workers),
        "--timeout", str(timeout),
        "--graceful-timeout", "20",
        "--access-logfile", "-",
        "--forwarded-allow-ips", os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
    ]


class Command(BaseCommand):
    help = "启动 Web 服务：默认用 gunicorn 多进程（生产模式），--dev 用开发服务器"
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default=DEFAULT_BIND, help=f"监听地址（默认 {DEFAULT_BIND}）")
        parser.add_argument("--workers", type=int, default=None, help="gunicorn 工作进程数（默认 2×CPU+1，最多 8）")
        parser.add_argument("--timeout", type=int, default=60, help="请求超时秒数（默认 60）")
        parser.add_argument("--dev", action="store_true", help="开发模式：runserver，修改代码自动重载")
        parser.add_argument("--no-worker", action="store_true",
                            help="不启动后台任务进程（另行运行 kehu worker 时使用）")

    def handle(
        self, *args: Any, bind: str, workers: int | None, timeout: int, dev: bool, no_worker: bool = False,
        **options: Any,
    ) -> None:
        url = f"http://{bind}/"
        if dev:
            self.stdout.write(f"开发模式：{url}")
            call_command("runserver", bind)
            return
        workers = workers or default_workers()
        argv = gunicorn_argv(bind=bind, workers=workers, timeout=timeout)
        self.stdout.write(f"Kehu 已启动：{url}（gunicorn，{workers} 个工作进程；Ctrl-C 停止）")
        self.stdout.flush()
        if no_worker:
            # Replace this process so Ctrl-C and `kill` reach gunicorn's master directly.
            os.execv(sys.executable, argv)  # noqa: S606 — fixed argv, no shell
            return
        self.stdout.write("后台任务进程已启动（kehu worker）")
        self.stdout.flush()
        run_together([argv, worker_argv()])


def worker_argv() -> list[str]:
    return [sys.executable, "-m", "kehu.cli", "worker"]


def run_together(commands: list[list[str]]) -> int:
    """Run the processes side by side; when one ends or we are signalled, stop them all."""
    children = [subprocess.Popen(argv) for argv in commands]  # noqa: S603 — fixed argv, no shell

    def stop(*_: Any) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while all(child.poll() is None for child in children):
            try:
                children[0].wait(timeout=1)
            except subprocess.TimeoutExpired:
                continue
    finally:
        stop()
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
        # Handlers outlive this call otherwise, and processes forked later (a Pool) would inherit them.
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return max((child.returncode or 0) for child in children)
