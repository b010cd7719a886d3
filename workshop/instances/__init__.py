"""The instance catalog: types, offerings, prices, quantities and EKS's label rules."""
