"""The request body parsers: JSON read by `common.jsontext.json_value`, whose bounds every JSON body meets,
and multipart bodies whose file parts keep the path the client sent (`deal/2023/nda.txt`), where Django keeps
only the last segment: each uploaded file carries it as `client_path`."""

from __future__ import annotations

import codecs
import html

from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import DataAndFiles, get_encoding

from common.jsontext import json_value

# The name of a file sent without one, or with one of nothing but folders and dots.
UNNAMED = "upload"


def client_path(file_name: str) -> str | None:
    """`file_name` as a relative path: `/` and `\\` separate folders; empty, `.` and `..` segments and
    characters that do not print are dropped; None when nothing is left."""
    segments = html.unescape(file_name).replace("\\", "/").split("/")
    kept = ["".join(c for c in segment if c.isprintable()) for segment in segments]
    return "/".join(s for s in kept if s not in {"", ".", ".."}) or None


class _PathKeepingParser(DjangoMultiPartParser):
    _path: str | None = None

    def sanitize_file_name(self, file_name):
        # Django drops a part whose last segment is empty, `.` or `..` as though no file were sent; such a file
        # was sent, and is named by what is left of its path, else "upload".
        name = super().sanitize_file_name(file_name)
        path = client_path(file_name)
        if not name and file_name.strip():
            name = path.rsplit("/", 1)[-1] if path else UNNAMED
        self._path = path if name else None
        return name

    def handle_file_complete(self, old_field_name, counters):
        path, before = self._path, len(self._files.getlist(old_field_name))
        super().handle_file_complete(old_field_name, counters)
        if path and len(files := self._files.getlist(old_field_name)) > before:
            files[-1].client_path = path


class PathKeepingMultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        request = parser_context["request"]
        meta = request.META.copy()
        meta["CONTENT_TYPE"] = media_type
        try:
            parser = _PathKeepingParser(meta, stream, request.upload_handlers, get_encoding(parser_context))
            data, files = parser.parse()
        except MultiPartParserError as exc:
            raise ParseError(f"Multipart form parse error - {exc}") from None
        return DataAndFiles(data, files)


UNIQUE_JSON_KEYS = "2026-12-07"
"""The API version from which a JSON body whose object names a key twice is a 400 `invalid_json`. Before it
the key's last value counted, so `{"role": "viewer", "role": "admin"}` read as an admin key."""


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        context = parser_context or {}
        version = getattr(context.get("request"), "quire_version", UNIQUE_JSON_KEYS)
        try:
            return json_value(
                codecs.getreader(get_encoding(context))(stream).read(),
                unique_keys=version >= UNIQUE_JSON_KEYS,
            )
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
