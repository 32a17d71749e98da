"""`kehu audit verify` / `kehu audit seal`: the audit log's hash chain (kehu.core.audit_chain)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kehu.core import audit_chain

REASONS = {
    audit_chain.ROW_CHANGED: "记录被修改 / row changed",
    audit_chain.ROW_MISSING: "记录缺失 / row missing",
    audit_chain.CHAIN_BROKEN: "链接断开 / chain link broken",
    audit_chain.OUTSIDE_CHAIN: "记录不在链中 / row outside the chain",
}


class Command(BaseCommand):
    help = "审计日志防篡改：verify 校验哈希链（损坏时退出码 1），seal 立即封存新记录"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{verify,seal}")
        verify = sub.add_parser("verify", help="封存新记录后从第一条起重算哈希链，报告第一处损坏")
        verify.add_argument("--no-seal", action="store_true", help="不先封存（只校验已封存的记录）")
        verify.add_argument("--expect-head", metavar="SEQ:HASH",
                            help="另行保存的链头（seal/verify 输出）：链头之前的记录被删除也能发现")
        verify.add_argument("--json", action="store_true", help="输出 JSON")
        seal = sub.add_parser("seal", help="封存未封存的审计记录并输出链头")
        seal.add_argument("--batch", type=int, default=audit_chain.CHUNK, help="每个事务封存的条数")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "seal":
            sealed = audit_chain.seal(batch=max(1, options["batch"]))
            seq, digest = audit_chain.head()
            self.stdout.write(f"sealed {sealed} rows; head {seq}:{digest}")
            return
        result = audit_chain.verify(seal_first=not options["no_seal"])
        if result.ok and options["expect_head"]:
            self._check_head(result, options["expect_head"])
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False))
        else:
            self._report(result)
        if not result.ok:
            raise CommandError(f"audit chain broken at seq {result.broken_seq}: {REASONS.get(result.reason or '')}",
                               returncode=1)

    def _check_head(self, result: audit_chain.Verification, expected: str) -> None:
        seq_text, _sep, digest = expected.partition(":")
        if not seq_text.isdigit() or len(digest) != 64:
            raise CommandError("--expect-head takes SEQ:HASH as printed by `kehu audit seal`", returncode=2)
        seq = int(seq_text)
        if seq > result.head_seq:
            audit_chain.mark_broken(result, seq, audit_chain.ROW_MISSING,
                               f"the chain ends at seq {result.head_seq}, the saved head is seq {seq}")
            return
        if seq == result.head_seq and digest != result.head_hash:
            audit_chain.mark_broken(result, seq, audit_chain.ROW_CHANGED,
                                    f"seq {seq} does not match the saved head hash")
            return
        if seq < result.head_seq:
            from kehu.core.models import AuditEvent

            stored = AuditEvent.objects.filter(seq=seq).values_list("entry_hash", flat=True).first()
            if stored != digest:
                audit_chain.mark_broken(result, seq, audit_chain.ROW_CHANGED,
                                   f"seq {seq} does not match the saved head hash")

    def _report(self, result: audit_chain.Verification) -> None:
        out = self.stdout
        if result.sealed_now:
            out.write(f"sealed now: {result.sealed_now}")
        out.write(f"checked: {result.checked} sealed rows; unsealed: {result.unsealed}")
        out.write(f"head: {result.head_seq}:{result.head_hash}")
        if not result.guard_installed:
            out.write(self.style.WARNING("warning: the append-only triggers are missing (re-run migrations)"))
        if result.ok:
            out.write(self.style.SUCCESS("OK: audit chain intact"))
        else:
            out.write(self.style.ERROR(f"BROKEN at seq {result.broken_seq}: {REASONS.get(result.reason or '')}"))
            out.write(result.detail)

