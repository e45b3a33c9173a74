"""The one thing pyproject.toml cannot say: protocol._native, the tracked map's write in C.

It is optional: where no C compiler is found the build goes on without it, and protocol.tracked
runs its own Python instead (``protocol.tracked.NATIVE`` then reads False). scripts/setup
installs a compiler on Debian so that the project's own machines always build it.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "protocol._native",
            sources=["protocol/_native.c"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Werror"],
            optional=True,
        )
    ]
)
