"""`workshop eks`: every reference solution converts for EKS and still parses; kwok-only
things are warned about, never silently changed; the learner's files are never written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from workshop.platform import eks
from workshop.k8s import kube
from workshop import paths
from workshop.errors import WorkshopError

REPO = Path(__file__).resolve().parents[2]
SOLUTIONS = sorted(paths.SOLUTIONS_DIR.glob("lesson-*/*.yaml"))


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_solution_converts_and_still_parses(path):
    before = path.read_text()
    converted = eks.convert_files([path])
    objs = kube.parse_manifests(converted.yaml(), source=f"{path.name} for EKS")
    assert len(objs) == len(kube.parse_manifests(before))
    for obj in objs:
        ref = (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("nodeClassRef")
        if obj["kind"] == "NodePool":
            assert ref == {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass",
                           "name": "bottlerocket"}, path
        assert "karpenter.kwok.sh" not in yaml.safe_dump(ref or {})
    assert path.read_text() == before


POOL_WITH_KWOK_THINGS = """\
apiVersion: karpenter.sh/v1
kind: NodePool
metadata:
  name: team-x
spec:
  template:
    spec:
      nodeClassRef: {group: karpenter.kwok.sh, kind: KWOKNodeClass, name: bottlerocket}
      requirements:
        - {key: karpenter.kwok.sh/instance-memory, operator: In, values: ["16Gi"]}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  template:
    spec:
      nodeSelector:
        kwok.x-k8s.io/node: fake
        type: kwok
---
apiVersion: karpenter.kwok.sh/v1alpha1
kind: KWOKNodeClass
metadata:
  name: mine
"""


def test_kwok_only_things_are_warned_about_with_the_aws_equivalent(tmp_path):
    src = tmp_path / "mine.yaml"
    src.write_text(POOL_WITH_KWOK_THINGS)
    converted = eks.convert_files([src])
    text = "\n".join(str(w) for w in converted.warnings)
    assert "karpenter.k8s.aws/instance-memory (MiB" in text
    assert "spec.template.spec.requirements[0].key" in text
    assert "`kwok.x-k8s.io/node` exists only under kwok" in text
    assert "`type: kwok` marks kwok's fake nodes" in text
    assert "KWOKNodeClass is kwok's" in text and "left out" in text
    assert [o["kind"] for o in converted.objects] == ["NodePool", "Deployment"]
    # Warned, not rewritten: the requirement keeps its kwok key.
    assert converted.objects[0]["spec"]["template"]["spec"]["requirements"][0]["key"] == \
        "karpenter.kwok.sh/instance-memory"


def test_output_never_overwrites_an_input(tmp_path):
    src = tmp_path / "mine.yaml"
    src.write_text(POOL_WITH_KWOK_THINGS)
    with pytest.raises(WorkshopError, match="one of the input files"):
        eks.write(eks.convert_files([src]), src, [src])
    assert src.read_text() == POOL_WITH_KWOK_THINGS


def test_cli_prints_or_writes_only_where_told(tmp_path):
    src = paths.SOLUTIONS_DIR / "lesson-02" / "2.1.yaml"
    before = src.read_text()
    run = lambda *a: subprocess.run([sys.executable, "-m", "workshop.cli", "eks", *a],
                                    capture_output=True, text=True, cwd=REPO, timeout=60)
    printed = run(str(src))
    assert printed.returncode == 0 and "kind: EC2NodeClass" in printed.stdout
    out = tmp_path / "eks" / "2.1.yaml"
    written = run(str(src), "-o", str(out))
    assert written.returncode == 0 and yaml.safe_load(out.read_text()) == \
        yaml.safe_load(printed.stdout)
    refused = run(str(src), "-o", str(src))
    assert refused.returncode == 2 and "would be overwritten" in refused.stderr
    missing = run(str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and "no file" in missing.stderr
    assert src.read_text() == before
