"""HTTP delivery with SSRF guards: resolve once, refuse non-public addresses, connect to the checked
address (TLS still verifies the host name), never follow redirects, read at most a capped body."""

from __future__ import annotations

import ipaddress
import logging
import socket
import ssl
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlsplit

import httpx

logger = logging.getLogger(__name__)

USER_AGENT = "Quire-Webhooks/1"
EXCERPT_CHARS = 1024


class UnsafeUrl(ValueError):
    """The URL is malformed, or resolves to an address webhooks may not reach."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    address: str
    path: str

    @property
    def connect_url(self) -> str:
        literal = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.scheme}://{literal}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


@dataclass(frozen=True)
class HttpOutcome:
    status_code: int | None
    latency_ms: float
    response_excerpt: str
    error: str

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


# Blocks that are never a webhook receiver, whatever `ipaddress` thinks of them in this Python version
# (IANA's special-purpose registries, RFC 6890 and its updates).
_IPV4_REFUSED = tuple(
    ipaddress.IPv4Network(block)
    for block in (
        "0.0.0.0/8",  # "this network", unspecified
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # shared address space (CGNAT)
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, cloud metadata
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation (TEST-NET-1)
        "192.88.99.0/24",  # 6to4 relay anycast (deprecated)
        "192.168.0.0/16",  # private
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation (TEST-NET-2)
        "203.0.113.0/24",  # documentation (TEST-NET-3)
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the limited broadcast 255.255.255.255
    )
)
_IPV6_REFUSED = tuple(
    ipaddress.IPv6Network(block)
    for block in (
        "::/96",  # unspecified, loopback and the deprecated IPv4-compatible ::a.b.c.d
        "::ffff:0:0:0/96",  # IPv4-translated (SIIT)
        "64:ff9b:1::/48",  # local-use NAT64 (RFC 8215), never globally reachable
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments (Teredo is unwrapped before this)
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
        "5f00::/16",  # SRv6 SIDs
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)
# Never reachable, even where private addresses are allowed (development): link-local blocks, where cloud
# instance metadata answers, and the metadata services that live elsewhere (AWS's IPv6 endpoint, Alibaba's).
_ALWAYS_REFUSED = (
    ipaddress.IPv4Network("169.254.0.0/16"),
    ipaddress.IPv4Network("100.100.100.200/32"),
    ipaddress.IPv6Network("fe80::/10"),
    ipaddress.IPv6Network("fd00:ec2::254/128"),
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_TEREDO = ipaddress.IPv6Network("2001::/32")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...] | None:
    """The IPv4 addresses an IPv6 address carries to (IPv4-mapped, NAT64 64:ff9b::/96, 6to4, Teredo's
    server and client), or None when it carries none. The packets end up at those IPv4 addresses, so
    they decide whether the IPv6 address may be reached."""
    if ip in _IPV4_MAPPED or ip in _NAT64:
        return (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF),)
    if ip in _SIX_TO_FOUR:
        return (ipaddress.IPv4Address((int(ip) >> 80) & 0xFFFFFFFF),)
    if ip in _TEREDO:
        server = ipaddress.IPv4Address((int(ip) >> 64) & 0xFFFFFFFF)
        client = ipaddress.IPv4Address((int(ip) & 0xFFFFFFFF) ^ 0xFFFFFFFF)
        return (server, client)
    return None


def address_is_public(address: str) -> bool:
    """True only for a globally routable unicast address. An IPv6 address that carries an IPv4 address
    (`embedded_ipv4`) is as public as every address it carries; the deprecated IPv4-compatible form
    (::a.b.c.d), site-local, unique-local, local-use NAT64 and the other special blocks are refused."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        carried = embedded_ipv4(ip)
        if carried is not None:
            return all(_is_public(v4, _IPV4_REFUSED) for v4 in carried)
        return _is_public(ip, _IPV6_REFUSED)
    return _is_public(ip, _IPV4_REFUSED)


def address_is_metadata(address: str) -> bool:
    """True for a link-local or cloud metadata address, or an IPv6 address that carries one
    (`embedded_ipv4`): refused even where private addresses are allowed."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    reached = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        reached += embedded_ipv4(ip) or ()
    return any(a in block for a in reached for block in _ALWAYS_REFUSED if a.version == block.version)


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, refused: tuple) -> bool:
    if any(ip in block for block in refused):
        return False
    return ip.is_global and not (
        ip.is_multicast or ip.is_reserved or ip.is_private or ip.is_loopback or ip.is_link_local
    )


def parse_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of an http(s) URL, the host in ASCII (an international name as
    IDNA); ValueError when it is not one, or holds a control character."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise UnsafeUrl("the URL holds a control character")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl("the URL must start with http:// or https://")
    if not parts.hostname:
        raise UnsafeUrl("the URL has no host")
    if parts.username or parts.password:
        raise UnsafeUrl("the URL must not carry credentials")
    try:
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl("the URL's port is invalid") from exc
    if port == 0:
        raise UnsafeUrl("the URL's port is invalid")
    port = port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise UnsafeUrl(f"the host {parts.hostname!r} is not a valid name") from exc
    return parts.scheme, host, port, path


def resolve_target(url: str, *, allow_private: bool) -> Target:
    """Resolve the host once. Every address it resolves to must be public unless `allow_private`, and
    never a link-local or metadata address (`address_is_metadata`)."""
    scheme, host, port, path = parse_url(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl(f"the host {host!r} does not resolve") from exc
    ipv4_first = sorted(infos, key=lambda info: info[0] != socket.AF_INET)
    addresses = list(dict.fromkeys(info[4][0] for info in ipv4_first))
    if not addresses:
        raise UnsafeUrl(f"the host {host!r} does not resolve")
    metadata = [a for a in addresses if address_is_metadata(a)]
    if metadata:
        raise UnsafeUrl(
            f"the host {host!r} resolves to {metadata[0]}, a link-local or cloud metadata address,"
            " refused even where private addresses are allowed"
        )
    if not allow_private:
        refused = [a for a in addresses if not address_is_public(a)]
        if refused:
            raise UnsafeUrl(
                f"the host {host!r} resolves to {refused[0]}, a private, loopback, link-local or reserved address"
            )
    return Target(scheme=scheme, host=host, port=port, address=addresses[0], path=path)


@cache
def _tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()


_CLIENTS: OrderedDict[tuple[str, str, str, int], httpx.Client] = OrderedDict()
_CLIENTS_LOCK = threading.Lock()
MAX_POOLED_TARGETS = 64
# Seconds past an attempt's timeout before its connections are closed under it.
DEADLINE_GRACE_S = 1.0


def _pool_key(target: Target) -> tuple[str, str, str, int]:
    return (target.scheme, target.host, target.address, target.port)


def _client_for(target: Target, timeout: float) -> httpx.Client:
    """A keep-alive client per (scheme, host name, address, port): a pooled connection only ever serves
    the host name (SNI, certificate) and address it was opened for."""
    key = _pool_key(target)
    with _CLIENTS_LOCK:
        client = _CLIENTS.pop(key, None)
        if client is None:
            client = httpx.Client(
                verify=_tls_context(),
                follow_redirects=False,
                trust_env=False,
                timeout=timeout,
                limits=httpx.Limits(max_connections=4, max_keepalive_connections=2, keepalive_expiry=30),
            )
        _CLIENTS[key] = client
        while len(_CLIENTS) > MAX_POOLED_TARGETS:
            _, evicted = _CLIENTS.popitem(last=False)
            evicted.close()
        return client


def post(
    target: Target, body: bytes, headers: dict, *, timeout: float, max_response_bytes: int
) -> HttpOutcome:
    """POST `body` to the resolved address, within `timeout` seconds of wall clock in all: httpx's timeouts
    bound each read, and a receiver that keeps sending interim 1xx responses or drips its headers would hold
    the attempt, and a worker, for as long as it likes. Past the deadline the attempt is a timeout and the
    target's pooled connections are closed, so the request ends at its next read. Never raises: the outcome
    says what happened."""
    started = time.perf_counter()
    done: list[HttpOutcome] = []
    sender = threading.Thread(
        target=lambda: done.append(_post(target, body, headers, timeout, max_response_bytes, started)),
        name="webhook-post",
        daemon=True,
    )
    sender.start()
    sender.join(timeout + DEADLINE_GRACE_S)
    if done:
        return done[0]
    _client_close(target)
    sender.join(DEADLINE_GRACE_S)
    return HttpOutcome(None, _ms_since(started), "", "timeout")


def _post(
    target: Target, body: bytes, headers: dict, timeout: float, max_response_bytes: int, started: float
) -> HttpOutcome:
    request_headers = {
        **headers,
        "Host": target.host_header,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Accept-Encoding": "identity",
    }
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    deadline = started + timeout
    received = bytearray()
    try:
        client = _client_for(target, timeout)
        with client.stream(
            "POST",
            target.connect_url,
            content=body,
            headers=request_headers,
            extensions=extensions,
            timeout=timeout,
        ) as response:
            for chunk in response.iter_raw():
                received.extend(chunk[: max_response_bytes - len(received)])
                if len(received) >= max_response_bytes or time.perf_counter() > deadline:
                    break
            status = response.status_code
    except httpx.TimeoutException:
        return HttpOutcome(None, _ms_since(started), "", "timeout")
    except httpx.HTTPError as exc:
        return HttpOutcome(None, _ms_since(started), "", f"connection_error: {type(exc).__name__}")
    except Exception as exc:
        logger.warning("webhook POST to %s failed: %s", target.host, type(exc).__name__, exc_info=True)
        return HttpOutcome(None, _ms_since(started), "", f"request_error: {type(exc).__name__}")
    error = "" if 200 <= status < 300 else f"http_{status}"
    return HttpOutcome(status, _ms_since(started), response_excerpt(bytes(received)), error)


def response_excerpt(body: bytes) -> str:
    """The start of a response body as the delivery log keeps it: UTF-8, with undecodable bytes and NUL (which
    PostgreSQL text refuses) as U+FFFD."""
    text = body[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace")[:EXCERPT_CHARS]
    return text.replace("\x00", "\ufffd")


def _client_close(target: Target) -> None:
    """Close and forget the pooled client of `target`, ending whatever request it is in."""
    with _CLIENTS_LOCK:
        client = _CLIENTS.pop(_pool_key(target), None)
    if client is not None:
        client.close()


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
