import json

import pytest
from django.core.management import CommandError, call_command

from tests.support.documents import CONTRACT, make_pdf


def test_ingest_then_run_from_the_command_line(celery_worker, tenant_a, tmp_path, capsys):
    (tmp_path / "nda.txt").write_text(CONTRACT)
    (tmp_path / "deck.pdf").write_bytes(make_pdf(["Quarterly deck"]))
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01\x02binary")
    call_command("quire_ingest", str(tmp_path), "--tenant", tenant_a.tenant.slug, "--timeout", "120")
    out = capsys.readouterr()
    lines = dict(reversed(line.split("\t")) for line in out.out.strip().splitlines())
    assert set(map(lambda p: p.rsplit("/", 1)[-1], lines)) == {"nda.txt", "deck.pdf"}
    assert "skipped" in out.err
    nda = next(doc for path, doc in lines.items() if path.endswith("nda.txt"))

    call_command("quire_run", "legal", nda, "--tenant", tenant_a.tenant.slug, "--timeout", "120")
    result = json.loads(capsys.readouterr().out)
    assert result["connector"] == "legal" and result["answers"]["Governing Law"] == "Delaware"


def test_run_reports_bad_input_clearly(tenant_a):
    with pytest.raises(CommandError, match="Unknown connector"):
        call_command("quire_run", "astrology", "doc_x", "--tenant", tenant_a.tenant.slug)
    with pytest.raises(CommandError, match="no tenant"):
        call_command("quire_run", "legal", "doc_x", "--tenant", "nobody")


def test_run_refuses_options_that_are_not_an_object(tenant_a):
    from tests.support.portal import stored_document

    document = stored_document(tenant_a, "options-list.txt", CONTRACT)
    for options in ("[]", "null", '"rag"'):
        with pytest.raises(CommandError, match="--options must be a JSON object"):
            call_command(
                "quire_run", "legal", document.pk, "--tenant", tenant_a.tenant.slug, "--options", options
            )


def test_ingest_skips_an_unreadable_file_in_one_line_and_fails_when_nothing_was_stored(
    tenant_a, tmp_path, capsys, monkeypatch
):
    from pathlib import Path

    locked = tmp_path / "locked.txt"
    locked.write_text("A memo nobody may read.")
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01\x02binary")
    read_bytes = Path.read_bytes

    def refusing(path: Path) -> bytes:
        if path.name == locked.name:
            raise PermissionError(13, "Permission denied", str(path))
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", refusing)
    with pytest.raises(CommandError, match="none of the 2 file"):
        call_command("quire_ingest", str(tmp_path), "--tenant", tenant_a.tenant.slug, "--no-wait")
    err = " ".join(capsys.readouterr().err.split())
    assert f"skipped {locked}: cannot read it (Permission denied)" in err and "Traceback" not in err


def test_ingest_prints_a_skipped_files_whole_name_on_one_line(tenant_a, tmp_path, capsys):
    folder = tmp_path / ("a-folder-name-long-enough-to-pass-eighty-columns-" * 2)
    folder.mkdir()
    (folder / "contract [draft] [red].bin").write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(CommandError, match="none of the 1 file"):
        call_command("quire_ingest", str(folder), "--tenant", tenant_a.tenant.slug, "--no-wait")
    skipped = [line for line in capsys.readouterr().err.splitlines() if line.startswith("skipped")]
    assert skipped == [
        f"skipped {folder / 'contract [draft] [red].bin'}: Unsupported document: binary content of no supported type."
    ], skipped


def test_ingest_takes_text_files_whatever_their_extension(tenant_a, tmp_path, capsys):
    from django_tenants.utils import tenant_context

    from quire.documents.models import Document

    (tmp_path / "parties.csv").write_text("party,role\nAcme Widgets,seller\nNorthwind Freight,buyer\n")
    (tmp_path / "terms.xml").write_text(
        "<terms><term>Thirty days' notice ends the agreement.</term></terms>\n"
    )
    call_command("quire_ingest", str(tmp_path), "--tenant", tenant_a.tenant.slug, "--no-wait")
    assert "skipped" not in capsys.readouterr().err
    with tenant_context(tenant_a.tenant):
        stored = set(
            Document.objects.filter(filename__in=["parties.csv", "terms.xml"]).values_list(
                "filename", flat=True
            )
        )
    assert stored == {"parties.csv", "terms.xml"}


def test_ingest_without_waiting_prints_the_id_of_each_document_it_queued(tenant_a, tmp_path, capsys):
    from django_tenants.utils import tenant_context

    from quire.documents.models import Document

    (tmp_path / "queued-only.txt").write_text(CONTRACT + "\nSchedule Q: queued without waiting.\n")
    call_command("quire_ingest", str(tmp_path), "--tenant", tenant_a.tenant.slug, "--no-wait")
    (line,) = capsys.readouterr().out.strip().splitlines()
    doc_id, path = line.split("\t")
    assert path.endswith("queued-only.txt")
    with tenant_context(tenant_a.tenant):
        assert Document.objects.get(pk=doc_id).filename == "queued-only.txt"
