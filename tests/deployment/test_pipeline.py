"""The pipeline executor with real EVP modules (C against guests/include/evp/sdk.h, built by the
guest toolchain) on real wasmtime: routing, backpressure, restarts, limits, status."""

from __future__ import annotations

import hashlib
import http.server
import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from build_tools.devices.host import HostDut
from build_tools.targets import load_target
from edge_runtime.deployment import DeploymentError, load_deployment
from edge_runtime.errors import DeviceError
from edge_runtime.host.pipeline import Pipeline
from edge_runtime.host.runtime import HostRuntime
from tests.deployment.conftest import (
    MANIFESTS,
    RUNTIMES,
    RunPipeline,
    deployment_of,
    manifest,
    runtimes,
)

SRC, SINK = "evp_source", "evp_sink"


def state(p: Any, instance: str, topic: str) -> str:
    return p.states.get((instance, topic), b"").decode()


def wait_state(p: Any, instance: str, topic: str, want: str, seconds: float = 20) -> None:
    assert p.wait_until(lambda: state(p, instance, topic) == want, seconds), (
        f"{instance}/{topic}: {state(p, instance, topic)!r} != {want!r}; {p.stats()}; {p.status()}"
    )


def names_unreachable_trap(text: str, prefix: str, suffix: str) -> bool:
    """A failure message `<prefix>trap: <cause><suffix>` whose cause names the `unreachable`
    trap. The cause is the engine's own words (wasmtime and WAMR `unreachable`, wasm2c
    `Unreachable instruction executed`: docs/pipeline.md section 9)."""
    head = prefix + "trap: "
    if not (text.startswith(head) and text.endswith(suffix)):
        return False
    return "unreachable" in text[len(head) : len(text) - len(suffix)].lower()


def failure_events(p: Any) -> list[tuple[str, str]]:
    """The failure events of a pipeline started by run_pipeline: (instance, message)."""
    return [(e.instance, e.data) for e in p.events if e.kind == "failure"]


@pytest.mark.parametrize("runtime", runtimes(2))
def test_public_example_source_to_sink_runs_unchanged(
    evp_modules: dict[str, Path], tmp_path: Path, run_pipeline: RunPipeline
) -> None:
    # The public two-instance shape, with relative downloadUrl values beside the manifest.
    m = json.loads((MANIFESTS / "good" / "evp2_public_example.json").read_text())
    for mid, name in (("source-module", SRC), ("sink-module", SINK)):
        shutil.copy(evp_modules[name], tmp_path / f"{name}.wasm")
        m["deployment"]["modules"][mid]["hash"] = hashlib.sha256(
            evp_modules[name].read_bytes()
        ).hexdigest()
    m["deployment"]["x-build-tools"] = {
        "instances": {"source_instance": {"config": {"count": 5, "publish_to": "my-topic"}}}
    }
    path = tmp_path / "deployment.json"
    path.write_text(json.dumps(m))
    p = run_pipeline(load_deployment(path))
    assert p.wait(seconds=30, messages=5)
    wait_state(p, "source_instance", "progress", "sent=5 acked=5 errors=0 denied=0")
    wait_state(p, "sink_instance", "received", "n=5 topic=my-topic last=4")
    status = p.status()
    p.stop()
    assert status == {
        "instances": {
            "source_instance": {"status": "ok", "moduleId": "source-module"},
            "sink_instance": {"status": "ok", "moduleId": "sink-module"},
        },
        "modules": {"source-module": {"status": "ok"}, "sink-module": {"status": "ok"}},
        "deploymentId": "1f4a4b5e-6f3e-4bd3-9d5c-0d2a5c9f3e11",
        "reconcileStatus": "ok",
    }
    assert ("source_instance", "sent", 5) in p.telemetry
    assert ("sink_instance", "received", 5) in p.telemetry  # sent after EVP_SHOULDEXIT


@pytest.mark.parametrize("runtime", runtimes(2))
def test_evp1_string_manifest_runs(evp_modules: dict[str, Path], run_pipeline: RunPipeline) -> None:
    m = manifest(
        evp_modules,
        {"src": (SRC, {"out": "t"}, {}), "dst": (SINK, {}, {"in": "t"})},
        {"src": {"config": {"count": 3}}},
    )
    inner = m["deployment"]
    for spec in inner["instanceSpecs"].values():
        spec.update(version=1, entryPoint="main")
    p = run_pipeline({"deployment": json.dumps(inner)})
    assert p.deployment.evp_version == 1
    assert p.wait(seconds=30, messages=3)
    wait_state(p, "dst", "received", "n=3 topic=in last=2")


@pytest.mark.parametrize("runtime", runtimes(3))
def test_fan_out_each_receiver_sees_its_own_alias(
    evp_modules: dict[str, Path], run_pipeline: RunPipeline
) -> None:
    m = manifest(
        evp_modules,
        {
            "src": (SRC, {"out": "frames"}, {}),
            "left": (SINK, {}, {"left-in": "frames"}),
            "right": (SINK, {}, {"right-in": "frames"}),
        },
        {"src": {"config": {"count": 4}}},
    )
    p = run_pipeline(m)
    assert p.wait(seconds=30, messages=8)
    wait_state(p, "left", "received", "n=4 topic=left-in last=3")
    wait_state(p, "right", "received", "n=4 topic=right-in last=3")
    wait_state(p, "src", "progress", "sent=4 acked=4 errors=0 denied=0")


@pytest.mark.parametrize("runtime", runtimes(3))
def test_cycle_and_self_loop(evp_modules: dict[str, Path], run_pipeline: RunPipeline) -> None:
    m = manifest(
        evp_modules,
        {
            "a": (SINK, {"out": "pong"}, {"in": "ping"}),
            "b": (SINK, {"out": "ping"}, {"in": "pong"}),
            "c": (SINK, {"out": "self"}, {"loop": "self"}),
        },
        {
            "a": {"config": {"forward_to": "out", "tag": "a", "max_len": 9}},
            "b": {"config": {"forward_to": "out", "tag": "b", "max_len": 9}},
            "c": {"config": {"forward_to": "out", "tag": "c", "max_len": 4}},
        },
    )
    p = run_pipeline(m)
    p.inject("ping", b"x")
    p.inject("self", b"y")
    # a: x, xab, xabab, xababab, xabababab (length 9: not forwarded); b: the four in between.
    wait_state(p, "a", "received", "n=5 topic=in last=xabababab")
    wait_state(p, "b", "received", "n=4 topic=in last=xabababa")
    # c receives its own messages: y, yc, ycc, yccc (length 4: not forwarded).
    wait_state(p, "c", "received", "n=4 topic=loop last=yccc")


@pytest.mark.parametrize("runtime", runtimes(2))
def test_unknown_alias_is_ok_with_error_reason(
    evp_modules: dict[str, Path], run_pipeline: RunPipeline
) -> None:
    m = manifest(
        evp_modules,
        {"src": (SRC, {"out": "t"}, {}), "dst": (SINK, {}, {"in": "t"})},
        {"src": {"config": {"count": 3, "publish_to": "not-an-alias"}}},
    )
    p = run_pipeline(m)
    wait_state(p, "src", "progress", "sent=3 acked=0 errors=3 denied=0")
    assert p.stats()["dst"]["received"] == 0


@pytest.mark.parametrize("runtime", runtimes(2))
def test_backpressure_bounds_the_queue_and_paces_the_sender(
    evp_modules: dict[str, Path], run_pipeline: RunPipeline
) -> None:
    count, delay_ms = 20, 40  # the source makes a message in far less than 40 ms
    m = manifest(
        evp_modules,
        {"src": (SRC, {"out": "t"}, {}), "slow": (SINK, {}, {"in": "t"})},
        {
            # Bursts of 4: the queue fills even where instances take turns (the C runtime).
            "src": {"config": {"count": count, "burst": 4}},
            "slow": {"config": {"delay_ms": delay_ms}, "limits": {"queueDepth": 2}},
        },
    )
    start = time.monotonic()
    p = run_pipeline(m)
    assert p.wait(seconds=60, messages=count)
    elapsed = time.monotonic() - start
    stats = p.stats()
    assert stats["slow"]["received"] == count
    assert stats["slow"]["max_queued"] == 2  # full, never beyond
    assert stats["src"]["denied"] == 0
    # The source could not run ahead: all its sends waited for the slow consumer.
    assert elapsed >= count * delay_ms / 1000
    wait_state(p, "src", "progress", f"sent={count} acked={count} errors=0 denied=0")


@pytest.mark.parametrize("runtime", runtimes(2))
def test_full_queue_past_the_send_timeout_is_denied(
    evp_modules: dict[str, Path], run_pipeline: RunPipeline
) -> None:
    # The receiver's queue stays full while it waits for its restart (backoff 50 ms, longer
    # than the 5 ms send timeout): a stall that is the same whether instances run at once
    # (host threads) or take turns (the C runtime's tasks, where a busy receiver also stops
    # its sender). It crashes on the first message of each life and gives up after one
    # restart; messages to it are dropped from then on (acknowledged as sent).
    m = manifest(
        evp_modules,
        {"src": (SRC, {"out": "t"}, {}), "slow": (SINK, {}, {"in": "t"})},
        {
            "src": {"config": {"count": 4, "burst": 2}},
            "slow": {
                "config": {"crash_at": 1},
                "limits": {"queueDepth": 1, "sendTimeoutMs": 5, "maxRestarts": 1},
            },
        },
    )
    p = run_pipeline(m)
    assert p.wait_until(lambda: p.stats()["src"]["denied"] > 0, 30)  # the source retries
    denied_at_least = p.stats()["src"]["denied"]
    assert p.wait_until(
        lambda: state(p, "src", "progress").startswith("sent=4 acked=4 errors=0 denied="), 30
    ), p.stats()
    denied = p.stats()["src"]["denied"]
    assert denied >= denied_at_least > 0
    assert state(p, "src", "progress") == f"sent=4 acked=4 errors=0 denied={denied}"
    assert p.stats()["slow"]["max_queued"] == 1


@pytest.mark.parametrize("runtime", runtimes(3))
def test_crashing_instance_is_reported_and_restarted_others_continue(
    evp_modules: dict[str, Path], run_pipeline: RunPipeline
) -> None:
    m = manifest(
        evp_modules,
        {
            "src": (SRC, {"out": "t"}, {}),
            "flaky": (SINK, {}, {"in": "t"}),
            "steady": (SINK, {}, {"in": "t"}),
        },
        {"src": {"config": {"count": 5}}, "flaky": {"config": {"crash_at": 3}}},
    )
    p = run_pipeline(m)
    wait_state(p, "steady", "received", "n=5 topic=in last=4")
    # flaky trapped on "2"; its fresh instance (count restarts at 0) got "3" and "4".
    wait_state(p, "flaky", "received", "n=2 topic=in last=4")
    stats = p.stats()
    assert stats["flaky"]["restarts"] == 1
    assert stats["flaky"]["received"] == 4
    failures = [e for e in p.events if e.kind == "failure"]  # type: ignore[attr-defined]
    assert [e.instance for e in failures] == ["flaky"]
    assert names_unreachable_trap(failures[0].data, "message callback: ", "")
    assert p.status()["instances"]["flaky"] == {"status": "ok", "moduleId": SINK}


@pytest.mark.parametrize("runtime", runtimes(3))
def test_instance_failing_for_good_is_error_in_status(
    evp_modules: dict[str, Path], run_pipeline: RunPipeline
) -> None:
    m = manifest(
        evp_modules,
        {
            "src": (SRC, {"out": "t"}, {}),
            "broken": (SINK, {}, {"in": "t"}),
            "steady": (SINK, {}, {"in": "t"}),
        },
        {
            "src": {"config": {"count": 4}},
            "broken": {"config": {"crash_at": 1}, "limits": {"maxRestarts": 1}},
        },
    )
    p = run_pipeline(m)
    wait_state(p, "steady", "received", "n=4 topic=in last=3")
    assert p.wait_until(lambda: p.stats()["broken"]["state"] == "error", 20)
    status = p.status()
    broken = status["instances"]["broken"]
    assert {k: v for k, v in broken.items() if k != "failureMessage"} == {
        "status": "error",
        "moduleId": SINK,
    }
    assert names_unreachable_trap(
        broken["failureMessage"], "message callback: ", " (gave up after 1 restarts)"
    ), broken
    assert status["reconcileStatus"] == "ok"
    assert status["instances"]["steady"]["status"] == "ok"
    # One failure event per failure: the first restarted, the second (the last) gave up.
    assert p.wait_until(lambda: len(failure_events(p)) >= 2, 20)
    p.stop()
    events = failure_events(p)
    assert [(name, "gave up" in text) for name, text in events] == [
        ("broken", False),
        ("broken", True),
    ], events
    assert events[1][1] == broken["failureMessage"]


@pytest.mark.parametrize("runtime", runtimes(2))
def test_cpu_limit_per_instance(evp_modules: dict[str, Path], run_pipeline: RunPipeline) -> None:
    m = manifest(
        evp_modules,
        {"src": (SRC, {"out": "t"}, {}), "hog": (SINK, {}, {"in": "t"})},
        {
            "src": {"config": {"count": 1}},
            "hog": {
                "config": {"delay_ms": 60000},
                "limits": {"handlerTimeoutMs": 100, "maxRestarts": 0},
            },
        },
    )
    p = run_pipeline(m)
    assert p.wait_until(lambda: p.stats()["hog"]["state"] == "error", 20)
    final = "message callback: timeout: call exceeded 100 ms (gave up after 0 restarts)"
    assert p.status()["instances"]["hog"]["failureMessage"] == final
    # One failure event per failure (docs/pipeline.md section 5): the only one gave up.
    assert p.wait_until(lambda: failure_events(p), 20)
    p.stop()
    assert failure_events(p) == [("hog", final)]


@pytest.mark.parametrize("runtime", runtimes(2))
def test_hash_mismatch_starts_nothing(
    evp_modules: dict[str, Path], run_pipeline: RunPipeline
) -> None:
    m = manifest(evp_modules, {"src": (SRC, {"out": "t"}, {}), "dst": (SINK, {}, {"in": "t"})})
    m["deployment"]["modules"][SINK]["hash"] = "0" * 64
    p = run_pipeline(m, started_now=False)
    with pytest.raises(DeploymentError) as e:
        p.start()
    digest = hashlib.sha256(evp_modules[SINK].read_bytes()).hexdigest()
    url = evp_modules[SINK].resolve().as_uri()
    assert str(e.value) == (
        f"module {SINK}: sha256 of {url} is {digest}, the manifest's hash is {'0' * 64}"
    )
    status = p.status()
    assert status["modules"][SINK]["status"] == "error"
    assert status["reconcileStatus"] == "error"
    assert all(i["status"] == "unknown" for i in status["instances"].values())
    assert all(w["received"] == 0 for w in p.stats().values())


@pytest.fixture
def http_dir(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_modules_download_over_http(
    evp_modules: dict[str, Path], http_dir: tuple[Path, str], run_pipeline: RunPipeline
) -> None:
    directory, base = http_dir
    m = manifest(
        evp_modules,
        {"src": (SRC, {"out": "t"}, {}), "dst": (SINK, {}, {"in": "t"})},
        {"src": {"config": {"count": 2}}},
    )
    for name in (SRC, SINK):
        shutil.copy(evp_modules[name], directory / f"{name}.wasm")
        m["deployment"]["modules"][name]["downloadUrl"] = f"{base}/{name}.wasm"
    p = run_pipeline(m)
    assert p.wait(seconds=30, messages=2)
    wait_state(p, "dst", "received", "n=2 topic=in last=1")


def test_evp_module_outside_a_deployment_is_refused_by_name(evp_modules: dict[str, Path]) -> None:
    with HostDut(load_target("host")) as dut, pytest.raises(DeviceError) as e:
        dut.instantiate(SINK, evp_modules[SINK].read_bytes())
    assert str(e.value) == (
        f"module {SINK}: import env.EVP_initialize (docs/abi.md section 6) is provided only to "
        "the instances of a deployment"
    )


@pytest.mark.parametrize("runtime", runtimes(2))
def test_placement_on_another_target_is_refused(
    runtime: str, evp_modules: dict[str, Path], run_pipeline: RunPipeline
) -> None:
    m = manifest(
        evp_modules,
        {"src": (SRC, {"out": "t"}, {}), "dst": (SINK, {}, {"in": "t"})},
        {"dst": {"target": "esp32"}},
    )
    p = run_pipeline(m, started_now=False)
    with pytest.raises(DeploymentError) as e:
        p.start()
    assert str(e.value) == (
        f"instance dst is placed on target esp32; this run executes target "
        f"{RUNTIMES[runtime].name} only"
    )


def test_public_call_api_path_runs_the_same_pipeline(
    evp_modules: dict[str, Path], host_runtime: HostRuntime
) -> None:
    host_runtime.fastcall = False  # wasmtime-py's public API instead of the ctypes fast path
    m = manifest(
        evp_modules,
        {"src": (SRC, {"out": "t"}, {}), "dst": (SINK, {}, {"in": "t"})},
        {"src": {"config": {"count": 3}}, "dst": {"config": {"crash_at": 2}}},
    )
    p = Pipeline(deployment_of(m), host_runtime, "host")
    p.start()
    try:
        wait_state(p, "src", "progress", "sent=3 acked=3 errors=0 denied=0")
        wait_state(p, "dst", "received", "n=1 topic=in last=2")
        assert p.stats()["dst"]["restarts"] == 1
    finally:
        p.stop()


def cli_target(runtime: str) -> list[str]:
    """The command line's target and engine of a runtime of RUNTIMES."""
    target = RUNTIMES[runtime]
    return [target.name, "--engine", target.runtime.engine]


@pytest.mark.parametrize("runtime", runtimes(2))
def test_run_command_with_a_deployment(
    runtime: str, evp_modules: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from build_tools.cli import run as cli_run

    m = manifest(
        evp_modules,
        {"src": (SRC, {"out": "t"}, {}), "dst": (SINK, {}, {"in": "t"})},
        {"src": {"config": {"count": 3}}, "dst": {"config": {"report": 0}}},
    )
    path = tmp_path / "deployment.json"
    path.write_text(json.dumps(m))
    # The sink gets one message injected on its topic besides the source's 3.
    (tmp_path / "hello").write_bytes(b"hello")
    code = cli_run(
        [
            "run",
            *cli_target(runtime),
            "--deployment",
            str(path),
            "--input",
            f"t={tmp_path / 'hello'}",
            "--messages",
            "4",
        ]
    )
    out = capsys.readouterr().out.splitlines()
    assert code == 0, out
    status = json.loads(out[-1])["deploymentStatus"]
    assert status["reconcileStatus"] == "ok"
    assert {n: i["status"] for n, i in status["instances"].items()} == {"src": "ok", "dst": "ok"}
    lines = [json.loads(line) for line in out[:-1]]
    assert {"state": {"state/src/progress": "sent=3 acked=3 errors=0 denied=0"}} in lines
    assert {"telemetry": {"dst/received": 4}} in lines


@pytest.mark.parametrize("runtime", list(RUNTIMES))
def test_run_command_bad_manifest_is_one_line(
    runtime: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from build_tools.cli import run as cli_run

    path = MANIFESTS / "bad" / "unknown_module.json"
    assert cli_run(["run", *cli_target(runtime), "--deployment", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: {path}: $.deployment.instanceSpecs.sink_instance.moduleId: unknown module "
        '"sink-modul"\n'
    )


@pytest.mark.parametrize("runtime", runtimes(1))
def test_memory_limit_per_instance(evp_modules: dict[str, Path], run_pipeline: RunPipeline) -> None:
    m = manifest(
        evp_modules,
        {"dst": (SINK, {}, {"in": "t"})},
        {"dst": {"limits": {"memoryKiB": 64}}},
    )
    p = run_pipeline(m)
    # 60 KiB (within a device's 64 KiB message limit): the module's malloc cannot grow its
    # memory past 64 KiB, so the message is dropped before its callback.
    p.inject("t", bytes(60 * 1024))
    p.inject("t", b"small")
    wait_state(p, "dst", "received", "n=1 topic=in last=small")
    assert p.status()["instances"]["dst"]["status"] == "ok"
    p.stop()
    assert p.stats()["dst"]["dropped"] == 1


def test_build_evp_lists_manifest_fields(
    evp_modules: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from build_tools.cli import run as cli_run

    assert cli_run(["build", "host", "--evp", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["evp_modules"]
    assert sorted(listed) == sorted(evp_modules)
    for name, path in evp_modules.items():
        assert listed[name] == {
            "moduleImpl": "wasm",
            "downloadUrl": path.resolve().as_uri(),
            "hash": hashlib.sha256(path.read_bytes()).hexdigest(),
        }


@pytest.mark.parametrize("runtime", runtimes(1))
def test_run_command_prints_the_instances_output_after_the_reports(
    runtime: str, evp_modules: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from build_tools.cli import run as cli_run

    # evp_probe reports its results as a state at once, and prints them when asked to stop.
    m = manifest(evp_modules, {"probe": ("evp_probe", {"loop": "loop"}, {"loop": "loop"})})
    path = tmp_path / "deployment.json"
    path.write_text(json.dumps(m))
    assert cli_run(["run", *cli_target(runtime), "--deployment", str(path), "--for", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert json.loads(out[-1])["deploymentStatus"]["instances"] == {
        "probe": {"status": "ok", "moduleId": "evp_probe"}
    }
    results = [json.loads(line)["state"]["state/probe/results"] for line in out if "state" in line]
    assert len(results) == 1 and results[0].startswith("handle=")
    assert out[-2] == f"[probe] results {results[0]}"
