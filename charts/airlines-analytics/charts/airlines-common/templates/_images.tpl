{{/*
Image reference: registry (own, else global.imageRegistry) / repository, then @digest when
one is set (the content itself: the tag is then only documentation), else :tag.
Usage: include "airlines.image" (dict "ctx" $ "image" .Values.image)
*/}}
{{- define "airlines.image" -}}
{{- $global := .ctx.Values.global | default dict -}}
{{- $registry := default $global.imageRegistry .image.registry -}}
{{- $tag := required "image.tag is required (pinned, never latest)" .image.tag -}}
{{- if eq (toString $tag) "latest" -}}
{{- fail "image.tag: 'latest' is not allowed: pin a version" -}}
{{- end -}}
{{- $ref := printf "%s:%s" .image.repository $tag -}}
{{- with .image.digest -}}
{{- if not (regexMatch "^sha256:[a-f0-9]{64}$" .) -}}
{{- fail (printf "image.digest: %q (%s) must be sha256: and 64 lowercase hex digits" . $.image.repository) -}}
{{- end -}}
{{- $ref = printf "%s@%s" $.image.repository . -}}
{{- end -}}
{{- if $registry -}}{{- $ref = printf "%s/%s" $registry $ref -}}{{- end -}}
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
