pytest_plugins = [
    "tests.plugins.database",
    "tests.plugins.api",
    "tests.plugins.server",
    "tests.plugins.s3",
]
