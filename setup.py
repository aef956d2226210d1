"""Build the Cython extensions.

ENGINE_DEBUG=1 compiles bounds checks, wraparound checks and the engine's internal
consistency checks (ENGINE_CHECK) back in, without optimisation; the test suite runs
once against such a build.
"""
import logging
import os
import tempfile
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CompileError

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

# GCC's inlining budget for the extension as a whole: a module this size uses up its default
# allowance before the batch loop, and the messages most streams are made of (Book._process_plain
# in engine/_book.pyx, with the queue operations it calls) would each pay for calls.  Other
# compilers, or a GCC that does not know these parameters, build without them.
INLINING = ["--param", "inline-unit-growth=100", "--param", "max-inline-insns-single=400"]


def _accepts(compiler, flags):
    """Does `compiler` compile a C file with `flags` and no warning?"""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder, "probe.c")
        source.write_text("int main(void) { return 0; }\n")
        try:
            compiler.compile([str(source)], output_dir=folder, extra_postargs=flags + ["-Werror"])
        except CompileError:
            return False
    return True


class BuildExt(build_ext):
    def build_extensions(self):
        if not DEBUG:                   # the debug build is not optimised at all
            self._give_inlining_budget()
        super().build_extensions()

    def _give_inlining_budget(self):
        if not _accepts(self.compiler, INLINING):
            logging.getLogger("setup").warning(
                "the compiler does not take %s: building without it, the batch path is slower",
                " ".join(INLINING))
            return
        for extension in self.extensions:
            if INLINING[1] not in extension.extra_compile_args:
                extension.extra_compile_args += INLINING


setup(
    ext_modules=cythonize(extensions, compiler_directives=directives,
                          build_dir="build/debug-c" if DEBUG else None),
    cmdclass={"build_ext": BuildExt},
)
