"""The one thing pyproject.toml cannot say: the hot paths in C. protocol._native (a tracked
map's write, the delta renderer, the INPUT decoder, the ring's packer; see protocol/native.py) and
game_server._native (the fast socket's per-member state frame and its INPUT and ACK receive
path, a room's per-input path; see game_server/native.py).

Both are optional: where no C compiler is found the build goes on without them, and the server
runs its Python code instead (``protocol.native.NATIVE`` and ``game_server.native.NATIVE`` then
read False). scripts/setup installs a compiler on Debian so that the project's own machines
always build them.
"""

from setuptools import Extension, setup

COMPILE_ARGS = ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Werror", "-ffp-contract=off"]
"""-ffp-contract=off: no fused multiply-add, so C arithmetic rounds each step as Python does."""

setup(
    ext_modules=[
        Extension(
            "protocol._native",
            sources=[
                "protocol/_native.c",
                "protocol/_native_delta.c",
                "protocol/_native_input.c",
                "protocol/_native_pack.c",
            ],
            depends=["protocol/_native.h", "protocol/_native_slot.h"],
            extra_compile_args=COMPILE_ARGS,
            optional=True,
        ),
        Extension(
            "game_server._native",
            sources=[
                "game_server/_native.c",
                "game_server/_native_publish.c",
                "game_server/_native_receive.c",
                "game_server/_native_tick.c",
            ],
            include_dirs=["protocol"],
            depends=["game_server/_native.h", "protocol/_native_slot.h"],
            extra_compile_args=[*COMPILE_ARGS, "-fvisibility=hidden"],
            optional=True,
        ),
    ]
)
