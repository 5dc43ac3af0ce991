"""What the slow emulated-Pi fleet tier (ci/emulated_pi_fleet.sh, tests/fleet/emulated_pi.py)
does, checked without the emulator: the scripts parse, the rootfs can run sshd, the commands
are ones the real CLI accepts, and the manifest is one the project's reader accepts."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from build_tools.cli import build_parser
from build_tools.fleet.operator import load_manifest
from build_tools.guests import build_evp_modules
from build_tools.paths import repo_root
from build_tools.targets import load_target

from . import emulated_pi as ep

SCRIPTS = ("ci/emulated_pi_rootfs.sh", "ci/emulated_pi.sh", "ci/emulated_pi_fleet.sh")


def run_for(tmp_path: Path) -> ep.Run:
    return ep.Run(tmp_path / "rootfs", tmp_path / "work", 2222, 8883, 8000, "/opt/build_tools")


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_parse(script: str) -> None:
    r = subprocess.run(["bash", "-n", str(repo_root() / script)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_rootfs_packages_hold_what_the_fleet_tier_runs() -> None:
    # The list as the scripts see it (sourced, not parsed by hand).
    r = subprocess.run(
        ["bash", "-c", 'source ci/emulated_pi_rootfs.sh && echo "$EMULATED_PI_ROOT_PACKAGES"'],
        cwd=repo_root(),
        capture_output=True,
        text=True,
        check=True,
    )
    packages = r.stdout.strip().split(",")
    for needed in ("openssh-server", "python3", "python3-venv", "ca-certificates"):
        assert needed in packages, packages


def test_both_tiers_use_the_one_rootfs_recipe() -> None:
    for script in ("ci/emulated_pi.sh", "ci/emulated_pi_fleet.sh"):
        text = (repo_root() / script).read_text()
        assert "source ci/emulated_pi_rootfs.sh" in text
        assert "mmdebstrap --" not in text and "ROOT_PACKAGES=" not in text


def test_deploy_argv_is_the_users_command_and_the_cli_accepts_it(tmp_path: Path) -> None:
    run = run_for(tmp_path)
    argv = ep.deploy_argv(run)
    assert argv[1:3] == ["-m", "build_tools"]
    assert argv[3:10] == [
        "deploy",
        "rpi4",
        "--host",
        "pi@127.0.0.1:2222",
        "--identity",
        str(run.identity),
        "--accept-new-host-key",
    ]
    args = build_parser().parse_args(argv[3:])
    assert (args.service, args.device, args.broker) == ("process", ep.DEVICE, "127.0.0.1:8883")
    assert args.pki == str(run.pki) and args.known_hosts == run.work / "known_hosts"
    assert not args.rollback
    assert build_parser().parse_args(ep.deploy_argv(run, "--rollback")[3:]).rollback
    fleet = build_parser().parse_args(ep.fleet_argv(run, "status", "--json")[3:])
    assert (fleet.broker, fleet.json) == ("127.0.0.1:8883", True)


def test_the_install_dir_is_the_targets() -> None:
    assert load_target(ep.TARGET).connection.install_dir == "/opt/build_tools"


def test_sshd_runs_in_the_rootfs_with_paths_as_the_chroot_sees_them(tmp_path: Path) -> None:
    run = run_for(tmp_path)
    assert ep.sshd_argv(run.rootfs) == [
        "chroot",
        str(run.rootfs),
        "/usr/sbin/sshd",
        "-D",
        "-e",
        "-f",
        "/srv/emulated-pi/sshd_config",
    ]
    assert run.in_rootfs("/opt/build_tools/run") == run.rootfs / "opt/build_tools/run"
    script = ep.user_setup_script("pi", "/opt/build_tools")
    assert "useradd -m -s /bin/bash pi" in script and "chown pi: /opt/build_tools" in script
    assert "usermod -p '*' pi" in script  # unlocked: sshd refuses keys of a locked account
    r = subprocess.run(["sh", "-n", "-c", script], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_pipeline_manifest_is_accepted_and_downloads_from_the_server(tmp_path: Path) -> None:
    mods = build_evp_modules(load_target(ep.TARGET))
    used = {m: mods[m] for m in ("evp_source", "evp_sink")}
    m = ep.pipeline_manifest(used, "http://127.0.0.1:8000")
    f = tmp_path / "manifest.json"
    f.write_text(json.dumps(m))
    body = load_manifest(f)  # the project's one reader validates it
    assert len(body["deploymentId"]) == 64
    assert body["modules"]["evp_sink"]["downloadUrl"] == (
        f"http://127.0.0.1:8000/{used['evp_sink'].name}"
    )
    assert set(body["instanceSpecs"]) == {"src", "sink"}
    assert body["x-build-tools"]["instances"]["src"]["config"]["count"] == ep.SOURCE_COUNT


def test_pipeline_done_only_when_the_sink_has_every_message() -> None:
    assert ep.pipeline_done({"state/sink/received": "n=5 topic=in last=4"})
    assert not ep.pipeline_done({"state/sink/received": "n=4 topic=in last=3"})
    assert not ep.pipeline_done({})


def test_processes_rooted_at_finds_by_root_directory(tmp_path: Path) -> None:
    assert os.getpid() in ep.processes_rooted_at(Path("/"))
    assert ep.processes_rooted_at(tmp_path) == []
