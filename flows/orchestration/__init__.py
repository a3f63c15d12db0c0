"""Running the pipeline as a service: the local Prefect server, `bap up`, deployments, alerts, gaps.

Modules are small and import Prefect only where they must, so the CLI can start (or find) the
Prefect server and export PREFECT_API_URL before anything imports `prefect`:
- local_server: the local Prefect server, by `prefect server start --background` / `stop` (no Prefect import)
- stack:        `bap up` - server, work pool, deployments, worker and dashboard in one command
- runners:      the task runner a backfill uses (threads or Dask), chosen from settings
- alerts/hooks: failure and freshness alerts to a webhook; Prefect state hooks
- gaps:         days missing or failed in the warehouse
- ops_flows:    thin Prefect flows over the above, for the deployments in prefect.yaml
"""
