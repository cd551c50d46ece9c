"""Build payswitch: the Python packages plus the Cython hot-path modules in fastpath/.

A failed extension build is reported and skipped rather than fatal (DESIGN.md: without the
extensions the pure-Python twins run, only slower); PAYSWITCH_REQUIRE_EXT=1 makes it fatal.
"""

import os
import sys

from setuptools import find_packages, setup
from setuptools.command.build_ext import build_ext

try:
    from Cython.Build import cythonize
except ImportError:  # only when someone bypasses the pyproject build-system
    cythonize = None

TOP_LEVEL = ["switch", "adapters", "routing", "accounting", "messages", "fastpath", "simulators",
             "bench"]

# One .pyx per hot-path concern; each has a pure twin named _<module>_py.py.
FASTPATH_MODULES = ["fastpath/_framescan.pyx", "fastpath/_route.pyx", "fastpath/_mttok.pyx"]


class OptionalBuildExt(build_ext):
    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:
            self._skip(exc)

    def build_extension(self, ext) -> None:  # type: ignore[no-untyped-def]
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._skip(exc)

    @staticmethod
    def _skip(exc: Exception) -> None:
        if os.environ.get("PAYSWITCH_REQUIRE_EXT") == "1":
            raise exc
        print(f"payswitch: Cython extension not built ({exc}); pure-Python twins will run",
              file=sys.stderr)


ext_modules = []
if cythonize is not None:
    ext_modules = cythonize(
        FASTPATH_MODULES,
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    )

setup(
    name="payswitch",
    version="0.1.0",
    description="Payment clearing and settlement switch",
    python_requires=">=3.11",
    # Every subpackage of the top-level folders, so a new one cannot be forgotten here.
    packages=find_packages(include=[f"{top}*" for top in TOP_LEVEL]),
    package_data={"fastpath": ["*.pyi", "*.pxd", "*.pyx", "py.typed"],
                  "switch": ["*.toml"], "routing": ["*.toml"],
                  "accounting": ["*.toml"], "simulators": ["*.toml"]},
    ext_modules=ext_modules,
    cmdclass={"build_ext": OptionalBuildExt},
    install_requires=[
        "msgspec>=0.18",
        "lxml>=5.0",
        "asyncpg>=0.29",
        "uvloop>=0.19",
        "rich>=13.0",
        "prometheus-client>=0.20",  # the metrics endpoint: the standard exposition, not ours
    ],
    extras_require={
        "test": [
            "pytest>=8.0",
            "pytest-asyncio>=1.4",  # pytest_asyncio_loop_factories (uvloop)
            "pytest-benchmark>=4.0",
            "pytest-timeout>=2.0",
            "pyiso8583>=4.0",  # an ISO 8583 codec we did not write: cross-checks and bench
            "mt-940>=5.0",  # independent MT940 parser: cross-checks and bench.mt
            "mt103>=1.1",  # independent MT103 parser: cross-checks and bench.mt
            "pyiso20022>=1.6",  # xsdata ISO 20022 bindings: the pacs.008 peer of bench.messages
            "xsdata[lxml]>=24.1",  # pyiso20022's bindings import it but do not declare it
            "hypothesis>=6.100",
            "ruff>=0.5",
            "mypy>=1.10",
            "lxml-stubs",
            "cython>=3.0",
            "pyyaml>=6.0",  # reads the Prometheus alert rules file in tests
            "trustme>=1.1",  # throw-away CA and certificates for the TLS tests
            "hdrhistogram>=0.10",  # the load generator's latency histograms, mergeable
            "coverage>=7.4",  # per-test coverage contexts: the map `regress impact` reads
        ],
        # coverage-guided fuzzing (libFuzzer): tests/fuzz_atheris.py, the slow fuzz tests
        "fuzz": ["atheris>=2.3"],
    },
    entry_points={"console_scripts": ["payswitch=switch.cli:main"]},
)
