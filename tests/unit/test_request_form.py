"""The request form without a browser: build it, set widget values as a learner would, and
read what it shows. Its preview must be the generator's output, not a second code path."""

from __future__ import annotations

import pytest
import yaml

from workshop.instances import catalog
from workshop.platform import request as pr
from workshop.lab.request_form import request_form

VISION = pr.Request("vision", vcpu=64, memory_gi=256, gpus=4, families=("g5",),
                    taints=("team=vision:NoSchedule",), labels=("team=vision",))


@pytest.fixture(scope="module")
def cat():
    return catalog.load_catalog()


def _fill_vision(form) -> None:
    form.team.value = "vision"
    form.vcpu.value = 64
    form.memory_gi.value = 256
    form.gpus.value = 4
    form.families["g5"].value = True
    form.taints.value = "team=vision:NoSchedule"
    form.labels.value = "team=vision"


def _pre_text(html_value: str) -> str:
    import html
    import re

    return html.unescape(re.sub(r"<[^>]+>", "", html_value))


def test_a_blank_form_says_what_is_missing_and_cannot_submit(cat):
    form = request_form(cat=cat)
    assert form.submit_button.disabled
    assert "no team" in form.problems.value
    assert "no instance families" in form.problems.value
    assert "fix the problems" in form.nodepool_yaml.value


def test_families_come_from_the_catalog_grouped_with_their_ranges(cat):
    form = request_form(cat=cat)
    assert set(form.families) == set(cat.families())
    groups = form.widget.children[3].children
    headers = [_pre_text(g.children[0].value) for g in groups]
    assert headers[0] == "general purpose" and "GPU (NVIDIA)" in headers
    rows = {row.children[0].description: _pre_text(row.children[1].value)
            for g in groups for row in g.children[1:]}
    assert rows["g5"] == "amd64 · 4–192 vCPU · 16–768 GiB · 1–8 A10G · $1.006–16.288/h"
    assert rows["r6g"].startswith("arm64 · ")


def test_filling_in_the_vision_request_previews_the_generators_pool(cat):
    form = request_form(cat=cat)
    _fill_vision(form)
    assert form.request() == VISION
    assert not form.submit_button.disabled
    assert "the platform can make this pool" in form.problems.value
    assert yaml.safe_load(_pre_text(form.nodepool_yaml.value)) == pr.nodepool(VISION)
    assert _pre_text(form.text.value) == pr.request_text(VISION, cat)
    assert "admits 18 offerings" in form.admits.value
    assert "cheapest g5.xlarge" in form.admits.value and "dearest g5.48xlarge" in form.admits.value
    assert "at its limits: $4.02/h" in form.admits.value


def test_errors_and_warnings_show_inline_as_the_learner_types(cat):
    form = request_form(cat=cat)
    _fill_vision(form)
    form.taints.value = ""
    assert "other teams&#x27; GPU pods" in form.problems.value  # a warning: still submittable
    assert not form.submit_button.disabled
    form.taints.value = "team=vision"
    assert "has no effect" in form.problems.value
    form.families["m5"].value = True
    assert "family m5 has no NVIDIA GPU" in form.problems.value
    assert form.submit_button.disabled


def test_capacity_and_several_items_per_field(cat):
    form = request_form(cat=cat, team="etl", vcpu=32, memory_gi=256, families=("m6g",),
                        capacity_types=("spot",), taints="team=etl:NoSchedule",
                        labels="team=etl, tier=batch")
    req = form.request()
    assert req.capacity == ("spot",) and req.labels == ("team=etl", "tier=batch")
    pool = yaml.safe_load(_pre_text(form.nodepool_yaml.value))
    assert pool["spec"]["template"]["metadata"]["labels"]["tier"] == "batch"
    assert pool["spec"]["template"]["spec"]["requirements"][1]["values"] == ["spot"]


def test_submit_refuses_a_request_with_problems(cat):
    form = request_form(cat=cat)
    assert form.submit() == []
    assert "the platform would send it back" in form.status.value
