"""Helpers of the multi-node chaos test (tests/e2e/test_chaos.py): the processes, the client
load, and the checks made afterwards."""
