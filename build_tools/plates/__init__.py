"""The licence-plate demo: synthetic plates (`synth`) and the pipeline that reads them."""
