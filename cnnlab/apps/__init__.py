"""The lecture's applications end to end, built on the library: image retrieval (`retrieval`) and semantic
segmentation (`segmentation`)."""
