"""Web pages of duplicate contacts within one customer: the review queue of contact pairs, the
compare-and-merge page, and a contact merge's record with its undo. The same shape as the customer
duplicate pages in `views.py`; views stay thin and call `contact_duplicates`, `merging.contacts`
and `scan_selectors`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kehu.core.errors import KehuError, NotFound, ValidationFailed
from kehu.dataquality import contact_duplicates, scan_selectors
from kehu.dataquality.merging import contacts as contact_merging
from kehu.dataquality.merging.services import UnmergeConflict
from kehu.dataquality.models import DuplicateStatus
from kehu.dataquality.views import _back, _is_htmx, _merge_ids, _page_number

CONTACT_PAIRS_PAGE = 50


def _filters(request: HttpRequest) -> dict[str, str]:
    verdict = request.GET.get("verdict", "")
    status = request.GET.get("status", DuplicateStatus.OPEN)
    return {"verdict": verdict if verdict in scan_selectors.VERDICTS else "",
            "status": status if status in DuplicateStatus.values else DuplicateStatus.OPEN}


def _error_text(exc: KehuError) -> str:
    if isinstance(exc, ValidationFailed):
        return "；".join(str(e.message) for e in exc.errors)
    return str(exc.message)


# The review queue ---------------------------------------------------------------------------------


@login_required
@require_GET
def contact_duplicates_queue(request: HttpRequest) -> HttpResponse:
    """Pairs of likely duplicate contacts of one customer, strongest first, with the reasons."""
    filters = _filters(request)
    page = _page_number(request)
    # The selector keeps to the user's scope: a pair shows only when its customer is visible.
    views, has_more = scan_selectors.contact_pairs_page(
        user=request.user, verdict=filters["verdict"] or None, status=filters["status"],
        offset=(page - 1) * CONTACT_PAIRS_PAGE, limit=CONTACT_PAIRS_PAGE)
    query = {k: v for k, v in filters.items() if v and not (k == "status" and v == DuplicateStatus.OPEN)}
    counts = scan_selectors.contact_pair_counts(user=request.user)
    context = {
        "views": views, "filters": filters, "page": page, "counts": counts, "open_total": sum(counts.values()),
        "statuses": DuplicateStatus.choices,
        "prev_url": f"?{urlencode({**query, 'page': page - 1})}" if page > 1 else "",
        "next_url": f"?{urlencode({**query, 'page': page + 1})}" if has_more else "",
        "queue_url": request.get_full_path(),
    }
    template = "dataquality/contacts/partials/pair_results.html" if _is_htmx(request) else \
        "dataquality/contacts/queue.html"
    return render(request, template, context)


@login_required
@require_POST
def contact_pair_dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    """"不是同一人": remembered for good; the pair's row is swapped for its new state (HTMX)."""
    if scan_selectors.contact_pair_get(user=request.user, pair_id=pk) is None:
        raise Http404(_("疑似重复记录不存在"))
    back = _back(request, reverse("dataquality:contact_duplicates"))
    try:
        contact_duplicates.contact_pair_dismiss(acting_user=request.user, pair_id=pk)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    except KehuError as exc:
        messages.error(request, _error_text(exc))
        return redirect(back)
    if _is_htmx(request):
        return render(request, "dataquality/contacts/partials/pair_row.html", {
            "view": scan_selectors.contact_pair_get(user=request.user, pair_id=pk), "queue_url": back,
            "just_dismissed": True})
    messages.success(request, _("已记录：这两个联系人不是同一人，不会再被提示"))
    return redirect(back)


# Compare and merge --------------------------------------------------------------------------------


def _chosen(request: HttpRequest, preview: contact_merging.ContactMergePreview) -> dict[str, int]:
    """The radio buttons as posted: {field: contact id}; the service checks the ids belong."""
    chosen = {}
    for row in preview.fields:
        value = request.POST.get(f"choice_{row.name}", "")
        if value.isdigit():
            chosen[row.name] = int(value)
    return chosen


def _versions(request: HttpRequest) -> dict[int, int]:
    return {int(k.removeprefix("version_")): int(v) for k, v in request.POST.items()
            if k.startswith("version_") and v.isdigit() and k.removeprefix("version_").isdigit()}


@login_required
@require_http_methods(["GET", "POST"])
def contact_merge_compare(request: HttpRequest) -> HttpResponse:
    """The contacts side by side, a radio per field for the surviving value, the merged notes; POST
    merges and goes back to the customer page."""
    source = request.POST if request.method == "POST" else request.GET
    ids = _merge_ids(source.getlist("ids"))
    survivor = source.get("survivor", "")
    survivor_id = int(survivor) if survivor.isdigit() and int(survivor) in ids else None
    try:
        preview = contact_merging.contact_merge_preview(acting_user=request.user, ids=ids, survivor_id=survivor_id)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    except KehuError as exc:  # fewer than two, two customers, a contact merged away meanwhile
        return render(request, "dataquality/contacts/merge_compare.html", {
            "preview": None, "error": _error_text(exc),
            "back": _back(request, reverse("dataquality:contact_duplicates"))}, status=422)
    error = ""
    choices = dict(preview.choices)
    if request.method == "POST":
        choices.update(_chosen(request, preview))
        try:
            merge = contact_merging.contacts_merge(
                acting_user=request.user, survivor_id=preview.survivor_id,
                merged_ids=[c.pk for c in preview.contacts if c.pk != preview.survivor_id],
                field_choices=choices, expected_versions=_versions(request))
        except NotFound as exc:
            raise Http404(str(exc)) from exc
        except KehuError as exc:  # ValidationFailed, VersionConflict, an unregistered table
            error = _error_text(exc)
        else:
            messages.success(request, _("已合并 %(count)s 个重复联系人，30 天内可以撤销")
                             % {"count": len(merge.merged_ids)})
            return redirect("customers:detail", pk=merge.customer_id)
    # Fields empty on every contact have nothing to show or choose.
    rows = [{"row": row, "chosen": choices.get(row.name, row.default)} for row in preview.fields
            if not all(cell.empty for cell in row.cells)]
    ids_text = ",".join(str(c.pk) for c in preview.contacts)
    return render(request, "dataquality/contacts/merge_compare.html", {
        "preview": preview, "rows": rows, "error": error, "ids": ids_text,
        "related": [preview.related_counts.get(c.pk, []) for c in preview.contacts],
        "next": _back(request, ""),
    }, status=422 if error else 200)


@login_required
@require_POST
def contact_not_duplicate(request: HttpRequest) -> HttpResponse:
    """"不是同一人" from the compare page: the two contacts are never suggested again."""
    ids = _merge_ids(request.POST.getlist("ids"))
    back = _back(request, reverse("dataquality:contact_duplicates"))
    if len(ids) != 2:
        messages.error(request, _("请选择两个联系人"))
        return redirect(back)
    try:
        contact_duplicates.contact_pair_mark_distinct(acting_user=request.user, a_id=ids[0], b_id=ids[1])
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    except KehuError as exc:
        messages.error(request, _error_text(exc))
        return redirect(back)
    messages.success(request, _("已记录：这两个联系人不是同一人，不会再被提示"))
    return redirect(back)


# Record and undo ----------------------------------------------------------------------------------


def merge_item(merge: Any, user: Any) -> dict[str, Any]:
    """What the record page and the customer page's list show of one contact merge."""
    survivor_name = str((merge.snapshot.get("survivor_after") or {}).get("name") or "")
    return {"merge": merge, "merged": contact_merging.merged_contact_names(merge), "survivor_name": survivor_name,
            "can_undo": contact_merging.may_undo(merge, user), "undo_until": contact_merging.undo_deadline(merge)}


@login_required
@require_GET
def contact_merge_record(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        merge = contact_merging.contact_merge_get(user=request.user, merge_id=pk)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    return render(request, "dataquality/contacts/merge_record.html", merge_item(merge, request.user))


@login_required
@require_POST
def contact_merge_undo(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        merge = contact_merging.contact_merge_get(user=request.user, merge_id=pk)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    back = _back(request, reverse("dataquality:contact_merge_record", args=[pk]))
    try:
        result = contact_merging.contact_merge_undo(acting_user=request.user, merge_id=pk)
    except UnmergeConflict as exc:
        # Nothing was changed; the record page lists each field and record in the way.
        return render(request, "dataquality/contacts/merge_record.html", {
            **merge_item(merge, request.user), "conflicts": [str(c.message) for c in exc.conflicts]}, status=409)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    except KehuError as exc:  # already undone, too late, not allowed, the survivor merged on
        messages.error(request, _error_text(exc))
        return redirect(back)
    names = "、".join(c.name for c in result.restored)
    messages.success(request, _("已撤销联系人合并，恢复了联系人 %(names)s") % {"names": names})
    return redirect("customers:detail", pk=merge.customer_id)
