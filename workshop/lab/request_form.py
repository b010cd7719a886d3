"""The platform's NodePool request form, for the notebook (ipywidgets).

    form = request_form()            # a blank form; request_form(team="vision") pre-fills
    form                             # shows it; the preview follows every keystroke

Fields: team, vCPU, memory (Gi), GPUs, capacity types, instance families (from the catalog,
grouped by category, each with its vCPU, memory and price range), extra taints and labels.
The preview shows what the platform's generator (workshop/platform/request.py, the same one
`workshop request` runs) makes of it: problems and warnings, the NodePool YAML, the request
text, what the pool admits and what it costs at its limits. "Submit" applies the pool as the
platform team would. The form holds no rules of its own: it only reads widgets into a
`Request`, and shows what the generator says.
"""

from __future__ import annotations

import html

import ipywidgets as w

from workshop.instances import catalog
from workshop.platform import request as pr
from workshop.errors import WorkshopError

CAPACITY_CHOICES = [
    ("platform default", ()),  # on-demand and spot; GPU pools on-demand
    ("on-demand only", ("on-demand",)),
    ("spot only", ("spot",)),
    ("on-demand and spot", ("on-demand", "spot")),
]
_LABEL_STYLE = {"description_width": "110px"}


def _pre(text: str) -> str:
    return f"<pre style='margin:0;font-size:12px;line-height:1.3'>{html.escape(text)}</pre>"


class RequestForm:
    """The widgets, the Request they describe, and the generator's view of it."""

    def __init__(self, cat: catalog.Catalog | None = None, team: str = "", vcpu: int = 0,
                 memory_gi: int = 0, gpus: int = 0, families: tuple[str, ...] = (),
                 capacity_types: tuple[str, ...] = (), taints: str = "", labels: str = ""):
        self.catalog = cat or catalog.load_catalog()
        self.applied: list = []
        self.team = w.Text(value=team, description="team", placeholder="e.g. vision",
                           style=_LABEL_STYLE)
        self.vcpu = w.BoundedIntText(value=vcpu, min=0, max=100_000, description="vCPU limit",
                                     style=_LABEL_STYLE)
        self.memory_gi = w.BoundedIntText(value=memory_gi, min=0, max=1_000_000,
                                          description="memory (Gi)", style=_LABEL_STYLE)
        self.gpus = w.BoundedIntText(value=gpus, min=0, max=10_000, description="GPUs",
                                     style=_LABEL_STYLE)
        self.capacity = w.Dropdown(options=CAPACITY_CHOICES, value=tuple(capacity_types),
                                   description="capacity", style=_LABEL_STYLE,
                                   layout=w.Layout(width="440px"))
        self.families: dict[str, w.Checkbox] = {}
        groups = []
        for category, fams in pr.families_by_category(self.catalog).items():
            rows = []
            for fam in fams:
                box = w.Checkbox(value=fam.name in families, description=fam.name,
                                 indent=False, layout=w.Layout(width="64px"))
                self.families[fam.name] = box
                rows.append(w.HBox([box, w.HTML(
                    f"<small style='white-space:nowrap'>{fam.arch} · "
                    f"{html.escape(fam.shape())}</small>")]))
            groups.append(w.VBox([w.HTML(f"<b>{html.escape(category)}</b>"), *rows]))
        self.taints = w.Textarea(value=taints, description="extra taints",
                                 placeholder="key=value:Effect, one a line\n"
                                 "e.g. team=vision:NoSchedule", style=_LABEL_STYLE,
                                 layout=w.Layout(width="440px", height="56px"))
        self.labels = w.Textarea(value=labels, description="extra labels",
                                 placeholder="key=value, one a line\ne.g. team=vision",
                                 style=_LABEL_STYLE, layout=w.Layout(width="440px", height="56px"))
        self.problems = w.HTML()
        self.admits = w.HTML()
        self.nodepool_yaml = w.HTML()
        self.text = w.HTML()
        self.status = w.HTML()
        self.submit_button = w.Button(description="submit", button_style="primary",
                                      icon="paper-plane",
                                      tooltip="apply the NodePool, as the platform team would")
        self.submit_button.on_click(self.submit)
        for widget in (self.team, self.vcpu, self.memory_gi, self.gpus, self.capacity,
                       self.taints, self.labels, *self.families.values()):
            widget.observe(self.refresh, names="value")
        preview = w.Tab(children=[self.nodepool_yaml, self.text])
        preview.set_title(0, "NodePool")
        preview.set_title(1, "request text")
        fields = w.VBox([self.team, self.vcpu, self.memory_gi, self.gpus, self.capacity,
                         self.taints, self.labels])
        self.widget = w.VBox([
            w.HTML("<h3 style='margin:4px 0'>Custom NodePool request</h3>"),
            w.HBox([fields, w.VBox([self.problems, self.admits],
                                   layout=w.Layout(margin="0 0 0 16px", width="50%"))]),
            w.HTML("<b>instance families</b>"),
            w.GridBox(groups, layout=w.Layout(
                grid_template_columns="repeat(auto-fill, minmax(380px, 1fr))",
                grid_gap="4px 24px")),
            preview,
            w.HBox([self.submit_button, self.status]),
        ])
        self.refresh()

    # ------------------------------------------------------------ reading and previewing

    def request(self) -> pr.Request:
        return pr.Request(
            team=self.team.value.strip(), vcpu=self.vcpu.value, memory_gi=self.memory_gi.value,
            gpus=self.gpus.value,
            families=tuple(name for name, box in self.families.items() if box.value),
            taints=pr.split_items(self.taints.value), labels=pr.split_items(self.labels.value),
            capacity_types=tuple(self.capacity.value),
        )

    def check(self) -> pr.Problems:
        return pr.validate(self.request(), self.catalog)

    def refresh(self, _change=None) -> None:
        req = self.request()
        problems = pr.validate(req, self.catalog)
        rows = [f"<div style='color:#c62828'>✗ {html.escape(e)}</div>" for e in problems.errors]
        rows += [f"<div style='color:#b26a00'>⚠ {html.escape(m)}</div>" for m in problems.warnings]
        if problems.ok:
            rows.insert(0, "<div style='color:#2e7d32'>✓ the platform can make this pool</div>")
        self.problems.value = "".join(rows)
        self.admits.value = "<br>".join(html.escape(line)
                                        for line in pr.preview(req, self.catalog).lines())
        if problems.ok:
            self.nodepool_yaml.value = _pre(pr.to_yaml(pr.nodepool(req)))
        else:
            self.nodepool_yaml.value = "<i>fix the problems above to see the NodePool</i>"
        self.text.value = _pre(pr.request_text(req, self.catalog))
        self.submit_button.disabled = not problems.ok

    # ------------------------------------------------------------ submitting

    def submit(self, _button=None) -> list:
        """Apply the pool (server-side, as the platform team would); say what happened."""
        try:
            self.applied = pr.submit(self.request(), self.catalog)
        except WorkshopError as exc:
            fix = f" <i>fix:</i> {html.escape(exc.fix)}" if exc.fix else ""
            self.status.value = (f"<span style='color:#c62828'>✗ {html.escape(exc.message)}"
                                 f"</span>{fix}")
            return []
        self.status.value = ("<span style='color:#2e7d32'>✓ "
                             + html.escape(", ".join(str(a) for a in self.applied)) + "</span>")
        return self.applied

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def request_form(**prefill) -> RequestForm:
    """A request form; keyword arguments pre-fill it (team, vcpu, memory_gi, gpus, families,
    capacity_types, taints, labels)."""
    return RequestForm(**prefill)
