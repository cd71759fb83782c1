"""Feature cache under concurrency: one key written by 4 processes at once, and by a writer killed mid-write."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

from brainalign.core import Timeline
from brainalign.features import FeatureStore

N_EVENTS, DIM, N_CHUNKS = 120, 8, 8
REPO = Path(__file__).resolve().parents[1]

# One writer process: opens the key like the extractors do (get, else writer ->
# completed_chunks -> compute the missing chunks -> finalize), logs every chunk
# it computes, prints a digest of what it finally reads back.
WORKER = r"""
import hashlib, os, sys, time
import numpy as np
from brainalign.core import Timeline
from brainalign.features import FeatureStore

root, key, log, go, hang_after = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
n_events, dim, n_chunks = {n_events}, {dim}, {n_chunks}
tl = Timeline([f"w{{i}}" for i in range(n_events)], np.arange(n_events) * 0.25)
data = np.arange(n_events * dim, dtype=np.float32).reshape(n_events, dim) / 7.0
parts = np.array_split(np.arange(n_events), n_chunks)
while not os.path.exists(go):  # start together
    time.sleep(0.005)
store = FeatureStore(root)
fs = store.get(key)
if fs is None:
    writer = store.writer(key, tl, n_chunks=n_chunks, metadata={{"model_id": "toy"}})
    done = writer.completed_chunks()
    for k in range(n_chunks):
        if k in done:
            continue
        time.sleep(0.02)  # "computing"
        writer.write_chunk(k, parts[k], {{"layer.0": data[parts[k]], "layer.1": -data[parts[k]]}})
        with open(log, "a") as fh:
            fh.write(f"{{os.getpid()}} {{k}}\n")
        if k == hang_after:
            print("HANGING", flush=True)
            time.sleep(600)
    fs = writer.finalize()
digest = hashlib.sha256(np.asarray(fs["layer.0"]).tobytes() + np.asarray(fs["layer.1"]).tobytes()).hexdigest()
print("DIGEST", digest, flush=True)
""".format(n_events=N_EVENTS, dim=DIM, n_chunks=N_CHUNKS)


def _expected_digest() -> str:
    data = np.arange(N_EVENTS * DIM, dtype=np.float32).reshape(N_EVENTS, DIM) / 7.0
    return hashlib.sha256(data.tobytes() + (-data).tobytes()).hexdigest()


def _key() -> str:
    tl = Timeline([f"w{i}" for i in range(N_EVENTS)], np.arange(N_EVENTS) * 0.25)
    return FeatureStore.make_key(model_id="toy", revision=None, stimulus_hash=tl.content_hash)


def _start(tmp_path, key, hang_after=-1):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(tmp_path / "cache"), key, str(tmp_path / "log"), str(tmp_path / "go"),
         str(hang_after)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def _log(tmp_path) -> list[tuple[int, int]]:
    path = tmp_path / "log"
    if not path.exists():
        return []
    return [tuple(map(int, line.split())) for line in path.read_text().splitlines()]


def _digest(proc) -> str:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return out.split("DIGEST ")[1].strip()


def test_four_processes_writing_one_key_compute_it_once(tmp_path):
    key = _key()
    procs = [_start(tmp_path, key) for _ in range(4)]
    (tmp_path / "go").touch()
    digests = [_digest(p) for p in procs]
    assert digests == [_expected_digest()] * 4  # all end with identical, correct features
    log = _log(tmp_path)
    # each chunk computed exactly once, by a single writer; the others waited for the lock
    # and then read the finished entry instead of recomputing or deleting its chunks
    assert sorted(k for _, k in log) == list(range(N_CHUNKS))
    assert len({pid for pid, _ in log}) == 1
    entry = tmp_path / "cache" / key
    assert not (entry / "partial").exists()
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [".locks", key]
    assert FeatureStore(tmp_path / "cache").verify_entry(key) is None


def test_writer_killed_mid_write_leaves_chunks_that_the_next_writer_reuses(tmp_path):
    key = _key()
    (tmp_path / "go").touch()
    victim = _start(tmp_path, key, hang_after=3)  # writes chunks 0-3, then hangs holding the lock
    assert victim.stdout.readline().strip() == "HANGING"
    waiting = _start(tmp_path, key)  # blocks on the lock the victim holds
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)
    assert victim.returncode == -signal.SIGKILL
    # the kernel released the dead writer's lock: the waiting writer resumes at chunk 4
    assert _digest(waiting) == _expected_digest()
    log = _log(tmp_path)
    assert [k for pid, k in log if pid == victim.pid] == [0, 1, 2, 3]
    assert [k for pid, k in log if pid == waiting.pid] == [4, 5, 6, 7]
    assert not (tmp_path / "cache" / key / "partial").exists()
    # and a writer started after everything is done just reads the entry
    again = FeatureStore(tmp_path / "cache", lock_timeout=30).writer(key, Timeline(["x"], [0.0]), n_chunks=1)
    assert again.finished and again.completed_chunks() == {0}
    again.close()


def test_killed_writer_then_new_writer_in_this_process(tmp_path):
    key = _key()
    (tmp_path / "go").touch()
    victim = _start(tmp_path, key, hang_after=2)
    assert victim.stdout.readline().strip() == "HANGING"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=60)
    store = FeatureStore(tmp_path / "cache", lock_timeout=30)  # a stale lock would raise TimeoutError, not hang
    tl = Timeline([f"w{i}" for i in range(N_EVENTS)], np.arange(N_EVENTS) * 0.25)
    data = np.arange(N_EVENTS * DIM, dtype=np.float32).reshape(N_EVENTS, DIM) / 7.0
    parts = np.array_split(np.arange(N_EVENTS), N_CHUNKS)
    writer = store.writer(key, tl, n_chunks=N_CHUNKS)
    assert writer.completed_chunks() == {0, 1, 2}
    for k in range(3, N_CHUNKS):
        writer.write_chunk(k, parts[k], {"layer.0": data[parts[k]], "layer.1": -data[parts[k]]})
    fs = writer.finalize()
    np.testing.assert_array_equal(fs["layer.0"], data)
    np.testing.assert_array_equal(fs["layer.1"], -data)


def test_threads_wait_for_each_other_and_a_held_lock_times_out_clearly(tmp_path):
    tl = Timeline(["a", "b", "c", "d"], [0.0, 1.0, 2.0, 3.0])
    store = FeatureStore(tmp_path)
    first = store.writer("k", tl, n_chunks=2)
    first.write_chunk(0, [0, 1], {"layer.0": np.ones((2, 3))})
    results = {}

    def other_thread():
        try:
            FeatureStore(tmp_path, lock_timeout=0.2).writer("k", tl, n_chunks=2)
        except TimeoutError as err:
            results["error"] = str(err)
        second = store.writer("k", tl, n_chunks=2)  # waits until the first writer finalizes
        results["finished"] = second.finished
        results["features"] = np.array(second.finalize()["layer.0"])

    thread = threading.Thread(target=other_thread)
    thread.start()
    while "error" not in results and thread.is_alive():
        thread.join(0.01)
    assert f"{tmp_path / 'k'} is still locked by another writer after 0.2 s" in results["error"]
    first.write_chunk(1, [2, 3], {"layer.0": np.zeros((2, 3))})
    first.finalize()
    thread.join(60)
    assert results["finished"] is True
    np.testing.assert_array_equal(results["features"], [[1, 1, 1]] * 2 + [[0, 0, 0]] * 2)


def test_same_thread_retry_does_not_deadlock_on_a_failed_writer(tmp_path, monkeypatch):
    tl = Timeline(["a", "b"], [0.0, 1.0])
    store = FeatureStore(tmp_path)
    failed = store.writer("k", tl, n_chunks=2)  # e.g. an extraction that raised; its writer still referenced
    failed.write_chunk(0, [0], {"layer.0": np.ones((1, 2))})
    retry = store.writer("k", tl, n_chunks=2)
    assert retry.completed_chunks() == {0}
    retry.write_chunk(1, [1], {"layer.0": np.zeros((1, 2))})
    np.testing.assert_array_equal(retry.finalize()["layer.0"], [[1, 1], [0, 0]])
    failed.close()
    assert not store._is_locked_elsewhere("k")
    # the same store spelled as a relative path shares the lock (no self-deadlock)
    monkeypatch.chdir(tmp_path.parent)
    relative = FeatureStore(tmp_path.name, lock_timeout=5)
    with store.writer("k2", tl, n_chunks=1) as held:
        again = relative.writer("k2", tl, n_chunks=1)
        again.write_chunk(0, [0, 1], {"layer.0": np.ones((2, 2))})
        again.finalize()
        assert held.completed_chunks() == {0}  # it was opened before the entry was finished
