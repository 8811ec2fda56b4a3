"""Person erasure and export for the graph services: the rules once, in the kit; each
service names its receipt, its cache keyspaces and, if it must, its ownership model."""
