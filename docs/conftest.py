"""pytest collects the ``>>>`` examples of the markdown pages here (``--doctest-glob=*.md``).

It must not import the Sphinx configuration or the gallery scripts (``--doctest-modules``): the
gallery runs when the site is built (``make docs``), not in the test suite.
"""

collect_ignore = ["conf.py"]
collect_ignore_glob = ["examples/*", "auto_examples/*", "_build/*", "api/*", "benchmarks/*", "experiments/*"]
