"""The local stack: building the binaries, the control plane, Karpenter, their lifecycle."""
