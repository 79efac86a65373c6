"""``convcalc devices measure``: this machine's peak FLOP/s per dtype, memory bandwidth and
per-operation overhead, measured with torch (preferred) or numpy, written as a profile file.

Neither library is a dependency: they are imported here only, when a measurement is asked for.

Method (best of several repetitions everywhere; the best is the figure a roofline needs):

* **peak** per dtype: square matrix multiplies n x n x n (2 n^3 operations), n doubling from
  256 to ``max_size`` (or until one multiply takes over a second); the best rate over sizes.
  A small matmul does not reach the peak, so a bigger one is always tried while time allows.
  torch: fp64, fp32, fp16, bf16 and int8 (``torch._int_mm``), and tf32 on CUDA GPUs that have
  it; a dtype the library cannot multiply on this device is skipped and said so. numpy: fp64
  and fp32 (its BLAS); it has no fast fp16 or int8 multiply.
* **bandwidth**: a copy (``b = a``: reads S, writes S bytes) and an add (``b = a + c``: reads
  2S, writes S) of S-byte buffers, S = ``copy_bytes`` (default 512 MiB on a CPU and 2 GiB on a
  GPU, at most 1/16 of the memory: larger than the last-level caches of most machines, so the
  figure is main memory's); the best useful bytes per second of the two. On a CPU the buffers
  are streamed in 16 MiB chunks, each timed alone (robust to preemption on a busy machine). Write-allocate traffic (reading a line before writing it) is
  not counted, as convcalc's traffic does not count it. numpy's loops run on one thread only:
  prefer torch.
* **launch_overhead**: the shortest time per operation of 1,000 adds of one-element tensors
  issued back to back (the framework's fixed cost per call; on a GPU, per kernel launch).

Figures are rounded to 4 significant digits (the overhead down to whole nanoseconds).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from ..errors import ConvcalcError

INSTALL = "pip install torch (or: pip install numpy)"
DTYPES = ("fp64", "fp32", "tf32", "fp16", "bf16", "int8")
MIN_SIZE = 256
SLOW_S = 1.0  # stop growing the matmul once one run takes this long
OVERHEAD_OPS = 1000
MiB = 2**20
CPU_CHUNK = 16 * MiB  # bandwidth: bytes per timed copy on a CPU
MAX_REPEATS = 1000
MAX_SIZE = 65536


@dataclass
class Measurement:
    library: str  # "torch 2.13.0"
    device: str  # "cpu", "cuda:0 (NVIDIA H200)"
    threads: int | None
    repeats: int
    peak: dict[str, tuple[int, str]] = field(default_factory=dict)  # dtype -> (ops/s, how)
    skipped: dict[str, str] = field(default_factory=dict)  # dtype -> why
    bandwidth: tuple[int, str] = (0, "")
    launch_overhead: tuple[Fraction, str] | None = None
    load: tuple[float, float] | None = None  # (load average before, after), where the OS tells


def busy(m: Measurement) -> str:
    """A warning when other work competed for the CPUs while measuring ("" when quiet)."""
    import os

    if m.load is None:
        return ""
    cpus = os.cpu_count() or 1
    worst = max(m.load)
    if worst <= 0.5 * cpus:
        return ""
    return (
        f"the 1-minute load average was {m.load[0]:.1f} before and {m.load[1]:.1f} after measuring, on "
        f"{cpus} CPUs: other work competed, so the figures may be low; measure again on a quiet machine"
    )


def _loadavg() -> float | None:
    import os

    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def round_sig(x: float, digits: int = 4) -> int:
    """A positive rate rounded to ``digits`` significant digits, as an exact integer."""
    if x <= 0 or not math.isfinite(x):
        raise ValueError(f"not a positive rate: {x}")
    e = math.floor(math.log10(x)) - digits + 1
    if e <= 0:
        return max(1, round(x))
    return round(x / 10**e) * 10**e


def best_of(fn: Callable[[], Any], repeats: int, sync: Callable[[], None]) -> float:
    """The shortest of ``repeats`` timed runs (after one untimed warm-up), in seconds."""
    fn()
    sync()
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - t0)
    return max(best, 1e-9)


def choose_library(library: str = "auto") -> str:
    """``torch`` or ``numpy``: the one asked for, or the first installed; else exit 2."""
    import importlib.util

    wanted = ("torch", "numpy") if library == "auto" else (library,)
    if library not in ("auto", "torch", "numpy"):
        raise ConvcalcError(f"--library {library}: use auto, torch or numpy")
    for name in wanted:
        if importlib.util.find_spec(name) is not None:
            return name
    if library == "auto":
        raise ConvcalcError(f"measuring needs torch or numpy, and neither is installed: {INSTALL}")
    raise ConvcalcError(f"--library {library}: {library} is not installed: pip install {library}")


def measure(
    library: str = "auto",
    on: str = "auto",
    max_size: int | None = None,
    copy_bytes: int | None = None,
    repeats: int = 5,
    dtypes: tuple[str, ...] | None = None,
    threads: int | None = None,
) -> Measurement:
    """Measure this machine (see the module docstring). ``dtypes``: default all that the device
    may have (tf32 on CUDA only). ``threads``: torch's CPU threads (default: torch's own)."""
    if not 1 <= repeats <= MAX_REPEATS:
        raise ConvcalcError(f"--repeats {repeats}: must be 1 to {MAX_REPEATS}")
    if max_size is not None and not 8 <= max_size <= MAX_SIZE:
        raise ConvcalcError(f"--max-size {max_size}: must be 8 to {MAX_SIZE}")
    if copy_bytes is not None and copy_bytes < 4096:
        raise ConvcalcError(f"--copy-size {copy_bytes}: must be at least 4096 bytes")
    if copy_bytes is not None and 3 * copy_bytes > _ram_bytes() // 2:
        raise ConvcalcError(
            f"--copy-size {copy_bytes:,}: the three buffers would take more than half of this "
            f"machine's memory ({_ram_bytes():,} bytes)"
        )
    bad = [d for d in dtypes or () if d not in DTYPES]
    if bad:
        raise ConvcalcError(f"--dtypes: unknown {', '.join(bad)} (use {', '.join(DTYPES)})")
    if threads is not None and threads < 1:
        raise ConvcalcError(f"--threads {threads}: must be >= 1")
    lib = choose_library(library)
    if lib == "torch":
        return _Torch(on, threads).run(max_size, copy_bytes, repeats, dtypes)
    if threads is not None:
        raise ConvcalcError("--threads: numpy's BLAS threads are set by its environment (OMP_NUM_THREADS)")
    if on not in ("auto", "cpu"):
        raise ConvcalcError(f"--on {on}: numpy measures the CPU only (torch measures GPUs)")
    return _Numpy().run(max_size, copy_bytes, repeats, dtypes)


class _Backend:
    library = ""
    device = "cpu"
    threads: int | None = None

    def sync(self) -> None:
        pass

    def matmul(self, dtype: str, n: int) -> Callable[[], Any] | None:  # pragma: no cover
        raise NotImplementedError

    def buffers(self, nbytes: int, chunk: int) -> list[tuple[Callable[[], Any], Callable[[], Any]]]:
        """(copy, add) of each ``chunk``-byte slice of three ``nbytes`` buffers."""
        raise NotImplementedError  # pragma: no cover

    def tiny_add(self) -> Callable[[], Any]:  # pragma: no cover
        raise NotImplementedError

    def default_size(self) -> int:
        return 4096

    def default_copy(self) -> int:
        return min(512 * MiB, max(16 * MiB, _ram_bytes() // 16))

    def run(
        self, max_size: int | None, copy_bytes: int | None, repeats: int, dtypes: tuple[str, ...] | None
    ) -> Measurement:
        m = Measurement(self.library, self.device, self.threads, repeats)
        before = _loadavg()
        if dtypes is None:
            dtypes = tuple(d for d in DTYPES if d != "tf32" or self.device.startswith("cuda"))
        top = max_size or self.default_size()
        for dtype in dtypes:
            self.peak(m, dtype, top, repeats)
        self.bandwidth(m, copy_bytes or self.default_copy(), repeats)
        self.overhead(m, repeats)
        after = _loadavg()
        if before is not None and after is not None:
            m.load = (before, after)
        return m

    def peak(self, m: Measurement, dtype: str, top: int, repeats: int) -> None:
        n = min(MIN_SIZE, top)
        best, best_n, last = 0.0, 0, n
        while True:
            try:
                fn = self.matmul(dtype, n)
                if fn is None:
                    m.skipped[dtype] = f"{self.library} has no {dtype} matrix multiply on {self.device}"
                    return
                t = best_of(fn, repeats, self.sync)
            except Exception as e:  # the library cannot do this dtype here, or n is too large
                if best:  # out of memory at a larger size: keep what the smaller ones reached
                    break
                m.skipped[dtype] = f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"
                return
            last = n
            rate = 2 * n**3 / t
            if rate > best:
                best, best_n = rate, n
            if n >= top or t > SLOW_S:
                break
            n = min(2 * n, top)
        n = last
        unit = "OP/s" if dtype == "int8" else "FLOP/s"
        m.peak[dtype] = (
            round_sig(best),
            f"{dtype}: {best / 1e9:,.1f} G{unit}, matmul {best_n}x{best_n}x{best_n}, best of {repeats}"
            f" at each size from {min(MIN_SIZE, top)} to {n}",
        )

    def chunk_bytes(self, nbytes: int) -> int:
        """CPU: stream through the buffers in chunks short enough to run between two preemptions
        on a busy machine (each chunk still comes from main memory: the buffers are larger than
        the caches and each pass touches every chunk once). GPU: whole buffers."""
        return min(nbytes, CPU_CHUNK)

    def bandwidth(self, m: Measurement, nbytes: int, repeats: int) -> None:
        chunk = max(4096, self.chunk_bytes(nbytes))
        try:
            ops = self.buffers(nbytes, chunk)
        except (MemoryError, RuntimeError) as e:  # torch reports out-of-memory as RuntimeError
            raise ConvcalcError(
                f"--copy-size {nbytes:,}: cannot allocate three buffers of that size on {self.device} "
                f"({type(e).__name__}); give a smaller --copy-size"
            ) from None
        times = [math.inf, math.inf]  # copy, add: the best time of one chunk
        for rep in range(repeats + 1):  # the first pass warms up (page faults), untimed
            for which in (0, 1):
                for pair in ops:
                    fn = pair[which]
                    self.sync()
                    t0 = time.perf_counter()
                    fn()
                    self.sync()
                    if rep:
                        times[which] = min(times[which], time.perf_counter() - t0)
        copy_rate, add_rate = 2 * chunk / max(times[0], 1e-9), 3 * chunk / max(times[1], 1e-9)
        best = max(copy_rate, add_rate)
        how = (
            f"{_size(nbytes)} buffers"
            if chunk >= nbytes
            else f"{_size(nbytes)} buffers in {_size(chunk)} chunks"
        )
        m.bandwidth = (
            round_sig(best),
            f"bandwidth: {best / 1e9:,.2f} GB/s, the best of a copy ({copy_rate / 1e9:,.2f} GB/s, "
            f"reads and writes S) and an add ({add_rate / 1e9:,.2f} GB/s, reads 2S, writes S) over {how},"
            f" best of {repeats} passes",
        )

    def overhead(self, m: Measurement, repeats: int) -> None:
        op = self.tiny_add()

        def many() -> None:
            for _ in range(OVERHEAD_OPS):
                op()

        t = best_of(many, repeats, self.sync) / OVERHEAD_OPS
        ns = max(1, int(t * 1e9))  # down: a lower bound stays one
        m.launch_overhead = (
            Fraction(ns, 10**9),
            f"launch_overhead: {ns} ns per operation, {OVERHEAD_OPS} one-element adds back to back, "
            f"best of {repeats}",
        )


class _Torch(_Backend):
    def __init__(self, on: str, threads: int | None = None):
        import torch

        self.torch = torch
        if threads is not None:
            torch.set_num_threads(threads)
        self.library = f"torch {torch.__version__}"
        if on == "auto":
            if torch.cuda.is_available():
                on = "cuda"
            elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
                on = "mps"
            else:
                on = "cpu"
        if on not in ("cpu", "cuda", "mps"):
            raise ConvcalcError(f"--on {on}: use auto, cpu, cuda or mps")
        if on == "cuda" and not torch.cuda.is_available():
            raise ConvcalcError("--on cuda: torch sees no CUDA device here")
        if on == "mps" and not (
            getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
        ):
            raise ConvcalcError("--on mps: torch sees no Apple GPU (MPS) here")
        self.dev = torch.device(on)
        self.device = on
        if on == "cuda":
            self.device = f"cuda:{torch.cuda.current_device()} ({torch.cuda.get_device_name()})"
        self.threads = torch.get_num_threads() if on == "cpu" else None
        self.on = on

    def sync(self) -> None:
        if self.on == "cuda":
            self.torch.cuda.synchronize()
        elif self.on == "mps":
            self.torch.mps.synchronize()

    def default_size(self) -> int:
        return 4096 if self.on == "cpu" else 16384

    def default_copy(self) -> int:
        if self.on == "cuda":  # three buffers: at most 3/16 of the GPU's memory
            total = self.torch.cuda.get_device_properties(self.torch.cuda.current_device()).total_memory
            return min(2048 * MiB, max(16 * MiB, total // 16 // MiB * MiB))
        if self.on == "mps":  # unified memory: as the CPU
            return min(1024 * MiB, max(16 * MiB, _ram_bytes() // 16))
        return super().default_copy()

    def matmul(self, dtype: str, n: int) -> Callable[[], Any] | None:
        torch = self.torch
        if dtype == "int8":
            if not hasattr(torch, "_int_mm"):
                return None
            a = torch.randint(-128, 127, (n, n), dtype=torch.int8, device=self.dev)
            b = torch.randint(-128, 127, (n, n), dtype=torch.int8, device=self.dev)
            torch._int_mm(a[:64, :64].contiguous(), b[:64, :64].contiguous())  # raises where unsupported
            return lambda: torch._int_mm(a, b)
        if dtype == "tf32":
            if self.on != "cuda" or torch.cuda.get_device_capability()[0] < 8:
                return None
            a = torch.randn(n, n, device=self.dev)
            b = torch.randn(n, n, device=self.dev)

            def tf32() -> Any:
                old = torch.backends.cuda.matmul.allow_tf32
                torch.backends.cuda.matmul.allow_tf32 = True
                try:
                    return a @ b
                finally:
                    torch.backends.cuda.matmul.allow_tf32 = old

            return tf32
        dt = {"fp64": torch.float64, "fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[
            dtype
        ]
        a = torch.randn(n, n, device=self.dev).to(dt)
        b = torch.randn(n, n, device=self.dev).to(dt)
        (a[:64, :64].contiguous() @ b[:64, :64].contiguous()).sum().item()  # raises where unsupported
        if dtype == "fp32" and self.on == "cuda":

            def fp32() -> Any:  # true fp32, whatever the user's TF32 setting
                old = torch.backends.cuda.matmul.allow_tf32
                torch.backends.cuda.matmul.allow_tf32 = False
                try:
                    return a @ b
                finally:
                    torch.backends.cuda.matmul.allow_tf32 = old

            return fp32
        return lambda: a @ b

    def chunk_bytes(self, nbytes: int) -> int:
        return nbytes if self.on != "cpu" else min(nbytes, CPU_CHUNK)

    def buffers(self, nbytes: int, chunk: int) -> list[tuple[Callable[[], Any], Callable[[], Any]]]:
        torch = self.torch
        n, k = nbytes // 4, chunk // 4
        a = torch.ones(n, device=self.dev)
        c = torch.ones(n, device=self.dev)
        b = torch.zeros(n, device=self.dev)

        def pair(i: int) -> tuple[Callable[[], Any], Callable[[], Any]]:
            sa, sb, sc = a[i : i + k], b[i : i + k], c[i : i + k]
            return (lambda: sb.copy_(sa)), (lambda: torch.add(sa, sc, out=sb))

        return [pair(i) for i in range(0, n - k + 1, k)]

    def tiny_add(self) -> Callable[[], Any]:
        torch = self.torch
        x = torch.ones(1, device=self.dev)
        y = torch.ones(1, device=self.dev)
        z = torch.empty(1, device=self.dev)
        return lambda: torch.add(x, y, out=z)


class _Numpy(_Backend):
    def __init__(self) -> None:
        import numpy

        self.np = numpy
        self.library = f"numpy {numpy.__version__}"
        self.threads = None

    def matmul(self, dtype: str, n: int) -> Callable[[], Any] | None:
        np = self.np
        if dtype not in ("fp64", "fp32"):
            return None
        rng = np.random.default_rng(0)
        dt = np.float64 if dtype == "fp64" else np.float32
        a = rng.standard_normal((n, n)).astype(dt)
        b = rng.standard_normal((n, n)).astype(dt)
        return lambda: a @ b

    def buffers(self, nbytes: int, chunk: int) -> list[tuple[Callable[[], Any], Callable[[], Any]]]:
        np = self.np
        n, k = nbytes // 4, chunk // 4
        a = np.ones(n, np.float32)
        c = np.ones(n, np.float32)
        b = np.zeros(n, np.float32)

        def pair(i: int) -> tuple[Callable[[], Any], Callable[[], Any]]:
            sa, sb, sc = a[i : i + k], b[i : i + k], c[i : i + k]
            return (lambda: np.copyto(sb, sa)), (lambda: np.add(sa, sc, out=sb))

        return [pair(i) for i in range(0, n - k + 1, k)]

    def tiny_add(self) -> Callable[[], Any]:
        np = self.np
        x, y, z = np.ones(1), np.ones(1), np.empty(1)
        return lambda: np.add(x, y, out=z)


def _ram_bytes() -> int:
    """This machine's physical memory (8 GiB when the OS does not say)."""
    import os

    try:
        n = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 8 * 2**30
    return n if n > 0 else 8 * 2**30


def _size(nbytes: int) -> str:
    if nbytes % MiB == 0:
        return f"{nbytes // MiB} MiB"
    if nbytes % 1024 == 0:
        return f"{nbytes // 1024} KiB"
    return f"{nbytes} bytes"


def profile_yaml(m: Measurement, name: str | None = None, when: str | None = None) -> str:
    """The measurement as a profile file (valid input for ``load_profile``)."""
    import json
    import platform

    from .. import __version__
    from . import duration_text, si_text

    if not m.peak:
        raise ConvcalcError(
            "no dtype could be measured: " + "; ".join(f"{d}: {why}" for d, why in m.skipped.items())
        )
    device = m.device + (f", {m.threads} thread{'s' if m.threads != 1 else ''}" if m.threads else "")
    name = name or f"this machine ({platform.machine() or 'unknown'} {m.device.split(' ')[0]}, {m.library})"
    when = when or time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    q = json.dumps  # a JSON string is a valid YAML double-quoted scalar
    lines = [
        f"# Measured by `convcalc devices measure` (convcalc {__version__}), {when}:",
        f"# {m.library} on {device}. Dense peaks from matrix multiplies, bandwidth from a copy and an",
        "# add of large buffers, best of several runs (see `convcalc devices measure --help`).",
        f"name: {q(name)}",
        "peak:",
    ]
    lines += [f"  {d}: {si_text(v)}" for d, (v, _) in m.peak.items()]
    lines.append(f"bandwidth: {si_text(m.bandwidth[0])}")
    if m.launch_overhead is not None:
        lines.append(f"launch_overhead: {duration_text(m.launch_overhead[0])}")
    lines += [
        "source:",
        f"  document: {q(f'measured by convcalc devices measure, {when}: {m.library} on {device}')}",
        "  figures:",
    ]
    lines += [f"    - {q(how)}" for _, how in m.peak.values()]
    lines.append(f"    - {q(m.bandwidth[1])}")
    if m.launch_overhead is not None:
        lines.append(f"    - {q(m.launch_overhead[1])}")
    if m.skipped:
        lines.append("  unconfirmed:")
        lines += [f"    - {q(f'{d}: not measured ({why})')}" for d, why in m.skipped.items()]
    note = (
        "Rounded to 4 significant digits. A measured peak is what this library reaches on this "
        "machine, not the hardware's datasheet figure; measure again after changing threads or clocks."
    )
    warning = busy(m)
    if warning:
        note = f"Warning: {warning}. {note}"
    lines.append("notes: " + q(note))
    return "\n".join(lines) + "\n"
