"""Each notebook's `%%apply N.M` template names the same objects (kind, name, namespace) as
the reference solution for N.M, so a learner filling in the template and solution mode
(which applies solutions/ instead) work on the same objects. No cluster needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workshop.k8s import kube
from workshop.grading import lessons

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def apply_cells() -> list[tuple[str, str, str]]:
    """(notebook, exercise id, YAML body) of every `%%apply N.M` cell."""
    found = []
    for nb in NOTEBOOKS:
        for cell in json.loads(nb.read_text())["cells"]:
            source = "".join(cell.get("source") or [])
            first, _, body = source.partition("\n")
            args = first.split()
            if cell.get("cell_type") == "code" and args[:1] == ["%%apply"]:
                exercise = next((a for a in args[1:] if a[:1].isdigit()), None)
                if exercise:
                    found.append((nb.stem, exercise, body))
    return found


def identities(objs: list[dict], exercise: str) -> set[tuple[str, str, str]]:
    default_ns = lessons.namespace(int(exercise.split(".")[0]))
    cluster_scoped = {"NodePool", "Namespace", "NodeClaim"}
    return {(o["kind"], o["metadata"]["name"],
             "" if o["kind"] in cluster_scoped else o["metadata"].get("namespace", default_ns))
            for o in objs}


CELLS = apply_cells()


def test_every_lesson_notebook_with_exercises_has_apply_templates():
    assert {nb for nb, _, _ in CELLS} >= {"01-first-provisioning", "02-your-own-nodepool"}


@pytest.mark.parametrize("notebook, exercise, body", CELLS,
                         ids=[f"{nb}:{ex}" for nb, ex, _ in CELLS])
def test_template_names_the_objects_of_the_solution(notebook, exercise, body):
    template = identities(kube.parse_manifests(body, f"{notebook} %%apply {exercise}"), exercise)
    # A team pool of lesson 08 comes from the platform's request form, not a template: its
    # reference is N.M-request.yaml (the generator's output).
    files = [f for f in lessons.solution_files(exercise) if not f.name.endswith("-request.yaml")]
    solution = identities(kube.load_manifest_files(files), exercise)
    assert template == solution, f"{notebook} %%apply {exercise}: {template} != {solution}"
