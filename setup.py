"""Build the Cython extensions.

ENGINE_DEBUG=1 compiles bounds checks, wraparound checks and the engine's internal
consistency checks (ENGINE_CHECK) back in, without optimisation; the test suite runs
once against such a build.
"""
import os
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("ENGINE_DEBUG", "") not in ("", "0")

directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "cdivision": True,
    "initializedcheck": DEBUG,
    "embedsignature": True,
}

# Every engine/**/*.pyx is an extension named after its path (engine/_book.pyx -> engine._book).
extensions = [
    Extension(
        ".".join(path.with_suffix("").parts),
        [str(path)],
        include_dirs=[np.get_include(), "."],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"),
                       ("ENGINE_DEBUG", "1" if DEBUG else "0")],
        extra_compile_args=["-O0", "-g", "-UNDEBUG"] if DEBUG else ["-O3"],
    )
    for path in sorted(Path("engine").rglob("*.pyx"))
]

setup(
    ext_modules=cythonize(extensions, compiler_directives=directives,
                          build_dir="build/debug-c" if DEBUG else None),
)
