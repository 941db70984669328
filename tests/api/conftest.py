from tests.api import tally


def pytest_runtest_logreport(report):
    if report.when == "call" and "test_openapi_fuzz" in report.nodeid:
        tally.operations += 1
        tally.failed_operations += report.failed
