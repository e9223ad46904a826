"""The typed requests between the server and the sandbox worker (jit_explorer.sandbox.protocol); no process runs."""

from __future__ import annotations

from typing import Any

import pytest

from jit_explorer.sandbox.protocol import (
    AnalyzeRequest,
    BenchRequest,
    InspectRequest,
    ProtocolError,
    SaveRequest,
    failure,
    parse_request,
)


@pytest.mark.parametrize("request_", [
    AnalyzeRequest(source="def f(x):\n    return x\n", entry="f", inputs="1", mode="trace,script"),
    BenchRequest(source="def f(x):\n    return x\n", modes=("eager", "trace"), threads=2, budget_s=0.5),
    BenchRequest(source="def f(x):\n    return x\n"),
    InspectRequest(archive_b64="UEsDBA==", filename="m.pt", migrate=False, pt2=True),
    SaveRequest(source="def f(x):\n    return x\n", entry="f", inputs="torch.ones(2)", mode="script"),
])
def test_requests_round_trip_through_their_json_with_the_envelope(request_: Any) -> None:
    obj = request_.to_json()
    assert obj["op"] == request_.op and list(obj)[0] == "op"
    wire = {**obj, "limits": {"wall_s": 5.0}, "uid": None, "disk": "tmpfs"}  # what the pool and supervisor add
    assert parse_request(wire) == request_


def test_bench_modes_arrive_as_a_tuple() -> None:
    req = parse_request({"op": "bench", "source": "x", "modes": ["eager", "script"]})
    assert isinstance(req, BenchRequest) and req.modes == ("eager", "script")


@pytest.mark.parametrize("obj, says", [
    ({"op": "exec", "source": "x"}, "unknown request 'exec'"),
    ({"source": "x"}, "unknown request None"),
    ({"op": "analyze"}, "source"),
    ({"op": "analyze", "source": 3}, "source must be str"),
    ({"op": "bench", "source": "x", "threads": "2"}, "threads must be int"),
    ({"op": "bench", "source": "x", "threads": True}, "threads must be int"),
    ({"op": "bench", "source": "x", "modes": "eager"}, "modes must be a list"),
    ({"op": "inspect", "archive_b64": "", "pt2": "yes"}, "pt2 must be bool"),
])
def test_malformed_requests_are_refused(obj: dict[str, Any], says: str) -> None:
    with pytest.raises(ProtocolError, match=says.replace("(", r"\(")):
        parse_request(obj)


def test_failure_has_the_response_shape() -> None:
    assert failure("timeout", "stopped") == {"ok": False, "error": {"kind": "timeout", "message": "stopped",
                                                                    "line": None}}
