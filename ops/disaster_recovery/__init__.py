"""Seed 7.1 disaster recovery: the failover of an environment's restaurants to its recovery
region (`python -m ops failover`), the switchover back (`python -m ops failback`), their steps and
the AWS calls behind them."""
