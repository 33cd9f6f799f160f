"""The tools that explain networks (DESIGN's layer 11): `cnnlab.tools.summary` gives `cnnlab.summary`,
`cnnlab.Summary` and `cnnlab.receptive_field` (the module keeps its name here: the function is exported
by the package above, so that ``cnnlab.summary`` is the function, as torchinfo's)."""
