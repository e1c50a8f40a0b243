"""Drive a booking load with wrk (Debian's ``wrk`` package): a C load generator that costs a
fraction of the CPU a Python client does, which matters when client and server share two cores.

wrk keeps every connection busy for a fixed time, so the requests cannot be a prebuilt list of
known length. Instead a small Lua script computes request k's body itself: the resource is
``k % resources`` and the slot ``k // resources``, over a table of each day's opening instant
(UTC epoch seconds, computed in Python with the zone's DST rules). Each k is used once, so no two
requests ever ask for the same slot. ``done()`` prints one JSON line that :func:`run_wrk` reads.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_LUA = r"""
local config = %(config)s
local counter = config.offset
local R = #config.resources
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. config.token

local function start_of(k)
  local slot = math.floor(k / R)
  local day = math.floor(slot / config.slots_per_day)
  return config.day_opens[day + 1] + config.slot_seconds * (slot %% config.slots_per_day)
end

request = function()
  local k = counter
  counter = counter + 1
  local r = config.resources[(k %% R) + 1]
  local start = start_of(k)
  local api = config.api
  if api == "both" then
    if k %% 2 == 0 then api = "nexhealth" else api = "calendar" end
  end
  if api == "nexhealth" then
    local body = string.format(
      '{"appt":{"patient_id":%%d,"provider_id":%%d,"start_time":"%%s","appointment_type_id":%%d}}',
      r.patient_id, r.provider_id, os.date("!%%Y-%%m-%%dT%%H:%%M:%%SZ", start), config.type_id)
    return wrk.format(nil, config.nexhealth_path, nil, body)
  end
  local body = string.format(
    '{"AccountId":"%%s","UserId":"%%s","PatientId":"%%s","ProviderId":"%%s",' ..
    '"EncounterTypeId":"%%s","EncounterTypeModeDurationId":"%%s",' ..
    '"AppointmentOn":"%%s","Reason":"Benchmark visit"}',
    config.institution_guid, r.user_guid, r.patient_guid, r.provider_guid,
    config.type_guid, config.mode_guid, os.date("!%%Y-%%m-%%dT%%H:%%M:%%S+00:00", start))
  return wrk.format(nil, config.calendar_path, nil, body)
end

done = function(summary, latency, requests)
  io.write(string.format(
    '\nWRK-RESULT {"requests":%%d,"duration_us":%%d,"non2xx":%%d,"connect":%%d,' ..
    '"read":%%d,"write":%%d,"timeout":%%d,"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,' ..
    '"mean_us":%%f,"max_us":%%d}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
"""


@dataclass
class WrkResult:
    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def summary(self, label: str) -> str:
        return (
            f"{label}: {self.requests} requests in {self.seconds:.2f} s = {self.rate:,.0f} req/s; "
            f"latency p50 {self.p50_ms:.2f} ms, p90 {self.p90_ms:.2f} ms, "
            f"p99 {self.p99_ms:.2f} ms, mean {self.mean_ms:.2f} ms; "
            f"non-2xx {self.non_2xx}, socket errors {self.socket_errors} (wrk)"
        )


def available() -> bool:
    return shutil.which("wrk") is not None


def _lua_value(value: Any) -> str:
    """Python data as a Lua table literal (numbers, strings, lists, dicts with str keys)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string literal is a valid Lua string literal here
    if isinstance(value, list):
        return "{" + ",".join(_lua_value(v) for v in value) + "}"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}={_lua_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as Lua")


def run_wrk(base_url: str, config: dict[str, Any], *, clients: int, seconds: float) -> WrkResult:
    """Run wrk for ``seconds`` with ``clients`` connections on one wrk thread (one Lua state, so
    the request counter is shared and every k is unique)."""
    assert base_url.startswith(("http://127.0.0.1", "http://localhost")), "loopback only"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_LUA % {"config": _lua_value(config)})
    try:
        completed = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{clients}",
                f"-d{seconds:g}s",
                "--timeout",
                "10s",
                "-s",
                script.name,
                base_url,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 60,
        )
    finally:
        Path(script.name).unlink()
    line = next((ln for ln in completed.stdout.splitlines() if ln.startswith("WRK-RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{completed.stdout}\n{completed.stderr}")
    raw = json.loads(line.removeprefix("WRK-RESULT "))
    return WrkResult(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        non_2xx=raw["non2xx"],
        socket_errors=raw["connect"] + raw["read"] + raw["write"] + raw["timeout"],
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        mean_ms=raw["mean_us"] / 1000,
    )
