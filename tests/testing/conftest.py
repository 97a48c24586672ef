"""The kit's own tests run the suites in a nested pytest session (pytester)."""

pytest_plugins = ["pytester"]
