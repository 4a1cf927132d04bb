"""The web tier's security headers: Django's on every answer, and the Content-Security-Policy of its HTML
answers (the portal, the admin site, the API's docs page).

Every script and stylesheet is a static file of this origin: no inline script, event handler, `style`
attribute or `<style>` element, no `eval`. Forms post to this origin, and the two that start a Stripe session
(Checkout, the Customer Portal) are answered with a redirect to Stripe, which browsers hold to `form-action`
too: its hosts are in `QUIRE_CSP_FORM_ACTION`."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.security import SecurityMiddleware

HEADER = "Content-Security-Policy"
STRIPE_API = "https://api.stripe.com"


def form_action_sources() -> list[str]:
    """Where a form may send the browser: this origin, `QUIRE_CSP_FORM_ACTION` (Stripe's Checkout and Customer
    Portal hosts), and the origin of a `QUIRE_STRIPE_API_BASE` that is not Stripe's own (a stand-in that serves
    its session pages itself)."""
    sources = ["'self'", *settings.QUIRE_CSP_FORM_ACTION]
    base = urlsplit(settings.QUIRE_STRIPE_API_BASE)
    if settings.QUIRE_STRIPE_API_BASE.rstrip("/") != STRIPE_API and base.scheme and base.netloc:
        sources.append(f"{base.scheme}://{base.netloc}")
    return list(dict.fromkeys(sources))


def content_security_policy() -> str:
    directives = {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": form_action_sources(),
    }
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


class ContentSecurityPolicyMiddleware:
    """Sets `content_security_policy()` on every HTML response that has none of its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.policy = content_security_policy()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("text/html") and HEADER not in response:
            response[HEADER] = self.policy
        return response


class SecurityHeadersMiddleware:
    """Django's security headers (HSTS on HTTPS, `nosniff`, Referrer-Policy, Cross-Origin-Opener-Policy) on every
    answer, the first middleware's too: the answers given before `SecurityMiddleware` runs (a body over the
    limit, a NUL in a parameter, an unknown host, a dependency down) had none. `SecurityMiddleware` stays where it
    is for its HTTPS redirect, after routing and the probes it exempts."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.headers = SecurityMiddleware(get_response)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.headers.process_response(request, self.get_response(request))
