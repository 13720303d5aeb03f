"""Fixtures of tests/deploy (helpers in deploy_helpers.py and deploy_cluster.py)."""
from deploy_cluster import cluster  # noqa: F401  (fixture)
from deploy_helpers import kubectl_bin, rendered  # noqa: F401  (fixtures)
from testbed_fixture import testbed  # noqa: F401  (fixture)
