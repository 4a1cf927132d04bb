"""Fixtures for the connector tests: small documents and a scripted OpenAI-compatible server on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from tests.support import LocalServer

CONTRACT = """DISTRIBUTION AGREEMENT

This Distribution Agreement (the "Agreement") is made and entered into as of March 12, 2019 (the "Effective Date"), by and between Acme Corp., a Delaware corporation ("Supplier"), and Beta Widgets LLC, a New York limited liability company ("Distributor").

1. Appointment. Supplier hereby grants to Distributor an exclusive right to distribute the Products in the Territory during the Term.

2. Term. The initial term of this Agreement shall commence on the Effective Date and continue for a period of five (5) years, unless earlier terminated.
This Agreement shall automatically renew for successive one (1) year renewal terms unless either party gives written notice of non-renewal at least ninety (90) days prior to the end of the then-current term.

3. Non-Competition. During the Term, Distributor shall not manufacture, sell or distribute any products that compete with the Products.

4. Records. Distributor shall keep complete and accurate books and records, and Supplier may audit such records upon ten (10) days notice.

5. Assignment. Neither party may assign this Agreement without the prior written consent of the other party.

6. Limitation of Liability. In no event shall either party's aggregate liability under this Agreement exceed the fees paid in the twelve (12) months preceding the claim.

7. Governing Law. This Agreement shall be governed by and construed in accordance with the laws of the State of Delaware, without regard to its conflicts of law principles.

8. Insurance. Distributor shall maintain general liability insurance with coverage of at least $1,000,000 per occurrence.
"""

TRANSCRIPT = """PREPARED REMARKS

Operator: Good day and welcome to the Acme third quarter 2021 earnings call.

Jane Doe -- Chief Financial Officer: Thanks. Third quarter revenue rose 12% to $1.2 billion. Adjusted earnings per share were $0.83. Gross margin was 41.5%, up 150 basis points. We are raising our full-year 2021 revenue guidance to $4.6 billion to $4.7 billion.

John Smith -- Chief Executive Officer: Demand stayed strong across every region.

QUESTIONS AND ANSWERS

Operator: Our first question comes from Alex Analyst with Morgan Stanley.

Alex Analyst: Thanks. Can you talk about pricing and how margins develop into next year?

Jane Doe: Sure. We expect gross margin to stay above 40% next year.

John Smith: Pricing held up well.

Operator: Next question comes from Kim Lee with Goldman Sachs.

Kim Lee: What drove the revenue growth this quarter?

John Smith: Volume, mostly.
"""

CORPUS = [
    {
        "doc_id": "101",
        "title": "Aspirin lowers the risk of colorectal cancer",
        "abstract": "We followed 20,000 adults for ten years. Daily aspirin use was associated with a reduced risk of colorectal cancer. The effect was strongest after five years of use.",
    },
    {
        "doc_id": "102",
        "title": "Vitamin D supplementation and fracture risk",
        "abstract": "In this randomised trial, vitamin D supplementation did not reduce the incidence of fractures in older adults. Falls were also unchanged.",
    },
    {
        "doc_id": "103",
        "title": "Coffee consumption and sleep quality",
        "abstract": "Evening coffee intake reduced total sleep time by 40 minutes. Participants reported worse sleep quality.",
    },
    {
        "doc_id": "104",
        "title": "Exercise improves memory in older adults",
        "abstract": "A six-month aerobic exercise program improved memory scores compared with stretching controls. Hippocampal volume increased in the exercise group.",
    },
]


class ScriptedServer:
    """Serves `/v1/chat/completions`, `/v1/completions` and `/v1/embeddings` from a queue of scripted replies."""

    def __init__(self) -> None:
        self.replies: list[tuple[int, dict, dict]] = []
        self.requests: list[dict] = []
        self.default_text = "{}"
        self.responder: Callable[[list[dict]], str] | None = None
        self.prefixes: set[str] = set()
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with outer.lock:
                    outer.requests.append({"path": self.path, "body": body, "headers": dict(self.headers)})
                    if outer.replies:
                        status, payload, headers = outer.replies.pop(0)
                    elif outer.responder is not None and "messages" in body:
                        status, headers = 200, {}
                        payload = outer.completion(outer.responder(body["messages"]), self.path)
                        payload["usage"] = outer.usage(body["messages"])
                    else:
                        status, payload, headers = 200, outer.completion(outer.default_text, self.path), {}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = LocalServer(Handler)
        self.url = self.server.url

    @staticmethod
    def completion(text: str, path: str = "/v1/chat/completions") -> dict:
        usage = {"prompt_tokens": 11, "completion_tokens": 7}
        if path.endswith("/embeddings"):
            return {"data": [{"index": 0, "embedding": [0.1, 0.2]}], "model": "scripted", "usage": usage}
        if path.endswith("/chat/completions"):
            choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        else:
            choice = {"index": 0, "text": text, "finish_reason": "stop"}
        return {"id": "x", "model": "scripted", "choices": [choice], "usage": usage}

    def usage(self, messages: list[dict]) -> dict:
        """Four characters a token; the system message counts as cached once it has been seen."""
        system, rest = messages[0]["content"], "".join(m["content"] for m in messages[1:])
        cached = len(system) // 4 if system in self.prefixes else 0
        self.prefixes.add(system)
        prompt = (len(system) + len(rest)) // 4
        return {
            "prompt_tokens": prompt,
            "completion_tokens": 5,
            "prompt_tokens_details": {"cached_tokens": cached},
            "prefill_attention": "dense",
        }

    def held(self, seconds: float = 120) -> threading.Event:
        """Hold each chat call until the returned event is set (`seconds` at most), then answer `{}`."""
        release = threading.Event()

        def responder(messages: list[dict]) -> str:
            release.wait(seconds)
            return "{}"

        self.responder = responder
        return release

    def model_env(self) -> dict[str, str]:
        """The variables a worker process needs to call this server as its model."""
        return {"QUIRE_INFERENCE_URL": self.url, "QUIRE_INFERENCE_MODEL": "scripted"}

    def chats(self) -> list[list[dict]]:
        return [r["body"]["messages"] for r in self.requests if r["path"].endswith("/chat/completions")]

    def reply(self, text: str) -> None:
        self.replies.append((200, self.completion(text), {}))

    def fail(self, status: int, body: dict | None = None, headers: dict | None = None) -> None:
        self.replies.append(
            (
                status,
                body or {"error": {"message": "scripted failure", "type": "server_error"}},
                headers or {},
            )
        )

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def scripted_server() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    yield server
    server.close()


@pytest.fixture
def contract_text() -> str:
    return CONTRACT


@pytest.fixture
def transcript_text() -> str:
    return TRANSCRIPT


@pytest.fixture
def corpus_rows() -> list[dict]:
    return [dict(row) for row in CORPUS]
