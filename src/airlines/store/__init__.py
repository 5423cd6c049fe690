"""Every piece of Redis: connecting, forming the cluster, the ACL users, the job's writer
(window rows encoded straight to RESP, per-node pipelines) and the readers of the
analytics. Plain Python: nothing here imports Spark."""
