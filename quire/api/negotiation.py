"""Content negotiation for a view that answers a file of its own media type (a review's CSV or XLSX
export): a client asking for that media type (or `*/*`) is served, as one asking for JSON is, and an error
is JSON whatever was asked."""

from __future__ import annotations

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.utils.mediatypes import media_type_matches


class FileNegotiation(DefaultContentNegotiation):
    """Accepts the view's `file_media_type` besides what its renderers offer; DRF's renderers then only
    render the view's errors, so the first (JSON) renders them."""

    def select_renderer(self, request, renderers, format_suffix=None):
        file_media_type = getattr(request.parser_context.get("view"), "file_media_type", None)
        accepted = self.get_accept_list(request)
        if file_media_type and any(media_type_matches(file_media_type, media) for media in accepted):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)


class AnyFileNegotiation(DefaultContentNegotiation):
    """For a view that answers a stored file of any media type (a document's original): whatever `Accept`
    asks, the file is served, and an error is JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
