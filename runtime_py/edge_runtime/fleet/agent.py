"""The device agent: connects to the fleet broker with mutual TLS (device id = the CN of its
certificate), takes deployments from its `attributes` topic, downloads modules and verifies their
sha256 before use, and swaps the running deployment only once the new one is instantiated: a
failed or interrupted update leaves the old one running. Publishes `deploymentStatus` (EVP's
shape), telemetry, RPC results and its log through a bounded on-disk queue (QoS 1).

    python -m edge_runtime.fleet.agent --config agent.toml

State directory: `modules/<sha256>.wasm` (verified modules), `current.json` (the running
deployment, resumed on restart), `outbox/` (unacknowledged messages), `health.json` (refreshed
every second: what `deploy` checks).
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import logging
import os
import queue
import signal
import tempfile
import threading
import time
import tomllib
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from .. import __version__
from ..deployment import Deployment, DeploymentError, ModuleSpec, parse_deployment
from ..errors import EdgeRuntimeError
from . import topics
from .executor import EXECUTORS, EventSink, Executor, ExecutorError, RuntimeSettings
from .mqtt import Endpoint, close_client, common_name, make_client
from .outbox import Outbox

log = logging.getLogger("edge_runtime.fleet.agent")  # also when run as __main__

CHUNK = 64 * 1024


@dataclass(frozen=True)
class AgentConfig:
    endpoint: Endpoint
    state_dir: Path
    release: str = ""
    telemetry_interval_s: float = 10.0
    outbox_max: int = 10000
    download_timeout_s: float = 30.0
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)

    @classmethod
    def load(cls, path: Path) -> AgentConfig:
        try:
            raw = tomllib.loads(path.read_text())
        except OSError as e:
            raise EdgeRuntimeError(f"agent config {path}: {e.strerror}") from e
        except tomllib.TOMLDecodeError as e:
            raise EdgeRuntimeError(f"agent config {path}: not TOML: {e}") from e
        # Relative to where the file really is: deploy's config is read through the `current`
        # symlink and says "../../state", which a lexical normalisation (tempfile's abspath)
        # would otherwise turn into a directory outside the install root.
        base = path.resolve().parent

        def rel(p: str) -> Path:
            q = Path(p)
            return q if q.is_absolute() else base / q

        b, t, a = raw["broker"], raw["tls"], raw.get("agent", {})
        r = raw.get("runtime", {})
        runtime = RuntimeSettings(
            backend=r.get("backend", "litert"),
            memory_kib=int(r.get("memory_kib", 65536)),
            timeout_ms=int(r.get("timeout_ms", 10000)),
            max_graphs=int(r.get("max_graphs", 16)),
            max_contexts=int(r.get("max_contexts", 16)),
            models_dir=rel(r["models_dir"]) if r.get("models_dir") else None,
            executor=r.get("executor", "pipeline"),
            target=r.get("target", "host"),
        )
        return cls(
            endpoint=Endpoint(
                b["host"], int(b["port"]), rel(t["ca"]), rel(t["cert"]), rel(t["key"])
            ),
            state_dir=rel(a.get("state_dir", "state")),
            release=str(a.get("release", "")),
            telemetry_interval_s=float(a.get("telemetry_interval_s", 10.0)),
            outbox_max=int(a.get("outbox_max", 10000)),
            download_timeout_s=float(a.get("download_timeout_s", 30.0)),
            runtime=runtime,
        )


class DownloadError(Exception):
    pass


def fetch_module(spec: ModuleSpec, cache: Path, timeout: float) -> Path:
    """The verified module file: from the cache when its hash is there, else downloaded to a
    temporary file, hashed while streaming, and renamed into the cache only if the sha256
    matches. Nothing unverified is ever at the cache path."""
    want = spec.hash or ""
    final = cache / f"{want}.wasm"
    if want and final.is_file() and hashlib.sha256(final.read_bytes()).hexdigest() == want:
        return final
    url = spec.download_url or ""
    if not url:
        raise DownloadError(f"module {spec.module_id}: no downloadUrl and not on the device")
    if not want:
        raise DownloadError(f"module {spec.module_id}: no hash in the manifest: refused")
    scheme = url.split(":", 1)[0].lower()
    if scheme not in ("http", "https", "file"):
        raise DownloadError(f"module {spec.module_id}: unsupported URL scheme {scheme!r}")
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=cache, suffix=".part")
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            announced = resp.headers.get("Content-Length")
            received = 0
            while chunk := resp.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
                received += len(chunk)
            if announced is not None and received != int(announced):
                raise DownloadError(
                    f"module {spec.module_id}: download failed: interrupted after "
                    f"{received} of {announced} bytes"
                )
        got = digest.hexdigest()
        if got != want:
            raise DownloadError(
                f"module {spec.module_id}: sha256 mismatch (manifest {want[:12]}..., "
                f"downloaded {got[:12]}...): refused"
            )
        os.replace(tmp, final)
        return final
    except DownloadError:
        raise
    except Exception as e:  # interrupted transfers, HTTP errors, timeouts
        raise DownloadError(f"module {spec.module_id}: download failed: {e}") from e
    finally:
        tmp.unlink(missing_ok=True)


class LogRing(logging.Handler):
    def __init__(self, size: int = 200) -> None:
        super().__init__(logging.INFO)
        self.lines: collections.deque[str] = collections.deque(maxlen=size)
        self.changed = threading.Event()
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        self.changed.set()


ExecutorFactory = Callable[[RuntimeSettings, EventSink], Executor]


def default_executor(settings: RuntimeSettings, events: EventSink) -> Executor:
    """The executor the config names (`[runtime] executor`, default `pipeline`)."""
    return EXECUTORS[settings.executor](settings, events)


class Agent:
    def __init__(
        self, cfg: AgentConfig, executor_factory: ExecutorFactory = default_executor
    ) -> None:
        self.cfg = cfg
        self.device_id = common_name(cfg.endpoint.certfile.read_bytes())
        self.make_executor = executor_factory
        self.state = cfg.state_dir
        self.state.mkdir(parents=True, exist_ok=True)
        self.outbox = Outbox(self.state / "outbox", cfg.outbox_max)
        self.current: Executor | None = None
        self.current_manifest: Deployment | None = None
        self.status: dict[str, Any] = {
            "instances": {},
            "modules": {},
            "deploymentId": None,
            "reconcileStatus": "ok",
        }
        self.connected = threading.Event()
        self.stopping = threading.Event()
        self._deployments: queue.Queue[dict[str, Any]] = queue.Queue()
        self._rpc: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.ring = LogRing()
        logging.getLogger("edge_runtime").addHandler(self.ring)
        self.client = make_client(cfg.endpoint, client_id=self.device_id)
        self.client.will_set(topics.online(self.device_id), b"0", qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        self._threads: list[threading.Thread] = []

    # -- MQTT callbacks (network thread: hand work off, never block) ----------------------------

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any = None) -> None:
        if rc.is_failure:
            log.warning("broker refused the connection: %s", rc)
            return
        d = self.device_id
        client.subscribe([(topics.deployment(d), 1), (topics.rpc_request(d), 1)])
        client.publish(topics.online(d), b"1", qos=1, retain=True)
        self.connected.set()
        self._publish_reported()
        log.info("connected to %s:%d as %s", self.cfg.endpoint.host, self.cfg.endpoint.port, d)

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, rc: Any, _p: Any = None) -> None:
        self.connected.clear()
        self.outbox.wake.set()
        if not self.stopping.is_set():
            log.warning("disconnected from the broker (%s); reconnecting", rc)

    def _on_publish(self, _c: Any, _u: Any, mid: int, _rc: Any = None, _p: Any = None) -> None:
        self.outbox.on_ack(mid)

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            body = json.loads(msg.payload)
        except ValueError:
            log.warning("ignored a non-JSON message on %s", msg.topic)
            return
        if msg.topic == topics.deployment(self.device_id):
            if isinstance(body, dict) and "deployment" in body:
                self._deployments.put(body)
        else:
            self._rpc.put((msg.topic.rsplit("/", 1)[-1], body))

    # -- threads ------------------------------------------------------------------------------

    def _sender(self) -> None:
        def publish(topic: str, payload: bytes) -> int | None:
            info = self.client.publish(topic, payload, qos=1)
            return None if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE else info.mid

        while not self.stopping.is_set():
            self.outbox.wake.wait(0.5)
            self.outbox.wake.clear()
            self.outbox.pump(publish if self.connected.is_set() else None)

    def _deployer(self) -> None:
        while not self.stopping.is_set():
            try:
                message = self._deployments.get(timeout=0.5)
            except queue.Empty:
                continue
            while not self._deployments.empty():  # only the newest deployment matters
                message = self._deployments.get_nowait()
            self.apply(message)

    def _rpc_worker(self) -> None:
        while not self.stopping.is_set():
            try:
                reqid, body = self._rpc.get(timeout=0.5)
            except queue.Empty:
                continue
            self._answer(reqid, body)

    def _ticker(self) -> None:
        next_telemetry = time.monotonic() + self.cfg.telemetry_interval_s
        while not self.stopping.wait(min(1.0, self.cfg.telemetry_interval_s)):
            self._write_health()
            if self.ring.changed.is_set() and self.connected.is_set():
                self.ring.changed.clear()
                self.client.publish(
                    topics.logs(self.device_id),
                    json.dumps({"lines": list(self.ring.lines)}).encode(),
                    qos=1,
                    retain=True,
                )
            if time.monotonic() >= next_telemetry:
                next_telemetry += self.cfg.telemetry_interval_s
                self.send_telemetry()

    # -- work ---------------------------------------------------------------------------------

    def apply(self, message: dict[str, Any]) -> None:
        """Downloads, verifies and instantiates a deployment, then swaps it in. Any failure
        leaves the running deployment as it was and reports reconcileStatus `error`."""
        try:
            manifest = parse_deployment(json.dumps(message), "deployment")
        except DeploymentError as e:
            log.error("deployment refused: %s", e)
            self._report(None, "error", {}, {}, str(e))
            return
        if self.current_manifest and manifest.deployment_id == self.current_manifest.deployment_id:
            self._publish_reported()
            return
        dep_id = manifest.deployment_id
        log.info("applying deployment %s", dep_id[:16])
        module_status = {m: {"status": "downloading"} for m in manifest.modules}
        self._report(dep_id, "applying", {}, module_status)
        files: dict[str, Path] = {}
        failure = ""
        for mid, spec in manifest.modules.items():
            try:
                files[mid] = fetch_module(spec, self.state / "modules", self.cfg.download_timeout_s)
                module_status[mid] = {"status": "ok"}
            except DownloadError as e:
                module_status[mid] = {"status": "error", "failureMessage": str(e)}
                failure = failure or str(e)
        instances: dict[str, Any] = {}
        new: Executor | None = None
        if not failure:
            new = self.make_executor(self.cfg.runtime, self._executor_event)
            try:
                new.apply(manifest, files)
            except (ExecutorError, OSError) as e:
                failure = str(e)
                new.stop()
                new = None
        if failure or new is None:
            log.error("deployment %s failed, the running one stays: %s", dep_id[:16], failure)
            for name, ispec in manifest.instances.items():
                instances[name] = {
                    "status": "error",
                    "moduleId": ispec.module_id,
                    "failureMessage": failure,
                }
            self._report(dep_id, "error", instances, module_status, failure)
            return
        old, self.current, self.current_manifest = self.current, new, manifest
        tmp = self.state / "current.json.tmp"
        tmp.write_text(json.dumps(message))
        os.replace(tmp, self.state / "current.json")
        log.info("deployment %s running (%d instances)", dep_id[:16], len(manifest.instances))
        self._report(dep_id, "ok", new.status(), module_status)
        if old is not None:  # after the report: the new deployment is already the one running
            old.stop()

    def _executor_event(self, kind: str, instance: str, data: Any) -> None:
        """Outputs of the running deployment (EVP telemetry and state of its instances) go up
        as telemetry entries `<instance>/<key>` and `state/<instance>/<topic>`."""
        if kind == "telemetry" and isinstance(data, dict):
            entries = {f"{instance}/{k}": v for k, v in data.items()}
        elif kind == "state" and isinstance(data, dict):
            value = data.get("value", b"")
            text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
            entries = {f"state/{instance}/{data.get('topic')}": text}
        else:
            log.info("instance %s: %s %s", instance, kind, data)
            return
        self.outbox.put(topics.telemetry(self.device_id), entries)

    def _report(
        self,
        dep_id: str | None,
        reconcile: str,
        instances: dict[str, Any],
        modules: dict[str, Any],
        failure: str = "",
    ) -> None:
        self.status = {
            "instances": instances,
            "modules": modules,
            "deploymentId": dep_id,
            "reconcileStatus": reconcile,
        }
        if failure:
            self.status["failureMessage"] = failure
        self._publish_reported()

    def _publish_reported(self) -> None:
        body = {
            "deploymentStatus": self.status,
            "agent": {
                "deviceId": self.device_id,
                "version": __version__,
                "release": self.cfg.release,
                "runningDeploymentId": self.current_manifest.deployment_id
                if self.current_manifest
                else None,
                "queued": len(self.outbox),
                "dropped": self.outbox.dropped,
            },
        }
        self.client.publish(
            topics.reported(self.device_id), json.dumps(body).encode(), qos=1, retain=True
        )

    def _answer(self, reqid: str, body: dict[str, Any]) -> None:
        """EVP direct command: `{"method": "evp-c2d", "params": {"direct-command-request":
        {reqid, method, instance, params}}}`. The method is an export of the instance and
        `params` is `{"args": [i32...]}`; the agent itself answers method `agent/info`."""
        try:
            req = body["params"]["direct-command-request"]
            method, instance = str(req["method"]), str(req.get("instance", ""))
            params = req.get("params") or {}
            if isinstance(params, str):
                params = json.loads(params)
        except (KeyError, TypeError, ValueError):
            self._respond(reqid, "error", {"message": "malformed direct-command-request"})
            return
        if method == "agent/info":
            self._respond(
                reqid,
                "ok",
                {"version": __version__, "release": self.cfg.release, "deviceId": self.device_id},
            )
            return
        if self.current is None:
            self._respond(reqid, "error", {"message": "no deployment running"})
            return
        args = [int(a) for a in params.get("args", [])]
        result = self.current.call(instance, method, args)
        self._respond(reqid, "ok" if result["status"] == "ok" else "error", result)
        # The pipeline output, as EVP telemetry of the instance.
        self.outbox.put(
            topics.telemetry(self.device_id), {f"{instance}/output": {"method": method, **result}}
        )

    def _respond(self, reqid: str, status: str, response: dict[str, Any]) -> None:
        self.outbox.put(
            topics.rpc_response(self.device_id, reqid),
            {"direct-command-response": {"reqid": reqid, "status": status, "response": response}},
        )

    def send_telemetry(self) -> None:
        entries: dict[str, Any] = {
            "agent/queued": len(self.outbox),
            "agent/dropped": self.outbox.dropped,
        }
        if self.current is not None:
            entries.update(self.current.telemetry())
        self.outbox.put(topics.telemetry(self.device_id), entries)

    def _write_health(self) -> None:
        health = {
            "pid": os.getpid(),
            "version": __version__,
            "release": self.cfg.release,
            "deviceId": self.device_id,
            "connected": self.connected.is_set(),
            "deploymentId": self.current_manifest.deployment_id if self.current_manifest else None,
            "time": time.time(),
        }
        tmp = self.state / "health.json.tmp"
        tmp.write_text(json.dumps(health))
        os.replace(tmp, self.state / "health.json")

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        saved = self.state / "current.json"
        if saved.is_file():  # resume the last good deployment before talking to anyone
            self.apply(json.loads(saved.read_text()))
        self._write_health()
        ep = self.cfg.endpoint
        self.client.connect_async(ep.host, ep.port, keepalive=30)
        self.client.loop_start()
        for fn in (self._sender, self._deployer, self._rpc_worker, self._ticker):
            t = threading.Thread(target=fn, name=f"agent-{fn.__name__.strip('_')}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self.stopping.set()
        for t in self._threads:
            t.join(5)
        if self.connected.is_set():
            self.client.publish(topics.online(self.device_id), b"0", qos=1, retain=True)
        close_client(self.client)
        if self.current is not None:
            self.current.stop()
        logging.getLogger("edge_runtime").removeHandler(self.ring)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge_runtime.fleet.agent")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    agent = Agent(AgentConfig.load(args.config))
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    agent.start()
    done.wait()
    agent.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
