"""Custom clause types: create one by pasting example passages, watch it train, read its cross-validated
precision and recall, delete it. Developers write; everyone reads."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_http_methods, require_POST

from common.refusals import Refusal
from quire.clauses.models import ClauseType, ClauseTypeStatus
from quire.clauses.services import clause_type_create, clause_type_delete, clause_type_examples_add
from quire.portal.access import portal_page
from quire.portal.forms import ClauseTypeForm
from quire.portal.views.common import page, show_rejection

TRAINING = (ClauseTypeStatus.QUEUED, ClauseTypeStatus.TRAINING)


@require_http_methods(["GET", "HEAD", "POST"])
@portal_page()
def clause_type_list(request: HttpRequest) -> HttpResponse:
    form = ClauseTypeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            clause_type = clause_type_create(tenant=request.tenant, **form.cleaned_data)
        except Refusal as exc:
            show_rejection(form, exc)
        else:
            messages.success(request, f"Training {clause_type.name} on {clause_type.example_count} examples.")
            return redirect("portal:clause_type", clause_type_id=clause_type.pk)
    clause_types = ClauseType.objects.order_by("-created_at").defer(
        "examples", "counter_examples", "head", "near_misses"
    )
    return page(
        request,
        "portal/clause_types.html",
        {"form": form, "clause_types": clause_types},
        status=400 if form.errors else 200,
    )


@portal_page()
def clause_type_detail(request: HttpRequest, clause_type_id: str) -> HttpResponse:
    clause_type = get_object_or_404(ClauseType, pk=clause_type_id)
    template = "portal/partials/clause_type_status.html" if request.htmx else "portal/clause_type.html"
    return page(request, template, {"clause_type": clause_type, "training": clause_type.status in TRAINING})


@require_POST
@portal_page()
def clause_type_remove(request: HttpRequest, clause_type_id: str) -> HttpResponse:
    clause_type = get_object_or_404(ClauseType, pk=clause_type_id)
    clause_type_delete(tenant=request.tenant, clause_type=clause_type)
    messages.success(request, f"Deleted the clause type {clause_type.name}.")
    return redirect("portal:clause_types")


@require_POST
@portal_page()
def clause_type_label(request: HttpRequest, clause_type_id: str) -> HttpResponse:
    """The reviewer's answers on the passages to check: those marked as the clause become examples, those marked
    as not become counter-examples, and the clause type trains again."""
    clause_type = get_object_or_404(ClauseType, pk=clause_type_id)
    if request.POST.get("version") != str(clause_type.version):
        messages.error(
            request, "The clause type has trained again since that page was shown; answer its new passages."
        )
        return redirect("portal:clause_type", clause_type_id=clause_type.pk)
    answers = [request.POST.get(f"passage-{index}", "") for index in range(len(clause_type.near_misses))]
    marked = {
        answer: [p["text"] for p, a in zip(clause_type.near_misses, answers, strict=True) if a == answer]
        for answer in ("clause", "not")
    }
    if not marked["clause"] and not marked["not"]:
        messages.error(request, "Mark at least one passage as this clause or not.")
        return redirect("portal:clause_type", clause_type_id=clause_type.pk)
    try:
        clause_type_examples_add(
            tenant=request.tenant,
            clause_type=clause_type,
            examples=marked["clause"],
            counter_examples=marked["not"],
        )
    except Refusal as exc:
        messages.error(request, str(exc))
    else:
        added, refused = len(marked["clause"]), len(marked["not"])
        messages.success(
            request,
            f"Training {clause_type.name} again with {added} more example{pluralize(added)} and {refused} more "
            f"counter-example{pluralize(refused)}.",
        )
    return redirect("portal:clause_type", clause_type_id=clause_type.pk)
