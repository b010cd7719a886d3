"""The platform's own tools: default NodePools, the custom-pool request generator, the way to EKS."""
