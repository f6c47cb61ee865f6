"""Fuzz the loader: mutated DICOM files and DICOMDIRs through ``scan`` + ``load`` in capped child processes.

Every case either loads or raises :class:`LoadError` in plain words. The harness reports

* crashes      - the child died (a signal from native code, an abort),
* hangs        - no answer within ``--timeout`` seconds (the child is killed and restarted),
* blow-ups     - MemoryError under the ``--mem`` address-space cap, or a peak RSS over ``--rss``,
* exceptions   - anything other than LoadError/LoadCancelled escaping ``scan`` or ``load``,
* raw messages - a LoadError or skip reason that embeds raw exception text (``struct.error``, ``...Error:``),
* slow cases   - over ``--slow`` seconds (listed, not counted as failures: the address-space cap can turn
                 a decoder that would spin forever into a quick MemoryError, so a slow case deserves a look),

and saves each as a reproducer (the mutated file and a ``.txt`` with what happened) under ``--out``.
Children are long-lived (one per ``--jobs``) and restarted after a crash or hang, so a case costs
milliseconds, not an interpreter start.

    PYTHONPATH=$PWD nice python benchmarks/fuzz_loader.py --cases 10000 --jobs 2 --out /tmp/fuzz

Seeds: pydicom's and pydicom-data's test files (up to 300 kB), nibabel's DICOM test data (Siemens
mosaics included) and pydicom's DICOMDIR test set.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

#: raw exception text that must never reach a user-facing message
RAW_TEXT = re.compile(r"\b(struct\.error|Traceback|[A-Z][A-Za-z]*(Error|Exception)\b:?|errno|NoneType|object has no attribute)")
MAX_SEED_BYTES = 300_000


# ----------------------------------------------------------------------------------------------- seeds
def seed_files() -> list[Path]:
    """Real DICOM files from pydicom, pydicom-data and nibabel (small enough to mutate quickly).

    The folders are listed directly: pydicom's ``get_testdata_files`` may try to download.
    """
    import importlib.util

    import pydicom.data

    roots = [Path(pydicom.data.__file__).parent / "test_files"]
    spec = importlib.util.find_spec("data_store")  # pydicom-data
    if spec is not None and spec.origin:
        roots.append(Path(spec.origin).parent / "data")
    out: list[Path] = []
    for root in roots:
        for p in root.rglob("*"):
            if not p.is_file() or "dicomdirtests" in p.parts or p.name.upper().startswith("DICOMDIR"):
                continue
            if p.stat().st_size > MAX_SEED_BYTES:
                continue
            with open(p, "rb") as f:
                head = f.read(132)
            if head[128:132] == b"DICM" or p.suffix.lower() == ".dcm":
                out.append(p)
    try:
        import nibabel

        nib_data = Path(nibabel.__file__).parent / "nicom" / "tests" / "data"
        out += sorted(nib_data.glob("*.dcm"))
        out += sorted(nib_data.glob("*.dcm.gz"))
    except ImportError:
        pass
    return sorted(set(out))


def seed_bytes(p: Path) -> bytes:
    data = p.read_bytes()
    return gzip.decompress(data) if p.suffix == ".gz" else data


def dicomdir_folder() -> Path | None:
    """pydicom's DICOMDIR test set (a DICOMDIR and the images it lists)."""
    import pydicom.data

    folder = Path(pydicom.data.__file__).parent / "test_files" / "dicomdirtests"
    return folder if (folder / "DICOMDIR").is_file() else None


# ------------------------------------------------------------------------------------------- mutations
def _elements(data: bytes) -> list[tuple[int, int, int]]:
    """(tag offset, value offset, value length) of explicit-VR-looking short elements in ``data``."""
    out = []
    for m in re.finditer(rb"[\x00-\xff]{4}(?:DS|IS|US|UL|CS|UI|LO|SH|FD|FL|SQ|OB|OW)", data):
        i = m.start()
        vr = data[i + 4 : i + 6]
        if vr in (b"SQ", b"OB", b"OW"):
            if i + 12 <= len(data):
                out.append((i, i + 12, struct.unpack_from("<I", data, i + 8)[0]))
        elif i + 8 <= len(data):
            out.append((i, i + 8, struct.unpack_from("<H", data, i + 6)[0]))
    return out


_TEXT_VALUES = [b"abc", b"", b"0", b"-1", b"1e400", b"nan", b"0\\0\\0\\0\\0\\0", b"1\\2", b"99999999", b"\xff\xfe",
                b"-2147483648", b"1\\0\\0\\0\\1\\0\\9", b" " * 64, b"1.2.3\x00", b"\\\\\\\\"]
_HUGE = [0xFFFFFFFF, 0xFFFFFFFE, 0x7FFFFFFF, 0x10000000, 0x00FFFFFF, 0, 1, 7]


def mutate(data: bytes, rng: np.random.Generator, other: bytes | None = None) -> tuple[bytes, str]:
    """One random mutation of ``data``: (mutated bytes, what was done)."""
    b = bytearray(data)
    n = len(b)
    kind = int(rng.integers(0, 9))
    if n < 16:
        return bytes(b) + bytes(rng.integers(0, 256, 16, dtype=np.uint8)), "grow"
    if kind == 0:
        k = int(rng.integers(1, 32))
        for _ in range(k):
            b[int(rng.integers(0, n))] ^= int(rng.integers(1, 256))
        return bytes(b), f"flip {k} bytes"
    if kind == 1:
        cut = int(rng.integers(0, n))
        return bytes(b[:cut]), f"truncate at {cut}"
    if kind == 2:
        i = int(rng.integers(0, max(1, n - 4)))
        v = int(rng.choice(_HUGE))
        b[i : i + 4] = struct.pack("<I", v)
        return bytes(b), f"u32 {v:#x} at {i}"
    els = _elements(bytes(b))
    if kind in (3, 4, 5) and els:
        tag_at, at, length = els[int(rng.integers(0, len(els)))]
        if kind == 3:  # replace the value with text / numbers of another length
            new = _TEXT_VALUES[int(rng.integers(0, len(_TEXT_VALUES)))]
            if len(new) % 2:
                new += b" "
            if at - tag_at == 8:
                b[tag_at + 6 : tag_at + 8] = struct.pack("<H", len(new))
                b[at : at + length] = new
            else:
                b[tag_at + 8 : tag_at + 12] = struct.pack("<I", len(new))
                b[at : at + length] = new
            return bytes(b), f"value {new[:20]!r} at {tag_at}"
        if kind == 4:  # a bad length in an element header
            v = int(rng.choice(_HUGE + [length + 2, max(length - 2, 0), length * 2]))
            if at - tag_at == 8:
                b[tag_at + 6 : tag_at + 8] = struct.pack("<H", v & 0xFFFF)
            else:
                b[tag_at + 8 : tag_at + 12] = struct.pack("<I", v & 0xFFFFFFFF)
            return bytes(b), f"length {v:#x} at {tag_at}"
        # kind 5: an absurd US value (rows, columns, bits, frames...)
        if at + 2 <= n:
            v = int(rng.choice([0, 1, 3, 7, 9, 33, 64, 65535, 32768, 40000]))
            b[at : at + 2] = struct.pack("<H", v)
            return bytes(b), f"u16 {v} at {at}"
    if kind == 6:  # duplicate a chunk (repeated elements, nested items)
        i = int(rng.integers(0, n))
        k = int(rng.integers(1, min(4096, n - i) + 1))
        reps = int(rng.integers(1, 64))
        return bytes(b[: i + k] + b[i : i + k] * reps + b[i + k :]), f"repeat {k} bytes x{reps} at {i}"
    if kind == 7 and other:  # splice another file's bytes in
        i = int(rng.integers(0, n))
        j = int(rng.integers(0, len(other)))
        k = int(rng.integers(1, min(2048, len(other) - j) + 1))
        return bytes(b[:i] + other[j : j + k] + b[i + k :]), f"splice {k} bytes at {i}"
    i = int(rng.integers(0, n))
    k = int(rng.integers(1, 512))
    b[i : i + k] = bytes(len(b[i : i + k]))
    return bytes(b), f"zero {k} bytes at {i}"


# --------------------------------------------------------------------------------------------- child
def _caught(res: dict, exc) -> None:
    """A LoadError made by the loader's safety net (an unexpected exception, with its traceback as detail)."""
    detail = getattr(exc, "detail", "") or ""
    if "Traceback" in detail:
        res["kind"] = "exception"
        res["error"] = "caught by the safety net: " + detail.strip().splitlines()[-1][:300]
        res["where"] = detail[-1500:]


def child_main(mem_bytes: int) -> None:
    """Worker: read a path per line on stdin, scan + load it, write one JSON line per case on stdout."""
    import resource
    import traceback
    import warnings

    warnings.simplefilter("ignore")
    if mem_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
    from meddiag_desktop.io import LoadCancelled, LoadError, load, scan

    out = sys.stdout
    sys.stdout = sys.stderr  # anything a library prints must not break the protocol
    for line in sys.stdin:
        path = line.strip()
        if not path:
            continue
        res: dict = {"path": path, "kind": "ok", "messages": []}
        t0 = time.perf_counter()
        try:
            found = scan(path)
            res["messages"] += [s.reason for s in found.skipped]
            try:
                vol = load(path)
                res["shape"] = list(vol.array.shape)
            except LoadError as exc:
                res["kind"] = "load_error"
                res["messages"].append(str(exc))
                _caught(res, exc)
            single = Path(path).is_file() and Path(path).name != "DICOMDIR"
            for s in ([] if single else list(found)[:4]):  # each series found loads or raises LoadError
                try:
                    load(s)
                except LoadError as exc:
                    res["messages"].append(str(exc))
                    _caught(res, exc)
        except (LoadError, LoadCancelled) as exc:
            res["kind"] = "load_error"
            res["messages"].append(str(exc))
        except MemoryError:
            res["kind"] = "blowup"
            res["error"] = "MemoryError under the address-space cap"
        except RecursionError as exc:
            res["kind"] = "exception"
            res["error"] = f"RecursionError: {str(exc)[:200]}"
        except Exception as exc:
            res["kind"] = "exception"
            res["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
            res["where"] = traceback.format_exc()[-1500:]
        res["seconds"] = round(time.perf_counter() - t0, 3)
        res["maxrss_mb"] = _peak_rss_mb()
        out.write(json.dumps(res) + "\n")
        out.flush()


def _peak_rss_mb() -> int:
    """This process's peak resident memory since it started, MB.

    ``VmHWM`` belongs to the process image, so it starts afresh at ``exec``; ``ru_maxrss``
    does not: a child forked from a large parent (pytest with torch loaded) inherits the
    parent's resident size as its high-water mark and would count every case as a blow-up.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


class Child:
    """A long-lived worker process in its own process group (its decode workers die with it)."""

    def __init__(self, mem_bytes: int) -> None:
        env = dict(os.environ)
        self.proc = subprocess.Popen(
            [sys.executable, "-W", "ignore", str(Path(__file__).resolve()), "--child", str(mem_bytes)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
            start_new_session=True, bufsize=1,
        )

    def run(self, path: Path, timeout: float) -> dict | None:
        """The child's answer, or None when it died or did not answer in time (it is then killed)."""
        try:
            self.proc.stdin.write(f"{path}\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        line = self.proc.stdout.readline()
        return json.loads(line) if line else None

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()

    def died(self) -> str:
        code = self.proc.poll()
        if code is None:
            return ""
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exited with status {code}"


# ------------------------------------------------------------------------------------------- harness
class Cases:
    """Case ``k`` made on demand (the 10,000 cases are never all in memory), reproducibly from (seed, k)."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed = n, seed
        self.seeds = seed_files()
        self.blobs = [seed_bytes(p) for p in self.seeds]
        dd = dicomdir_folder()
        self.dicomdir = (dd / "DICOMDIR").read_bytes() if dd is not None else None

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, k: int) -> tuple[Path, str, bytes, str]:
        """(path to pass to scan/load, seed name, mutated bytes, mutation)."""
        rng = np.random.default_rng([self.seed, k])
        if self.dicomdir is not None and k % 25 == 0:  # a DICOMDIR case
            m, what = mutate(self.dicomdir, rng)
            return Path("DICOMDIR"), "DICOMDIR", m, what
        i = int(rng.integers(0, len(self.blobs)))
        other = self.blobs[int(rng.integers(0, len(self.blobs)))]
        data, what = mutate(self.blobs[i], rng, other)
        if rng.random() < 0.2:  # stack mutations
            data, w2 = mutate(data, rng, other)
            what += "; " + w2
        return Path(f"case{k}.dcm"), self.seeds[i].name, data, what


def run(n: int, seed: int, jobs: int, timeout: float, mem_bytes: int, rss_mb: int, out: Path, quiet: bool = False,
        slow: float = 5.0) -> dict:
    """Run ``n`` cases; return the counts and write reproducers under ``out``."""
    work = out / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    dd = dicomdir_folder()
    cases = Cases(n, seed)
    counts = {"cases": n, "ok": 0, "load_error": 0, "crash": 0, "hang": 0, "blowup": 0, "exception": 0, "raw_message": 0,
              "slow": 0}
    findings: list[dict] = []
    slots = []
    for j in range(jobs):
        wdir = work / f"w{j}"
        wdir.mkdir()
        if dd is not None:
            shutil.copytree(dd, wdir / "cd", ignore=shutil.ignore_patterns("DICOMDIR-*"))
        slots.append({"child": Child(mem_bytes), "dir": wdir})
    t0 = time.monotonic()
    pending = list(range(n))
    slowest = (0.0, "")

    def record(kind: str, k: int, case, detail: str) -> None:
        counts[kind] += 1
        rep = out / kind
        rep.mkdir(parents=True, exist_ok=True)
        name = f"{kind}_{seed}_{k}_{case[1].replace('.', '_')}"  # rebuild with Cases(n, seed)[k]
        (rep / f"{name}.dcm").write_bytes(case[2])
        (rep / f"{name}.txt").write_text(f"seed file: {case[1]}\nmutation: {case[3]}\n{'DICOMDIR case' if case[1] == 'DICOMDIR' else ''}\n{detail}\n")
        findings.append({"kind": kind, "case": k, "seed": case[1], "detail": detail[:300]})
        if not quiet:
            print(f"[{kind}] case {k} ({case[1]}: {case[3]}): {detail[:200]}", flush=True)

    # simple round robin: each slot runs its case synchronously; jobs > 1 overlap via threads
    import threading

    lock = threading.Lock()

    def worker(slot) -> None:
        nonlocal slowest
        while True:
            with lock:
                if not pending:
                    return
                k = pending.pop(0)
            case = cases[k]
            if case[1] == "DICOMDIR":
                path = slot["dir"] / "cd" / "DICOMDIR"
            else:
                path = slot["dir"] / case[0]
            path.write_bytes(case[2])
            res = slot["child"].run(path, timeout)
            if res is None:
                how = slot["child"].died()
                slot["child"].kill()
                with lock:
                    if how:
                        record("crash", k, case, f"the child {how}")
                    else:
                        record("hang", k, case, f"no answer within {timeout:g} s")
                slot["child"] = Child(mem_bytes)
            else:
                with lock:
                    if res["seconds"] > slowest[0]:
                        slowest = (res["seconds"], f"case {k} ({case[1]}: {case[3]})")
                    kind = res["kind"]
                    if kind in ("exception", "blowup"):
                        record(kind, k, case, res.get("error", "") + "\n" + res.get("where", ""))
                    else:
                        counts[kind] += 1
                        raw = [m for m in res["messages"] if RAW_TEXT.search(m)]
                        if raw:
                            record("raw_message", k, case, raw[0])
                        oom = [m for m in res["messages"] if "does not fit in memory" in m]
                        if oom:  # a decoder hit the address-space cap: a blow-up the cap turned into an error
                            record("blowup", k, case, oom[0])
                    if res["seconds"] > slow:
                        record("slow", k, case, f"{res['seconds']:.1f} s ({kind}): {(res['messages'] or [''])[-1][:200]}")
                    if res["maxrss_mb"] > rss_mb:
                        record("blowup", k, case, f"peak RSS {res['maxrss_mb']} MB (> {rss_mb} MB)")
                        slot["child"].kill()
                        slot["child"] = Child(mem_bytes)
            if case[1] != "DICOMDIR":
                path.unlink(missing_ok=True)
            else:
                shutil.copy(dd / "DICOMDIR", path)
            done = n - len(pending)
            if not quiet and done % 500 == 0:
                print(f"  {done}/{n} cases, {time.monotonic() - t0:.0f} s", flush=True)

    threads = [threading.Thread(target=worker, args=(s,)) for s in slots]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in slots:
        s["child"].kill()
    counts["seconds"] = round(time.monotonic() - t0, 1)
    counts["slowest_case_s"] = slowest[0]
    counts["slowest_case"] = slowest[1]
    (out / "summary.json").write_text(json.dumps({"counts": counts, "findings": findings}, indent=1))
    shutil.rmtree(work, ignore_errors=True)
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=45.0,
                    help="seconds a case may take before it counts as a hang (the loader stops a decoder after 15 s)")
    ap.add_argument("--mem", type=int, default=3072, help="address-space cap of each child, MB")
    ap.add_argument("--rss", type=int, default=1024, help="peak resident memory counted as a blow-up, MB")
    ap.add_argument("--slow", type=float, default=5.0, help="seconds after which a case is listed as slow")
    ap.add_argument("--out", type=Path, default=Path("fuzz_out"))
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        child_main(args.child)
        return 0
    counts = run(args.cases, args.seed, args.jobs, args.timeout, args.mem * 2**20, args.rss, args.out, slow=args.slow)
    print(json.dumps(counts, indent=1))
    bad = sum(counts[k] for k in ("crash", "hang", "blowup", "exception", "raw_message"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
