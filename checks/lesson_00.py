"""Lesson 00, setup and tour: the environment every later lesson relies on is healthy."""

from workshop.builders import cluster
from workshop.grading import core as grading
from workshop.platform import defaults as platform

NODEPOOLS: list[str] = []  # this lesson creates nothing; reset has nothing to remove

GENERAL, GPU = platform.DEFAULT_NODEPOOLS

LESSON = grading.Lesson(0, "Setup and tour", [
    grading.Exercise("0.1", "The environment is healthy", [
        cluster.cluster_reachable("0.1.api"),
        cluster.karpenter_running("0.1.karpenter"),
        cluster.nodeclass_ready("0.1.nodeclass"),
        cluster.default_nodepool_intact("0.1.general-purpose", GENERAL),
        cluster.default_nodepool_intact("0.1.gpu", GPU),
    ]),
])
