{{/* Names and labels shared by every object of the chart. */}}
{{- define "rewardgate.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "rewardgate.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "rewardgate.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end -}}

{{- define "rewardgate.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* terminationGracePeriodSeconds: the preStop pause, the server's drain, and a margin. */}}
{{- define "rewardgate.terminationGrace" -}}
{{- add .Values.drain.preStopSeconds .Values.drain.graceSeconds 10 -}}
{{- end -}}

{{- define "rewardgate.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-env" (include "rewardgate.fullname" .)) -}}
{{- end -}}

{{/* The sandbox as its own pool (sandbox.enabled, mode pool): "true" or "". */}}
{{- define "rewardgate.sandboxPool" -}}
{{- if and .Values.sandbox.enabled (eq .Values.sandbox.mode "pool") }}true{{ end -}}
{{- end -}}

{{/* Cells run in the gateway pods themselves (sandbox.enabled, mode embedded): "true" or "". */}}
{{- define "rewardgate.sandboxEmbedded" -}}
{{- if and .Values.sandbox.enabled (eq .Values.sandbox.mode "embedded") }}true{{ end -}}
{{- end -}}

{{- define "rewardgate.sandboxSelectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: sandbox
{{- end -}}
