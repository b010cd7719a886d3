"""The binaries this run built (the `cluster` fixture's build, not a second one) are the
bytes cluster/binaries.lock.toml pins: the build is reproducible, and the lock a learner's
`make up` and `make join` trust is the truth for this platform."""

from __future__ import annotations

from workshop.stack import binlock, toolchain


def test_the_local_build_matches_the_committed_lock(cluster):
    v = toolchain.Versions.load()
    want, why_not = binlock.expected(toolchain.cache_key(v))
    assert want is not None, f"{why_not}: run `workshop lock-binaries` and commit the lock"
    folder = toolchain.bin_dir(v)
    problems = binlock.compare(folder, want)  # hashes every file again, whatever the stamp says
    assert problems == [], "\n".join(map(str, problems))
