"""The one thing pyproject.toml cannot say: protocol._native, three hot paths of the protocol in
C (a tracked map's write, the delta renderer, the INPUT decoder; see protocol/native.py).

It is optional: where no C compiler is found the build goes on without it, and the protocol
runs its Python code instead (``protocol.native.NATIVE`` then reads False). scripts/setup
installs a compiler on Debian so that the project's own machines always build it.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "protocol._native",
            sources=["protocol/_native.c", "protocol/_native_delta.c", "protocol/_native_input.c"],
            depends=["protocol/_native.h", "protocol/_native_slot.h"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Werror"],
            optional=True,
        ),
        Extension(
            "game_server._native",
            sources=["game_server/_native.c"],
            include_dirs=["protocol"],
            depends=["protocol/_native_slot.h"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Werror"],
            optional=True,
        ),
    ]
)
