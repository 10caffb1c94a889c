"""The ``tnas-pipeline`` command line: thin click commands over library functions."""
