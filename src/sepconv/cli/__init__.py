"""The ``sepconv`` command line (thin: parse, call the library, print)."""
