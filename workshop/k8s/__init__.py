"""Kubernetes access and reading the cluster: the client, pods, events, usage, watches."""
