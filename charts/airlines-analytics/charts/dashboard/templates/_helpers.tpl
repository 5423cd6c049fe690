{{/*
Rules of the dashboard's values that the schema cannot say (each value alone is
checked there). Mirrors airlines.config.chart.dashboard.DashboardValues; a file per rule
in tests/chart/bad-values/.
*/}}
{{- define "dashboard.validateValues" -}}
{{- $problems := list -}}
{{- $auth := .Values.auth -}}
{{- if and (eq $auth.mode "none") (not $auth.allowInsecure) -}}
{{- $problems = append $problems "dashboard.auth.mode: none needs auth.allowInsecure: true (anyone who reaches the dashboard could then read it)" -}}
{{- end -}}
{{- if and (eq $auth.mode "proxy") (not .Values.allowedFrom) -}}
{{- $problems = append $problems "dashboard.allowedFrom: required with auth.mode proxy (the dashboard trusts whoever reaches it: its NetworkPolicy must admit the authenticating proxy only)" -}}
{{- end -}}
{{- if and $auth.existingSecret (ne $auth.mode "token") -}}
{{- $problems = append $problems (printf "dashboard.auth.existingSecret: only with auth.mode token, not %s" $auth.mode) -}}
{{- end -}}
{{- if and .Values.metrics.enabled (eq (int .Values.metrics.port) (int (include "dashboard.port" .))) -}}
{{- $problems = append $problems (printf "dashboard.metrics.port: %s is the page's port; metrics need their own" (include "dashboard.port" .)) -}}
{{- end -}}
{{- $limits := .Values.global.config.dashboard -}}
{{- if gt (int $limits.maxStreamsPerClient) (int $limits.maxStreams) -}}
{{- $problems = append $problems (printf "global.config.dashboard.maxStreamsPerClient: must not exceed maxStreams (%d > %d)" (int $limits.maxStreamsPerClient) (int $limits.maxStreams)) -}}
{{- end -}}
{{- include "airlines.failOnProblems" $problems -}}
{{- end -}}

{{/* The page's container port (airlines.cli.dashboard.DEFAULT_PORT). */}}
{{- define "dashboard.port" -}}8050{{- end -}}

{{/* The Secret holding the token (mode token): yours, or the one the chart generates. */}}
{{- define "dashboard.tokenSecretName" -}}
{{- default (include "airlines.name" (dict "ctx" . "component" "dashboard-auth")) .Values.auth.existingSecret -}}
{{- end -}}

{{- define "dashboard.tokenSecretKey" -}}
{{- ternary .Values.auth.existingSecretKey "token" (not (empty .Values.auth.existingSecret)) -}}
{{- end -}}

{{/* Where the dashboard reads its token (the Secret's key, mounted as this one file). */}}
{{- define "dashboard.tokenDir" -}}/etc/airlines-dashboard-auth{{- end -}}
