"""The instance catalog: table -> JSON generation, JSON validation and the Python model.

No cluster needed. Requirement semantics are checked against sets computed independently
from the instance types, so a bug in `admitted` cannot hide behind itself.
"""

from __future__ import annotations

import json
import re

import pytest

from workshop.instances import catalog as cat
from workshop.instances import table
from workshop.instances.catalog import (
    CATALOG_JSON, CATALOG_TABLE, CatalogError, diff_sets, describe_set, load_catalog,
    validate_json,
)
from workshop.instances.table import generate, parse_table, render_json

AWS_KEYS = (cat.AWS_FAMILY, cat.AWS_CATEGORY, cat.AWS_GENERATION, cat.AWS_SIZE, cat.AWS_CPU,
            cat.AWS_MEMORY, cat.AWS_HYPERVISOR)
GPU_TYPES = {
    "g4dn.xlarge": (1, "t4"), "g4dn.12xlarge": (4, "t4"),
    "g5.xlarge": (1, "a10g"), "g5.12xlarge": (4, "a10g"), "g5.48xlarge": (8, "a10g"),
    "p3.2xlarge": (1, "v100"), "p3.8xlarge": (4, "v100"), "p3.16xlarge": (8, "v100"),
    "p4d.24xlarge": (8, "a100"), "g6.xlarge": (1, "l4"), "g6.48xlarge": (8, "l4"),
}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def req(key, operator, *values):
    return {"key": key, "operator": operator, "values": list(values)}


def offerings_where(catalog, predicate):
    """Offerings chosen by looking at the instance types, independent of `admitted`."""
    return frozenset(o for o in catalog.offerings if predicate(catalog.by_name(o.instance_type), o))


# ---------------------------------------------------------------- generation


def test_committed_json_is_a_fresh_render_of_the_table():
    assert CATALOG_JSON.read_text() == render_json(parse_table(CATALOG_TABLE)), \
        "instance-types.json is stale: run `make catalog`"
    assert generate(check=True) is False


def test_rendering_is_byte_stable_and_sorted():
    types = parse_table(CATALOG_TABLE)
    assert render_json(types) == render_json(list(reversed(types)))
    names = [e["name"] for e in json.loads(render_json(types))]
    assert names == sorted(names)


def test_generate_writes_then_check_passes_and_detects_staleness(tmp_path):
    out = tmp_path / "it.json"
    with pytest.raises(CatalogError, match="missing.*make catalog"):
        generate(out=out, check=True)
    assert generate(out=out) is True
    assert generate(out=out) is False
    assert out.read_text() == CATALOG_JSON.read_text()
    out.write_text(out.read_text().replace('"Price": 0.096', '"Price": 0.1', 1))
    with pytest.raises(CatalogError, match="out of date.*make catalog"):
        generate(out=out, check=True)


def test_main_check_exits_1_with_one_line_when_stale(tmp_path, capsys):
    out = tmp_path / "it.json"
    out.write_text("[]\n")
    assert table.main(["--check", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "out of date" in err and "make catalog" in err
    assert table.main(["--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert table.main(["--check", "--out", str(out)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_committed_json_has_the_kwok_shape():
    for entry in json.loads(CATALOG_JSON.read_text()):
        assert set(entry) == {"name", "architecture", "operatingSystems", "resources", "offerings"}
        assert entry["operatingSystems"] == ["linux"]
        assert {"cpu", "memory", "pods"} <= set(entry["resources"])
        assert len(entry["offerings"]) == len(cat.ZONES) * len(cat.CAPACITY_TYPES)
        for off in entry["offerings"]:
            assert off["Available"] is True and isinstance(off["Price"], float)
            for r in off["Requirements"]:
                assert (r["operator"], len(r["values"])) in {("In", 1), ("DoesNotExist", 0)}


# ---------------------------------------------------------------- table errors

HEADER = ("name arch vcpu memory_gib gpus gpu_name gpu_manufacturer gpu_memory_mib accelerators "
          "accelerator_name accelerator_cores pods hypervisor on_demand_price")
GOOD = "m5.large amd64 2 8 0 - - - 0 - - 29 nitro 0.096"


def write_table(tmp_path, *rows):
    path = tmp_path / "types.tsv"
    path.write_text("\n".join(["# a comment", HEADER, *rows]) + "\n")
    return path


@pytest.mark.parametrize("row, at, words", [
    # `at` is the text the error must point at (None: just past the end of the row)
    ("m5.xlarge amd64 4 16 0 - - - 0 - - 58 nitro", None, "expected 14 columns"),
    ("m5.xlarge amd64 4 16 0 - - - 0 - - 58 nitro 0.192 extra", "extra", "found 15"),
    ("m5.xlarge amd64 four 16 0 - - - 0 - - 58 nitro 0.192", "four", "column 'vcpu'"),
    ("m5.xlarge x86_64 4 16 0 - - - 0 - - 58 nitro 0.192", "x86_64", "unknown value 'x86_64'"),
    ("m5.large  amd64 2 8 0 - - - 0 - - 29 nitro 0.096", "m5.large", "duplicate instance type 'm5.large' (first on line 3)"),
    ("g4dn.xlarge amd64 4 16 1 - nvidia 16384 0 - - 29 nitro 0.526", "- nvidia", "'gpu_name': required"),
    ("m5.xlarge amd64 4 16 0 t4 - - 0 - - 58 nitro 0.192", "t4", "must be '-'"),
    ("m5_xlarge amd64 4 16 0 - - - 0 - - 58 nitro 0.192", "m5_xlarge", "not an AWS instance type name"),
    ("m5.xlarge amd64 4 16 0 - - - 0 - - 58 nitro free", "free", "column 'on_demand_price'"),
])
def test_parse_errors_name_file_line_and_column(tmp_path, row, at, words):
    path = write_table(tmp_path, GOOD, row)
    col = len(row) + 1 if at is None else row.index(at) + 1
    with pytest.raises(CatalogError) as exc:
        parse_table(path)
    message = str(exc.value)
    assert message.startswith(f"{path}:4:{col}: "), message
    assert words in message


def test_parse_accepts_tabs_and_trailing_comments(tmp_path):
    path = write_table(tmp_path, GOOD.replace(" ", "\t") + "  # cheapest m5")
    (it,) = parse_table(path)
    assert (it.name, it.vcpu, it.memory_mib, it.gpus, it.on_demand_price) == ("m5.large", 2, 8192, 0, 0.096)


def test_parse_rejects_bad_headers_and_empty_tables(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text(HEADER.replace("pods", "max_pods") + "\n" + GOOD + "\n")
    with pytest.raises(CatalogError, match=r":1:\d+: unknown column 'max_pods'"):
        parse_table(path)
    path.write_text("# nothing here\n" + HEADER + "\n")
    with pytest.raises(CatalogError, match="no instance types"):
        parse_table(path)


# ---------------------------------------------------------------- the catalog's content


def test_catalog_size_families_and_shapes(catalog):
    assert 90 <= len(catalog.types) <= 120
    assert len(catalog.offerings) == 6 * len(catalog.types)
    assert catalog.families() == sorted(
        ["m5", "m6i", "m7i", "c5", "c6i", "c7i", "r5", "r6i", "t3", "m6g", "m7g", "c6g", "c7g",
         "r6g", "t4g", "g4dn", "g5", "g6", "p3", "p4d", "inf2"])
    shapes = {t.name: (t.arch, t.vcpu, t.memory_mib) for t in catalog.types}
    assert shapes["m5.large"] == ("amd64", 2, 8192)
    assert shapes["c6g.xlarge"] == ("arm64", 4, 8192)
    assert shapes["g4dn.xlarge"] == ("amd64", 4, 16384)
    assert {f"t3.{s}" for s in ("small", "medium", "large", "xlarge", "2xlarge")} <= set(shapes)
    for name, (gpus, gpu_name) in GPU_TYPES.items():
        t = catalog.by_name(name)
        assert (t.gpus, t.gpu_name, t.gpu_manufacturer) == (gpus, gpu_name, "nvidia"), name
    assert {t.arch for t in catalog.types if t.family in ("m6g", "c6g", "m7g", "c7g", "r6g", "t4g")} \
        == {"arm64"}
    with pytest.raises(KeyError):
        catalog.by_name("m5.huge")


def test_json_round_trips_to_the_table(catalog):
    assert sorted(parse_table(CATALOG_TABLE), key=lambda t: t.name) == list(catalog.types)
    assert validate_json(CATALOG_JSON) == list(catalog.types)


def test_every_offering_carries_the_aws_labels(catalog):
    for o in catalog.offerings:
        t = catalog.by_name(o.instance_type)
        assert all(k in o.labels for k in AWS_KEYS), o
        assert o.labels[cat.AWS_FAMILY] == t.family
        assert o.labels[cat.AWS_CATEGORY] == re.match(r"[a-z]+", t.family).group()  # inf2: "inf"
        assert o.labels[cat.AWS_GENERATION] == re.search(r"\d+", t.family).group()
        assert o.labels[cat.AWS_SIZE] == t.name.split(".")[1]
        assert o.labels[cat.AWS_CPU] == str(t.vcpu)
        assert o.labels[cat.AWS_MEMORY] == str(t.memory_mib)
        has_gpu_keys = [k in o.labels for k in cat.AWS_GPU_KEYS]
        assert has_gpu_keys == [t.gpus > 0] * 4, o
        if t.gpus:
            assert o.labels[cat.AWS_GPU_COUNT] == str(t.gpus)
            assert o.labels[cat.AWS_GPU_MEMORY] == str(t.gpu_memory_mib)
        assert (o.labels[cat.ZONE], o.labels[cat.CAPACITY_TYPE]) == (o.zone, o.capacity_type)
        assert (o.labels[cat.ARCH], o.labels[cat.OS], o.labels[cat.INSTANCE_TYPE]) == (t.arch, "linux", t.name)


def test_gpu_memory_is_aws_mib_per_gpu(catalog):
    per_gpu = {t.gpu_name: t.gpu_memory_mib for t in catalog.types if t.gpus}
    assert per_gpu == {"t4": 16384, "a10g": 22888, "l4": 22888, "v100": 16384, "a100": 40960}


def test_inferentia_is_an_accelerator_not_a_gpu(catalog):
    """inf2 carries the AWS provider's accelerator labels and Neuron resources, never a GPU's,
    so "GPU" in a requirement or a request can only mean NVIDIA."""
    inf2 = [t for t in catalog.types if t.family == "inf2"]
    assert {t.name: t.accelerators for t in inf2} == {
        "inf2.xlarge": 1, "inf2.8xlarge": 1, "inf2.24xlarge": 6, "inf2.48xlarge": 12}
    for t in inf2:
        assert t.gpus == 0 and cat.GPU_RESOURCE not in t.resources()
        assert t.resources()[cat.NEURON_RESOURCE] == str(t.accelerators)
        assert t.resources()[cat.NEURON_CORE_RESOURCE] == str(2 * t.accelerators)
    for o in catalog.offerings:
        t = catalog.by_name(o.instance_type)
        has = [k in o.labels for k in cat.AWS_ACCELERATOR_KEYS]
        assert has == [t.family == "inf2"] * 3, o
        if t.family == "inf2":
            assert (o.labels[cat.AWS_ACCELERATOR_NAME], o.labels[cat.AWS_ACCELERATOR_MANUFACTURER]) \
                == ("inferentia2", "aws")
    gpu_pools = catalog.admitted([req(cat.AWS_GPU_COUNT, "Exists")])
    assert gpu_pools and not any(o.family == "inf2" for o in gpu_pools)
    assert catalog.cheapest([req(cat.AWS_FAMILY, "In", "inf2")], 1000, 1024, gpus=1) is None


def test_kwok_labels_match_kwoks_derivation(catalog):
    labels = {o.instance_type: o.labels for o in catalog.offerings}
    assert labels["m5.xlarge"][cat.KWOK_MEMORY] == "16Gi"
    assert labels["p3.2xlarge"][cat.KWOK_MEMORY] == "61Gi"
    assert labels["p4d.24xlarge"][cat.KWOK_MEMORY] == "1152Gi"
    assert labels["c5.9xlarge"][cat.KWOK_SIZE] == "9xlarge"
    for o in catalog.offerings:  # the kwok and AWS keys are interchangeable for these three
        for what in ("family", "size", "cpu"):
            assert o.labels[f"karpenter.kwok.sh/instance-{what}"] == o.labels[f"karpenter.k8s.aws/instance-{what}"]


@pytest.mark.parametrize("text, canonical", [
    ("16Gi", "16Gi"), ("16384Mi", "16Gi"), ("1024Gi", "1Ti"), ("1536Mi", "1536Mi"),
    ("4", "4"), ("4000m", "4"), ("1500m", "1500m"), ("0.5", "500m"), ("4000", "4k"), ("0", "0"),
    ("512", "512"), ("1e3", "1e3"),
])
def test_canonical_quantity_matches_kubernetes(text, canonical):
    assert cat.canonical_quantity(text) == canonical


def test_kwok_name_parsing_fallbacks():
    assert cat.kwok_family("c-1x-amd64-linux") == "c"
    assert cat.kwok_size("c-1x-amd64-linux", "1") == "1"
    assert cat.kwok_family("standard") == "s"


def test_spot_is_cheaper_deterministic_and_varies_by_zone(catalog):
    by_key = {(o.instance_type, o.zone, o.capacity_type): o.price for o in catalog.offerings}
    for t in catalog.types:
        spot = [by_key[t.name, z, "spot"] for z in cat.ZONES]
        assert all(0.25 * t.on_demand_price < p < 0.5 * t.on_demand_price for p in spot), t.name
        assert len(set(spot)) == 3, t.name
        assert {by_key[t.name, z, "on-demand"] for z in cat.ZONES} == {t.on_demand_price}
    cheapest_zone = {
        t.family: min(cat.ZONES, key=lambda z: by_key[t.name, z, "spot"]) for t in catalog.types
    }
    assert len(set(cheapest_zone.values())) > 1, "every family's cheapest spot zone is the same"


# ---------------------------------------------------------------- admitted()


def test_category_generation_arch_spot_is_m6g_spot(catalog):
    m6g_spot = offerings_where(catalog, lambda t, o: t.family == "m6g" and o.capacity_type == "spot")
    assert len(m6g_spot) == 15
    by_shape = catalog.admitted([
        req(cat.AWS_CATEGORY, "In", "m"), req(cat.AWS_GENERATION, "In", "6"),
        req(cat.ARCH, "In", "arm64"), req(cat.CAPACITY_TYPE, "In", "spot"),
    ])
    by_kwok_family = catalog.admitted([req(cat.KWOK_FAMILY, "In", "m6g"), req(cat.CAPACITY_TYPE, "In", "spot")])
    by_aws_family = catalog.admitted([req(cat.AWS_FAMILY, "In", "m6g"), req(cat.CAPACITY_TYPE, "In", "spot")])
    assert by_shape == by_kwok_family == by_aws_family == m6g_spot


def test_kwok_and_aws_size_and_cpu_keys_are_interchangeable(catalog):
    for what, value in (("size", "2xlarge"), ("cpu", "8")):
        kwok = catalog.admitted([req(f"karpenter.kwok.sh/instance-{what}", "In", value)])
        aws = catalog.admitted([req(f"karpenter.k8s.aws/instance-{what}", "In", value)])
        assert kwok == aws and kwok


def test_gt_lt_on_cpu(catalog):
    got = catalog.admitted([req(cat.AWS_CPU, "Gt", "4"), req(cat.AWS_CPU, "Lt", "32")])
    assert got == offerings_where(catalog, lambda t, o: 4 < t.vcpu < 32)
    assert {catalog.by_name(o.instance_type).vcpu for o in got} == {8, 16}


def test_gt_on_gpu_count_excludes_types_without_the_label(catalog):
    multi = catalog.admitted([req(cat.AWS_GPU_COUNT, "Gt", "1")])
    assert multi == offerings_where(catalog, lambda t, o: t.gpus > 1)
    any_gpu = catalog.admitted([req(cat.AWS_GPU_COUNT, "Gt", "0")])
    assert any_gpu == offerings_where(catalog, lambda t, o: t.gpus > 0)
    assert catalog.admitted([req(cat.AWS_GPU_COUNT, "Lt", "100")]) == any_gpu


def test_gt_on_a_non_integer_label_matches_nothing(catalog):
    assert catalog.admitted([req(cat.AWS_SIZE, "Gt", "1")]) == frozenset()


def test_notin_and_doesnotexist_admit_absent_labels(catalog):
    not_t4 = catalog.admitted([req(cat.AWS_GPU_NAME, "NotIn", "t4")])
    assert not_t4 == offerings_where(catalog, lambda t, o: t.gpu_name != "t4")
    assert any(catalog.by_name(o.instance_type).gpus == 0 for o in not_t4)
    no_gpu = catalog.admitted([req(cat.AWS_GPU_COUNT, "DoesNotExist")])
    assert no_gpu == offerings_where(catalog, lambda t, o: t.gpus == 0)
    assert catalog.admitted([req(cat.AWS_GPU_COUNT, "Exists")]) == set(catalog.offerings) - no_gpu
    on_demand = catalog.admitted([req(cat.CAPACITY_TYPE, "NotIn", "spot")])
    assert on_demand == offerings_where(catalog, lambda t, o: o.capacity_type == "on-demand")


def test_custom_label_keys_are_ignored_but_catalog_keys_are_not(catalog):
    everything = frozenset(catalog.offerings)
    assert catalog.admitted(None) == catalog.admitted([]) == everything
    assert catalog.admitted([req("team", "In", "ml")]) == everything
    assert catalog.admitted([req("team", "DoesNotExist")]) == everything
    assert catalog.admitted([req("team", "Gt", "3")]) == everything
    assert catalog.admitted([req(cat.ARCH, "In", "s390x")]) == frozenset()
    assert catalog.admitted([req(cat.AWS_FAMILY, "In", "x9")]) == frozenset()


def test_malformed_requirements_are_rejected(catalog):
    with pytest.raises(CatalogError, match="unknown operator 'Equals'"):
        catalog.admitted([req(cat.ARCH, "Equals", "arm64")])
    with pytest.raises(CatalogError, match="exactly one integer"):
        catalog.admitted([req(cat.AWS_CPU, "Gt", "four")])
    with pytest.raises(CatalogError, match="list of strings"):
        catalog.admitted([{"key": cat.AWS_CPU, "operator": "Gt", "values": [4]}])


# ---------------------------------------------------------------- cheapest()


def brute_force_cheapest(catalog, cpu_millis, memory_mib, gpus=0, predicate=lambda t, o: True):
    fitting = [o for o in catalog.offerings
               if predicate(catalog.by_name(o.instance_type), o)
               and catalog.by_name(o.instance_type).vcpu * 1000 - 100 >= cpu_millis
               and catalog.by_name(o.instance_type).memory_mib - 10 >= memory_mib
               and catalog.by_name(o.instance_type).gpus >= gpus]
    return min(o.price for o in fitting)


def test_cheapest_picks_the_cheapest_fitting_offering(catalog):
    small = catalog.cheapest([], 1500, 3 * 1024)
    assert (small.instance_type, small.capacity_type) == ("t4g.medium", "spot")
    assert small.price == brute_force_cheapest(catalog, 1500, 3 * 1024)
    arm_od = catalog.cheapest([req(cat.ARCH, "In", "arm64"), req(cat.CAPACITY_TYPE, "In", "on-demand")], 1000, 1024)
    assert arm_od.instance_type == "t4g.small"


def test_cheapest_accounts_for_kwoks_reserved_overhead(catalog):
    # 2 CPUs do not fit a 2-vCPU type (1900m allocatable), nor 8Gi an 8 GiB one.
    assert catalog.by_name(catalog.cheapest([], 2000, 512).instance_type).vcpu == 4
    assert catalog.by_name(catalog.cheapest([], 100, 8192).instance_type).memory_mib > 8192
    assert catalog.by_name(catalog.cheapest([], 100, 8182).instance_type).memory_mib == 8192


def test_cheapest_for_gpus_and_when_nothing_fits(catalog):
    four = catalog.cheapest([], 1000, 1024, gpus=4)
    assert catalog.by_name(four.instance_type).gpus >= 4
    assert four.price == brute_force_cheapest(catalog, 1000, 1024, gpus=4)
    on_demand_t4 = catalog.cheapest([req(cat.AWS_GPU_NAME, "In", "t4"), req(cat.CAPACITY_TYPE, "In", "on-demand")],
                                    1000, 1024, gpus=1)
    assert on_demand_t4.instance_type == "g4dn.xlarge"
    assert catalog.cheapest([], 1000, 1024, gpus=16) is None
    assert catalog.cheapest([req(cat.ARCH, "In", "arm64")], 1000, 1024, gpus=1) is None


# ---------------------------------------------------------------- describing sets


def test_describe_set(catalog):
    arm_spot = catalog.admitted([req(cat.ARCH, "In", "arm64"), req(cat.CAPACITY_TYPE, "In", "spot")])
    assert describe_set(arm_spot) == "arm64 spot offerings of c6g, c7g, m6g, m7g, r6g, t4g (99 offerings)"
    one = catalog.admitted([req(cat.INSTANCE_TYPE, "In", "m5.large"), req(cat.ZONE, "In", "us-west-2a"),
                            req(cat.CAPACITY_TYPE, "In", "spot")])
    assert describe_set(one) == "amd64 spot offerings of m5.large in us-west-2a (1 offering)"
    assert "on-demand/spot" in describe_set(catalog.offerings)
    assert "and 15 more" in describe_set(catalog.offerings)
    assert describe_set([]) == "no offerings"
    assert catalog.describe_set(arm_spot) == describe_set(arm_spot)


def test_diff_sets_names_missing_and_extra(catalog):
    expected = catalog.admitted([req(cat.KWOK_FAMILY, "In", "m6g")])
    found = catalog.admitted([req(cat.KWOK_FAMILY, "In", "m6g", "c6g"), req(cat.CAPACITY_TYPE, "In", "spot")])
    message = diff_sets(expected, found)
    assert message == ("missing arm64 on-demand offerings of m6g (15 offerings); "
                       "unexpected arm64 spot offerings of c6g (15 offerings)")
    assert diff_sets(found, found) == "same offerings (30)"
    assert catalog.diff_sets(expected, found) == message


# ---------------------------------------------------------------- validate_json()


def broken_catalogs():
    good = json.loads(CATALOG_JSON.read_text())
    no_offerings = json.loads(json.dumps(good[:2]))
    no_offerings[1]["offerings"] = []
    no_zone = json.loads(json.dumps(good[:1]))
    no_zone[0]["offerings"][0]["Requirements"] = [
        r for r in no_zone[0]["offerings"][0]["Requirements"] if r["key"] != cat.ZONE]
    no_memory = json.loads(json.dumps(good[:1]))
    del no_memory[0]["resources"]["memory"]
    return {
        "empty array": ("[]", "lists no instance types"),
        "empty file": ("", "not valid JSON"),
        "broken JSON": (CATALOG_JSON.read_text()[:500], "not valid JSON"),
        "offering-less entry": (json.dumps(no_offerings), "has no offerings"),
        "offering without zone": (json.dumps(no_zone), "topology.kubernetes.io/zone"),
        "no memory": (json.dumps(no_memory), "cpu and memory"),
        "bad arch": (json.dumps([dict(good[0], architecture="x86_64")]), "architecture"),
    }


@pytest.mark.parametrize("case", sorted(broken_catalogs()))
def test_validate_json_rejects_broken_files_naming_the_fix(tmp_path, case):
    text, words = broken_catalogs()[case]
    path = tmp_path / "it.json"
    path.write_text(text)
    with pytest.raises(CatalogError) as exc:
        validate_json(path)
    assert words in str(exc.value)
    assert "make catalog" in str(exc.value)
    assert "\n" not in str(exc.value)


def test_validate_json_missing_file_names_the_fix(tmp_path):
    with pytest.raises(CatalogError, match="does not exist.*make catalog"):
        validate_json(tmp_path / "nope.json")
    with pytest.raises(CatalogError, match="make catalog"):
        load_catalog(tmp_path / "nope.json")


def test_validate_json_accepts_a_minimal_hand_written_file(tmp_path):
    path = tmp_path / "it.json"
    path.write_text(json.dumps([{
        "name": "c-4x-amd64-linux", "architecture": "amd64", "resources": {"cpu": "4", "memory": "16384Mi"},
        "offerings": [{"Price": 0.1, "Requirements": [req(cat.CAPACITY_TYPE, "In", "spot"),
                                                      req(cat.ZONE, "In", "test-zone-a")]}],
    }]))
    (it,) = validate_json(path)
    assert (it.vcpu, it.memory_mib, it.pods, it.family) == (4, 16384, cat.DEFAULT_PODS, "c")
    (o,) = load_catalog(path).offerings
    assert o.labels[cat.KWOK_MEMORY] == "16Gi" and o.labels[cat.KWOK_SIZE] == "4"
    assert o.labels[cat.ZONE] == "test-zone-a"


def test_load_catalog_is_cached_until_the_file_changes(tmp_path):
    assert load_catalog() is load_catalog(CATALOG_JSON)
    path = tmp_path / "it.json"
    generate(out=path)
    first = load_catalog(path)
    assert load_catalog(path) is first
    path.write_text(path.read_text().replace('"Price": 0.096', '"Price": 0.1', 1) + " ")
    assert load_catalog(path) is not first
