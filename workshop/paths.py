"""Where things live: the repo, the per-checkout state folder and the shared build cache.

All paths derive from this package's location, not from the current directory, so
`workshop` (and `make -C ...`) behaves the same from any folder.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLUSTER_DIR = REPO / "cluster"
PLATFORM_DIR = CLUSTER_DIR / "platform"
VERSIONS_FILE = CLUSTER_DIR / "versions.toml"
# The sha256 of every built binary per platform (workshop/stack/binlock.py).
BINARIES_LOCK = CLUSTER_DIR / "binaries.lock.toml"
KWOKCTL_TEMPLATE = CLUSTER_DIR / "kwokctl.yaml"
KWOK_STAGES = CLUSTER_DIR / "kwok-stages.yaml"  # appended to the kwokctl config
SOLUTIONS_DIR = REPO / "solutions"
NOTEBOOKS_DIR = REPO / "notebooks"

# Per-checkout runtime state: kubeconfig, kwokctl workdir, Karpenter's pid and log.
# WORKSHOP_STATE lets the test-suite or a second copy use its own cluster.
STATE = Path(os.environ.get("WORKSHOP_STATE", REPO / ".workshop")).resolve()
KUBECONFIG = STATE / "kubeconfig"
BIN_LINK = STATE / "bin"
KWOK_WORKDIR = STATE / "kwok"
KARPENTER_DIR = STATE / "karpenter"
LAB_DIR = STATE / "lab"
PROGRESS = STATE / "progress.json"  # graded passes on this cluster (workshop/grading/lessons.py)

# Built binaries and Go caches are large (GBs) and shared by every checkout: keep them
# outside the repo, keyed by version (see toolchain.cache_key).
CACHE = Path(
    os.environ.get("WORKSHOP_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "karpenter-workshop"
).resolve()

CLUSTER_NAME = "workshop"
