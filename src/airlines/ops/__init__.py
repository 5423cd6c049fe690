"""Operating a deployment: ``airlines smoke`` (what ``helm test`` runs) and the Kubernetes
API tasks of the chart's hooks."""
