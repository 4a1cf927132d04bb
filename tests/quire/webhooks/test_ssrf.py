"""The SSRF guard: which addresses a webhook may reach, one resolution per attempt, and the request sent to
the address that was checked. Name resolution here is a fake resolver or IP literals: no DNS query
leaves the machine."""

from __future__ import annotations

import socket

import pytest

from quire.webhooks.transport import UnsafeUrl, address_is_metadata, address_is_public, post, resolve_target

PUBLIC = True
REFUSED = False

ADDRESSES = [
    # IPv4 unicast on the internet
    ("8.8.8.8", PUBLIC),
    ("1.1.1.1", PUBLIC),
    ("93.184.216.34", PUBLIC),
    ("100.63.255.255", PUBLIC),  # just below CGNAT
    ("100.128.0.0", PUBLIC),  # just above CGNAT
    ("172.15.255.255", PUBLIC),
    ("172.32.0.1", PUBLIC),
    ("198.17.255.255", PUBLIC),
    ("198.20.0.1", PUBLIC),
    ("223.255.255.254", PUBLIC),
    # IPv4 that is not globally routable
    ("0.0.0.0", REFUSED),  # unspecified
    ("0.1.2.3", REFUSED),  # "this network" 0/8
    ("10.0.0.1", REFUSED),
    ("10.255.255.255", REFUSED),
    ("100.64.0.1", REFUSED),  # CGNAT
    ("100.127.255.254", REFUSED),
    ("127.0.0.1", REFUSED),
    ("127.8.9.10", REFUSED),
    ("169.254.169.254", REFUSED),  # cloud metadata, link-local
    ("172.16.0.1", REFUSED),
    ("172.31.255.254", REFUSED),
    ("192.0.0.9", REFUSED),  # IETF protocol assignments
    ("192.0.2.1", REFUSED),  # TEST-NET-1
    ("192.88.99.1", REFUSED),  # 6to4 relay anycast
    ("192.168.1.20", REFUSED),
    ("198.18.0.1", REFUSED),  # benchmarking
    ("198.19.255.254", REFUSED),
    ("198.51.100.7", REFUSED),  # TEST-NET-2
    ("203.0.113.9", REFUSED),  # TEST-NET-3
    ("224.0.0.1", REFUSED),  # multicast
    ("239.255.255.250", REFUSED),
    ("240.0.0.1", REFUSED),  # reserved
    ("255.255.255.255", REFUSED),  # broadcast
    # IPv6 unicast on the internet
    ("2606:4700:4700::1111", PUBLIC),
    ("2001:4860:4860::8888", PUBLIC),
    ("2a00:1450:4001:80e::200e", PUBLIC),
    # IPv6 that is not globally routable
    ("::", REFUSED),
    ("::1", REFUSED),
    ("fe80::1", REFUSED),
    ("fe80::1%eth0", REFUSED),  # with a zone
    ("fec0::1", REFUSED),  # site-local
    ("feff::1", REFUSED),
    ("fc00::1", REFUSED),  # unique local
    ("fd12:3456:789a::1", REFUSED),
    ("ff02::1", REFUSED),  # multicast
    ("ff0e::1", REFUSED),
    ("2001:db8::1", REFUSED),  # documentation
    ("3fff::1", REFUSED),
    ("100::1", REFUSED),  # discard-only
    ("2001:2::1", REFUSED),  # benchmarking
    ("2001:10::1", REFUSED),  # ORCHID
    ("5f00::1", REFUSED),  # SRv6
    # IPv4-mapped: as public as the IPv4 address
    ("::ffff:8.8.8.8", PUBLIC),
    ("::ffff:127.0.0.1", REFUSED),
    ("::ffff:10.0.0.1", REFUSED),
    ("::ffff:169.254.169.254", REFUSED),
    ("::ffff:0:127.0.0.1", REFUSED),  # IPv4-translated
    # IPv4-compatible (deprecated): never
    ("::8.8.8.8", REFUSED),
    ("::127.0.0.1", REFUSED),
    ("::10.0.0.1", REFUSED),
    # 6to4: the embedded IPv4 decides
    ("2002:808:808::1", PUBLIC),
    ("2002:7f00:1::", REFUSED),  # 127.0.0.1
    ("2002:a9fe:a9fe::", REFUSED),  # 169.254.169.254
    ("2002:0a00:0001::", REFUSED),  # 10.0.0.1
    ("2002:c0a8:0101::1", REFUSED),  # 192.168.1.1
    ("2002:6440:0001::", REFUSED),  # 100.64.0.1
    ("2002::", REFUSED),  # 0.0.0.0
    # Teredo: server 65.54.227.120, client = last 32 bits XOR 0xffffffff
    ("2001:0:4136:e378:8000:63bf:f7f7:fbfb", PUBLIC),  # client 8.8.4.4
    ("2001:0:4136:e378:8000:63bf:f5ff:fffe", REFUSED),  # client 10.0.0.1
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", REFUSED),  # client 127.0.0.1
    ("2001:0:4136:e378:8000:63bf:5601:5601", REFUSED),  # client 169.254.169.254
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", REFUSED),  # client 192.0.2.45
    ("2001:0:0a00:0001:8000:63bf:f7f7:fbfb", REFUSED),  # server 10.0.0.1
    # NAT64: the well-known prefix carries the IPv4 address; the local-use prefix is never global
    ("64:ff9b::8.8.8.8", PUBLIC),
    ("64:ff9b::127.0.0.1", REFUSED),
    ("64:ff9b::a9fe:a9fe", REFUSED),  # 169.254.169.254
    ("64:ff9b::10.0.0.1", REFUSED),
    ("64:ff9b::192.168.0.1", REFUSED),
    ("64:ff9b:1::808:808", REFUSED),
    ("64:ff9b:1::a00:1", REFUSED),
]


@pytest.mark.parametrize(("address", "public"), ADDRESSES)
def test_address_verdict(address, public):
    assert address_is_public(address) is public


def test_the_table_is_large_and_has_both_verdicts():
    verdicts = [public for _, public in ADDRESSES]
    assert len(ADDRESSES) >= 40 and verdicts.count(PUBLIC) >= 10 and verdicts.count(REFUSED) >= 30
    assert len({address for address, _ in ADDRESSES}) == len(ADDRESSES)


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("http://[2002:7f00:1::]/hooks", "2002:7f00:1::"),
        ("https://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/", "2001:0:4136:e378:8000:63bf:f5ff:fffe"),
        ("http://[fec0::1]:8080/", "fec0::1"),
        ("http://[::127.0.0.1]/", "::127.0.0.1"),
        ("http://198.18.0.1/", "198.18.0.1"),
    ],
)
def test_literal_urls_are_refused_unless_private_addresses_are_allowed(url, address):
    with pytest.raises(UnsafeUrl, match="private, loopback, link-local or reserved"):
        resolve_target(url, allow_private=False)
    assert resolve_target(url, allow_private=True).address == address


METADATA = [
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.170.2/v2/credentials",  # ECS task metadata
    "http://100.100.100.200/latest/meta-data/",  # Alibaba Cloud
    "http://[fd00:ec2::254]/latest/meta-data/",  # AWS over IPv6
    "http://[fe80::1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[2002:a9fe:a9fe::]/",
    "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
    "http://[2001:0:4136:e378:8000:63bf:5601:5601]/",  # Teredo client 169.254.169.254
]


@pytest.mark.parametrize("url", METADATA)
def test_metadata_and_link_local_addresses_are_refused_even_where_private_ones_are_allowed(url):
    with pytest.raises(UnsafeUrl, match="link-local or cloud metadata address, refused even where private"):
        resolve_target(url, allow_private=True)


@pytest.mark.parametrize(
    "address", ["10.0.0.1", "127.0.0.1", "::1", "192.168.1.20", "100.64.0.1", "fd00::1", "2002:7f00:1::"]
)
def test_private_addresses_that_are_not_metadata_stay_reachable_in_development(address):
    assert not address_is_metadata(address)


class FakeResolver:
    """Answers names from `answers` (one answer per lookup, the last one repeated) and IP literals as the
    system would; records the names it was asked. No query leaves the machine."""

    def __init__(self, monkeypatch, answers: dict[str, list[list[str]]]):
        self.answers, self.names = answers, []
        self.real = socket.getaddrinfo
        monkeypatch.setattr(socket, "getaddrinfo", self)

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else host
        if name not in self.answers:
            return self.real(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        self.names.append(name)
        queue = self.answers[name]
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        infos = []
        for address in addresses:
            family_of = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, port, 0, 0) if family_of == socket.AF_INET6 else (address, port)
            infos.append((family_of, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
        return infos


def test_a_name_with_any_private_address_is_refused(monkeypatch):
    FakeResolver(
        monkeypatch,
        {
            "mixed.test": [["8.8.8.8", "10.0.0.1"]],
            "sixtofour.test": [["2002:a9fe:a9fe::1"]],
            "public.test": [["8.8.8.8", "2606:4700:4700::1111"]],
        },
    )
    with pytest.raises(UnsafeUrl, match=r"10\.0\.0\.1"):
        resolve_target("https://mixed.test/hooks", allow_private=False)
    with pytest.raises(UnsafeUrl, match="2002:a9fe:a9fe::1"):
        resolve_target("https://sixtofour.test/hooks", allow_private=False)
    target = resolve_target("https://public.test/hooks", allow_private=False)
    assert (target.host, target.address) == ("public.test", "8.8.8.8")


def test_a_name_with_a_metadata_address_is_refused_in_development(monkeypatch):
    FakeResolver(monkeypatch, {"imds.test": [["127.0.0.1", "169.254.169.254"]]})
    with pytest.raises(UnsafeUrl, match=r"169\.254\.169\.254, a link-local"):
        resolve_target("http://imds.test/hooks", allow_private=True)


def test_the_name_is_resolved_once_and_the_checked_address_is_the_one_connected(monkeypatch, receiver):
    """DNS rebinding: the second answer for the name would point elsewhere, but the request goes to the
    address the check saw, without a second lookup of the name."""
    port = int(receiver.url.rsplit(":", 1)[1].split("/", 1)[0])
    resolver = FakeResolver(monkeypatch, {"rebind.test": [["127.0.0.1"], ["192.0.2.1"]]})
    target = resolve_target(f"http://rebind.test:{port}/hooks", allow_private=True)
    assert target.address == "127.0.0.1"
    outcome = post(target, b"{}", {}, timeout=3, max_response_bytes=100)
    assert outcome.status_code == 200
    assert resolver.names == ["rebind.test"]
    assert receiver.requests[-1].headers["host"] == f"rebind.test:{port}"
