"""The sandbox's cgroup files, written and read against a temporary directory tree.

This machine has cgroup v1 (the v1 path also runs for real in
tests/integration/test_sandbox_redteam.py, as root); the v2 path, which most
Kubernetes nodes use, is exercised here only as the files it writes and reads:
a plain directory stands for the delegated cgroup, so what the kernel would do
with the values is not tested.
"""

import os

import pytest

from rewardgate.sources.rule.sandbox import cgroups


@pytest.fixture
def delegated(tmp_path, monkeypatch):
    budget = tmp_path / "delegated"
    budget.mkdir()
    monkeypatch.setenv("REWARDGATE_SANDBOX_CGROUP", str(budget))
    return budget


def test_v2_makes_a_run_cgroup_under_the_delegated_one_and_sizes_the_budget(delegated):
    (delegated / "run-999999999").mkdir()  # a verifier process that is gone
    cgroup = cgroups.detect(budget_memory_mb=2048)
    run = delegated / f"run-{os.getpid()}"
    assert cgroup.version == 2 and cgroup.run_dirs == {"unified": run} and run.is_dir()
    assert not (delegated / "run-999999999").exists()
    assert (delegated / "memory.max").read_text() == str(2048 * 1024 * 1024)
    assert (delegated / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"
    assert (delegated / "cpu.weight").read_text() == "100"  # one run: one default task's weight


def test_v2_budget_weight_grows_with_the_runs_under_it(delegated):
    for other in (1, os.getppid()):  # two more live processes with run cgroups
        (delegated / f"run-{other}").mkdir()
    cgroups.detect(budget_memory_mb=0)
    assert (delegated / "cpu.weight").read_text() == "300"
    assert not (delegated / "memory.max").exists()  # no budget asked for: none written


def test_v2_run_limits_are_written_once_per_change(delegated):
    cgroup = cgroups.detect(budget_memory_mb=0)
    run = cgroup.run_dirs["unified"]
    cgroup.configure(memory_mb=600, processes=42)
    assert (run / "memory.max").read_text() == str(600 * 1024 * 1024)
    assert (run / "memory.swap.max").read_text() == "0"
    assert (run / "pids.max").read_text() == "42"
    assert (run / "cpu.max").read_text() == "100000 100000"  # one CPU
    (run / "pids.max").write_text("changed behind its back")
    cgroup.configure(memory_mb=600, processes=42)
    assert (run / "pids.max").read_text() == "changed behind its back"  # same limits: no writes
    cgroup.configure(memory_mb=600, processes=43)
    assert (run / "pids.max").read_text() == "43"


def test_v2_join_writes_the_pid_to_the_run_cgroup(delegated):
    cgroup = cgroups.detect(budget_memory_mb=0)
    cgroup.join(4321)
    assert (cgroup.run_dirs["unified"] / "cgroup.procs").read_text() == "4321"


def events(run, max_hits: int, oom_kills: int) -> None:
    (run / "memory.events").write_text(
        f"low 0\nhigh 0\nmax {max_hits}\noom {oom_kills}\noom_kill {oom_kills}\n"
    )


@pytest.mark.parametrize(
    ("after", "own_hit", "kills", "for_others"),
    [
        ((3, 1), False, 0, False),  # nothing happened during the run
        ((5, 1), True, 0, False),  # the run reached its own limit and reclaimed
        ((5, 2), True, 1, False),  # its own limit: the OOM kill is the candidate's doing
        ((3, 2), False, 1, True),  # a kill while within its own limit: the budget's or the host's
    ],
)
def test_v2_evidence_separates_the_runs_own_limit_from_everyone_elses(
    delegated, after, own_hit, kills, for_others
):
    cgroup = cgroups.detect(budget_memory_mb=0)
    run = cgroup.run_dirs["unified"]
    events(run, 3, 1)  # counters from earlier runs
    cgroup.configure(memory_mb=600, processes=42)
    events(run, *after)
    evidence = cgroup.evidence()
    assert (evidence.own_limit_hit, evidence.oom_kills, evidence.killed_for_others) == (
        own_hit,
        kills,
        for_others,
    )


def test_v1_writes_each_controllers_files_and_reads_the_runs_own_counters(tmp_path, monkeypatch):
    monkeypatch.setattr(cgroups, "V1_ROOT", tmp_path)
    for controller in ("memory", "pids", "cpu"):
        (tmp_path / controller).mkdir()
    cgroup = cgroups._v1("sandbox-test", budget_memory_mb=1024)
    runs = cgroup.run_dirs
    assert (tmp_path / "memory" / "sandbox-test" / "memory.limit_in_bytes").read_text() == str(1024 << 20)
    assert (tmp_path / "cpu" / "sandbox-test" / "cpu.shares").read_text() == "1024"
    cgroup.configure(memory_mb=600, processes=42)
    assert (runs["memory"] / "memory.limit_in_bytes").read_text() == str(600 << 20)
    assert (runs["memory"] / "memory.memsw.limit_in_bytes").read_text() == "-1"  # see _set_v1_memory
    assert (runs["memory"] / "memory.swappiness").read_text() == "0"
    assert (runs["pids"] / "pids.max").read_text() == "42"
    assert (runs["cpu"] / "cpu.cfs_quota_us").read_text() == "100000"
    (runs["memory"] / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n")
    assert cgroup.evidence().killed_for_others  # a kill, and the run's failcnt never rose
    (runs["memory"] / "memory.failcnt").write_text("7")
    assert not cgroup.evidence().killed_for_others
