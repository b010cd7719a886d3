"""The lesson notebooks, run for real.

1. Every notebook runs top to bottom under nbval in solution mode (WORKSHOP_SOLUTIONS=1)
   against the session's cluster: each `%%apply N.M` cell applies the reference solution
   and each `check()` raises unless everything passes, so notebooks, solutions and
   checkers cannot drift apart.
2. Committed notebooks carry no outputs or execution counts.
3. `%%apply` and `check()` in a real kernel: a learner's mistake prints one short message,
   never a traceback.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from workshop.grading import core as grading, lessons
from workshop.k8s import kube, observe
from workshop import paths

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = REPO / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]-*.ipynb"))
# The lessons this suite must always cover, whatever else is added later.
REQUIRED = ("00-setup-and-tour", "01-first-provisioning", "02-your-own-nodepool",
            "03-taints-and-tolerations", "04-selectors-affinity-spread")


def _lesson_of(notebook: Path) -> int:
    return int(notebook.name[:2])


def test_the_lesson_notebooks_exist():
    names = {nb.stem for nb in NOTEBOOKS}
    assert set(REQUIRED) <= names, f"missing notebooks: {sorted(set(REQUIRED) - names)}"


# ---------------------------------------------------------------- 1. nbval, solution mode


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_solution_mode(cluster, notebook):
    """A fresh lesson (after reset) runs top to bottom with every check passing.

    Every lesson is reset, not only this one: another lesson's NodePool (e.g. lesson 2's
    untainted team-payments) would otherwise compete for this lesson's pods."""
    for n in grading.lesson_numbers():
        lessons.reset(n)
    env = dict(os.environ, WORKSHOP_SOLUTIONS="1", WORKSHOP_STATE=str(paths.STATE))
    cmd = [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
           "--nbval-cell-timeout=600", "-p", "no:cacheprovider", "-q", "-rf",
           str(notebook.relative_to(REPO))]
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=1800)
    took = time.monotonic() - start
    output = (proc.stdout + proc.stderr)[-20000:]
    assert proc.returncode == 0, (
        f"{notebook.name} failed under nbval in solution mode (exit {proc.returncode}, "
        f"{took:.0f}s):\n{output}")
    print(f"{notebook.name}: nbval passed in {took:.1f}s")


# ---------------------------------------------------------------- 2. committed without outputs


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_has_no_outputs(notebook):
    nb = nbformat.read(notebook, as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    dirty = [i for i, cell in enumerate(nb.cells, 1) if cell.cell_type == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, (f"{notebook.name}: code cells {dirty} have outputs or execution "
                       "counts; clear them before committing (Kernel → Restart Kernel and "
                       "Clear Outputs of All Cells, then save)")
    first = next((c for c in nb.cells if c.cell_type == "code"), None)
    assert first is not None and "from workshop.lab import *" in first.source, (
        f"{notebook.name}: the first code cell must import the lab surface")


# ---------------------------------------------------------------- 3. %%apply and check() in a kernel

KERNEL_NS = "nbtest-kernel"

_CELLS = {
    "setup": "from workshop.lab import *\nuse_lesson(0)",
    "ok": f"""%%apply -n {KERNEL_NS}
apiVersion: v1
kind: ConfigMap
metadata:
  name: kernel-ok
data:
  greeting: hello
""",
    # `data` indented one space: invalid YAML on line 5 of the cell body.
    "broken_yaml": f"""%%apply -n {KERNEL_NS}
apiVersion: v1
kind: ConfigMap
metadata:
  name: kernel-broken
 data: {{}}
""",
    # A NodePool whose operator the API's schema does not allow.
    "rejected": """%%apply
apiVersion: karpenter.sh/v1
kind: NodePool
metadata:
  name: nbtest-rejected
spec:
  template:
    spec:
      nodeClassRef:
        group: karpenter.kwok.sh
        kind: KWOKNodeClass
        name: bottlerocket
      requirements:
        - key: kubernetes.io/arch
          operator: Within
          values: ["arm64"]
""",
    # matchLabels is a map; here it is a list.
    "list_for_map": f"""%%apply -n {KERNEL_NS}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: kernel-listy
spec:
  replicas: 1
  selector:
    matchLabels:
      - app: kernel-listy
  template:
    metadata:
      labels:
        app: kernel-listy
    spec:
      containers:
        - name: app
          image: registry.k8s.io/pause:3.10
""",
    "unknown_kind": f"""%%apply -n {KERNEL_NS}
apiVersion: apps/v1
kind: Deploymnt
metadata:
  name: kernel-typo
""",
    "unknown_exercise": 'check("9.9")',
}


def _text(output: dict) -> str:
    """What a learner reads in one output: stream text, HTML without tags, or a traceback."""
    if output.get("output_type") == "stream":
        return output.get("text", "")
    if output.get("output_type") == "error":
        return "Traceback\n" + "\n".join(output.get("traceback", []))
    data = output.get("data", {})
    if "text/html" in data:
        markup = re.sub(r"<br\s*/?>", "\n", data["text/html"])
        return re.sub(r"<[^>]+>", "", markup).replace("&lt;", "<").replace("&gt;", ">") \
            .replace("&quot;", '"').replace("&#x27;", "'").replace("&amp;", "&")
    return data.get("text/plain", "")


@pytest.fixture(scope="module")
def kernel_outputs(cluster):
    """Run the cells above in one real kernel (learner mode); their outputs by name."""
    from nbclient import NotebookClient

    names = list(_CELLS)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(_CELLS[n]) for n in names]
    env = {k: v for k, v in os.environ.items() if k != "WORKSHOP_SOLUTIONS"}
    env["WORKSHOP_STATE"] = str(paths.STATE)
    client = NotebookClient(nb, kernel_name="python3", timeout=120, allow_errors=True,
                            resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    try:
        client.execute(env=env)
        yield {n: "\n".join(_text(o) for o in c.outputs) for n, c in zip(names, nb.cells)}
    finally:
        observe.delete_namespace(KERNEL_NS)
        kube.delete("karpenter.sh/v1", "NodePool", "nbtest-rejected")


def _short_and_clean(text: str, max_lines: int = 8) -> None:
    assert "Traceback" not in text and "File \"" not in text, text
    lines = [line for line in text.splitlines() if line.strip()]
    assert 0 < len(lines) <= max_lines, f"expected a short message, got {len(lines)} lines:\n{text}"


def test_kernel_apply_works(kernel_outputs):
    assert "configmap/kernel-ok" in kernel_outputs["ok"] and "created" in kernel_outputs["ok"]
    assert kube.get("v1", "ConfigMap", "kernel-ok", KERNEL_NS) is not None


def test_kernel_broken_yaml_names_the_line(kernel_outputs):
    text = kernel_outputs["broken_yaml"]
    _short_and_clean(text)
    assert "not valid YAML" in text and "line 5" in text, text
    assert "fix:" in text, text


def test_kernel_api_rejection_quotes_the_reason(kernel_outputs):
    text = kernel_outputs["rejected"]
    _short_and_clean(text)
    assert "rejected" in text, text
    # The API's own words: the field and the value it refused.
    assert "operator" in text and "Within" in text, text
    assert kube.get("karpenter.sh/v1", "NodePool", "nbtest-rejected") is None


def test_kernel_list_where_a_map_belongs(kernel_outputs):
    text = kernel_outputs["list_for_map"]
    _short_and_clean(text)
    assert "matchLabels" in text and "map" in text, text
    assert kube.get("apps/v1", "Deployment", "kernel-listy", KERNEL_NS) is None


def test_kernel_unknown_kind(kernel_outputs):
    text = kernel_outputs["unknown_kind"]
    _short_and_clean(text)
    assert "Deploymnt" in text and "apps/v1" in text, text


def test_kernel_check_of_unknown_exercise(kernel_outputs):
    text = kernel_outputs["unknown_exercise"]
    _short_and_clean(text, max_lines=3)
    assert "no exercise 9.9" in text, text
    assert "checking" not in text, f"the progress line was left behind:\n{text}"
