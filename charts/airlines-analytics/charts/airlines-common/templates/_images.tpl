{{/*
Image reference: registry (own, else global.imageRegistry) / repository : tag [@digest].
Usage: include "airlines.image" (dict "ctx" $ "image" .Values.image)
*/}}
{{- define "airlines.image" -}}
{{- $global := .ctx.Values.global | default dict -}}
{{- $registry := default $global.imageRegistry .image.registry -}}
{{- $ref := printf "%s:%s" .image.repository (required "image.tag is required (pinned, never latest)" .image.tag) -}}
{{- if eq (toString .image.tag) "latest" -}}
{{- fail "image.tag: 'latest' is not allowed: pin a version" -}}
{{- end -}}
{{- if $registry -}}{{- $ref = printf "%s/%s" $registry $ref -}}{{- end -}}
{{- if .image.digest -}}{{- $ref = printf "%s@%s" $ref .image.digest -}}{{- end -}}
{{- $ref -}}
{{- end -}}

{{/* imagePullSecrets block of a pod spec (global.imagePullSecrets). */}}
{{- define "airlines.imagePullSecrets" -}}
{{- $global := .Values.global | default dict -}}
{{- with $global.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Project images: include "airlines.projectImage" (dict "ctx" $ "name" "producer") */}}
{{- define "airlines.projectImage" -}}
{{- include "airlines.image" (dict "ctx" .ctx "image" (index .ctx.Values.global.images .name)) -}}
{{- end -}}
