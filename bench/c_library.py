"""Build a C file of bench/ into a shared library and load it with ctypes.

The C in bench/ (the flat C book, the memory-latency probe) is not part of firesale: it is
built on first use, with the C compiler that builds Python's extensions at firesale's release
optimisation, into ``bench/.data``, and built again whenever its source or the flags change.
"""
import ctypes
import hashlib
import os
import shlex
import subprocess
import sysconfig
from pathlib import Path

BUILD_DIR = Path(__file__).resolve().parent / ".data"


def build_command():
    """Python's compiler with firesale's release optimisation.  (setuptools also gives the
    extension Python's own CFLAGS, such as -fwrapv and -g; the figures in the README and
    bench/NOTES.md were taken with the C in bench/ built this way, without them.)"""
    return shlex.split(sysconfig.get_config_var("CC") or "cc") + ["-O3", "-fPIC", "-shared"]


def load(source, signatures):
    """`source` (a path to a .c file) built and loaded: a ``ctypes.CDLL`` whose functions
    named in `signatures` ({name: (restype, argtypes)}) take and return those types."""
    source = Path(source)
    command = build_command()
    stamp = hashlib.sha256(source.read_bytes() + " ".join(command).encode()).hexdigest()[:16]
    target = BUILD_DIR / f"{source.stem}-{stamp}.so"
    if not target.exists():
        BUILD_DIR.mkdir(parents=True, exist_ok=True)
        partial = BUILD_DIR / f"partial-{os.getpid()}-{source.stem}.so"   # builds at once don't clash
        done = subprocess.run(command + ["-o", str(partial), str(source)], capture_output=True,
                              text=True)
        if done.returncode:
            raise RuntimeError(f"cannot build {source.name}:\n{done.stderr}")
        partial.replace(target)
        for old in BUILD_DIR.glob(f"{source.stem}-*.so"):      # builds of earlier sources
            if old != target:
                old.unlink(missing_ok=True)
    lib = ctypes.CDLL(str(target))
    for name, (result, args) in signatures.items():
        function = getattr(lib, name)
        function.restype, function.argtypes = result, args
    return lib
