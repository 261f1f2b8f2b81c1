"""Speed and accuracy measurements of tf_fastls0; every module here is an absl program."""
