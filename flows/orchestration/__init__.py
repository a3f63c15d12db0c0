"""Running the pipeline as a service: the local Prefect server, `bap up`, deployments, alerts, gaps.

Modules are small and import Prefect only where they must, so the CLI can start (or find) the
Prefect server and export PREFECT_API_URL before anything imports `prefect`:
- local_stack:  the local Prefect server, by `prefect server start --background` / `stop` (no Prefect
                import), and `bap up` on it: a worker per work pool and the dashboard until Ctrl-C
- prefect_api:  the few Prefect API calls (pools, deployments, runs) and `prefect deploy --all`
- runners:      the task runner a backfill uses (threads or Dask), chosen from settings
- alerts/hooks: failure and freshness alerts to a webhook; Prefect state hooks
- gaps:         days missing or failed in the warehouse
- ops_flows:    thin Prefect flows over the above, for the deployments in prefect.yaml
"""
