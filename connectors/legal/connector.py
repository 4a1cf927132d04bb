"""The `legal` connector: clauses, answers and risks per contract."""

from __future__ import annotations

from connectors.base import Connector, Document, OptionError, RunContext
from connectors.legal.analyzers import analyse_contract
from connectors.legal.custom import HeadError, check_keys, find_clauses, heads_named
from connectors.legal.learned import MAX_SUGGESTIONS, run_model
from connectors.legal.risks import assess_risks, validate_playbook


class LegalConnector(Connector):
    name = "legal"
    description = "Contract review over CUAD's 41 clause categories with a configurable playbook"
    reads_all_text = True
    sections = ("clauses", "custom_clauses", "risks")

    def validate_options(self, options: dict) -> dict:
        self.reject_unknown_options(
            options, {"playbook", "include_default_risks", "clause_model", "clause_types", "suggestions"}
        )
        clause_model = options.get("clause_model", "learned")
        if clause_model not in ("learned", "rules"):
            raise OptionError('clause_model must be "learned" or "rules"', "options.clause_model")
        include_default_risks = options.get("include_default_risks", True)
        if not isinstance(include_default_risks, bool):
            raise OptionError("include_default_risks must be true or false", "options.include_default_risks")
        suggestions = options.get("suggestions", 0)
        if (
            isinstance(suggestions, bool)
            or not isinstance(suggestions, int)
            or not 0 <= suggestions <= MAX_SUGGESTIONS
        ):
            raise OptionError(
                f"suggestions must be a whole number from 0 to {MAX_SUGGESTIONS}", "options.suggestions"
            )
        try:
            clause_types = check_keys(options.get("clause_types", []), "options.clause_types")
        except HeadError as exc:
            raise OptionError(str(exc), exc.param) from exc
        return {
            "clause_model": clause_model,
            "playbook": validate_playbook(options.get("playbook", [])),
            "include_default_risks": include_default_risks,
            "clause_types": clause_types,
            "suggestions": suggestions,
        }

    def clause_types(self, options: dict) -> list[tuple[str, str]]:
        return [(key, f"options.clause_types.{i}") for i, key in enumerate(options.get("clause_types", []))]

    def run(self, documents: list[Document], options: dict, run: RunContext) -> dict:
        if not documents:
            raise ValueError("the legal connector needs at least one contract")
        clauses: list[dict] = []
        answers_by_document: dict[str, dict] = {}
        risks: list[dict] = []
        checked = 0
        model = run_model(run) if options["clause_model"] == "learned" else None
        heads = heads_named(run.clause_heads, options["clause_types"])
        custom: list[dict] = []
        suggestions: list[dict] = []
        if options["suggestions"] and model is None:
            run.warn("suggestions need the learned clause model, which this run does not use; none are given")
        for index, document in enumerate(documents):
            if not document.text.strip():
                run.warn(f"document {document.document_id!r} is empty; nothing to review")
            found, answers, suggested = analyse_contract(
                document.document_id,
                document.text,
                model,
                suggestions=options["suggestions"],
            )
            suggestions.extend(suggested)
            run.progress((index + 0.5) / len(documents), f"clauses {document.document_id}")
            checks: dict[str, dict] | None = None
            if run.mode == "model" and run.client is not None:
                from connectors.legal.model import refine_with_model

                found, answers, checks = refine_with_model(document, found, answers, run, options["playbook"])
                checked += len(checks)
            clauses.extend(found)
            if heads:
                for findings in find_clauses(document.document_id, document.text, heads, run.embed).values():
                    custom.extend(findings)
            answers_by_document[document.document_id] = answers
            risks.extend(
                assess_risks(
                    document, found, answers, options["playbook"], options["include_default_risks"], checks
                )
            )
            run.progress((index + 1) / len(documents), f"risks {document.document_id}")
        result: dict = {
            "clauses": clauses,
            "answers": answers_by_document[documents[0].document_id],
            "risks": risks,
        }
        if options["suggestions"]:
            result["suggestions"] = suggestions
        if heads:
            result["custom_clauses"] = custom
        if len(documents) > 1:
            result["answers_by_document"] = answers_by_document
        if run.mode == "model" and run.client is not None and options["playbook"]:
            asked = len(options["playbook"]) * len(documents)
            result["playbook_checks"] = {
                "asked": asked,
                "answered_by_model": checked,
                "dropped": asked - checked,
            }
        return result
