{{/* vim: set filetype=mustache: */}}
{{/*
The chart name, or nameOverride.
*/}}
{{- define "federated-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The full name of the release's resources. As in the original federated-gateway chart, a release
name that already contains the chart name is used as it is, so an existing install keeps its
resource names.
*/}}
{{- define "federated-gateway.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "federated-gateway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Selector labels. These are the original chart's (a Deployment's selector cannot change on
upgrade), so they must stay exactly as they are.
*/}}
{{- define "federated-gateway.selectorLabels" -}}
app: {{ include "federated-gateway.name" . }}
component: federated-gateway
{{- end -}}

{{- define "federated-gateway.labels" -}}
{{ include "federated-gateway.selectorLabels" . }}
app.kubernetes.io/name: {{ include "federated-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: federated-gateway
app.kubernetes.io/part-of: openfaas
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ include "federated-gateway.chart" . }}
{{- end -}}

{{- define "federated-gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "federated-gateway.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
Required values, checked once with messages that say what to set.
*/}}
{{- define "federated-gateway.issuer" -}}
{{- required "issuer is required: set the OIDC issuer URL exactly as tokens carry it in \"iss\", e.g. --set issuer=https://keycloak.example.com/realms/openfaas" .Values.issuer -}}
{{- end -}}

{{- define "federated-gateway.audience" -}}
{{- $aud := .Values.audience -}}
{{- if kindIs "slice" $aud -}}
{{- $aud = join "," $aud -}}
{{- end -}}
{{- required "audience is required: set the audience(s) this gateway accepts, e.g. --set audience=fed-gw.example.com (comma-separated or a list for several)" $aud -}}
{{- end -}}

{{/*
A duration value as the gateway reads it: strings as they are, numbers as whole seconds
(Helm reads numbers as floats, which would otherwise print as 1e+06).
*/}}
{{- define "federated-gateway.duration" -}}
{{- if kindIs "string" . -}}
{{- . -}}
{{- else -}}
{{- . | int64 -}}
{{- end -}}
{{- end -}}

{{/*
A duration value in seconds (a decimal number), for checks made while rendering.
*/}}
{{- define "federated-gateway.seconds" -}}
{{- $v := include "federated-gateway.duration" . -}}
{{- if regexMatch "^[0-9]+$" $v -}}
{{- $v -}}
{{- else -}}
{{- $units := dict "h" 3600.0 "m" 60.0 "s" 1.0 "ms" 0.001 "us" 0.000001 "µs" 0.000001 "ns" 0.000000001 -}}
{{- $total := 0.0 -}}
{{- range $part := regexFindAll "[0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h)" $v -1 -}}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $part -}}
{{- $unit := trimPrefix $number $part -}}
{{- $total = addf $total (mulf ($number | float64) (get $units $unit)) -}}
{{- end -}}
{{- $total -}}
{{- end -}}
{{- end -}}

{{/*
The TCP port of an http(s) URL: its explicit port, else 443 for https and 80 for http.
*/}}
{{- define "federated-gateway.urlPort" -}}
{{- $u := urlParse . -}}
{{- $port := regexFind ":[0-9]+$" $u.host | trimPrefix ":" -}}
{{- if $port -}}
{{- $port -}}
{{- else if eq (lower $u.scheme) "https" -}}
443
{{- else -}}
80
{{- end -}}
{{- end -}}

{{/*
Checks across values that a schema cannot express; fails rendering with a reason.
*/}}
{{- define "federated-gateway.validate" -}}
{{- $drain := include "federated-gateway.seconds" .Values.shutdownTimeout | float64 -}}
{{- $needed := addf $drain .Values.preStopSleepSeconds -}}
{{- if le (float64 .Values.terminationGracePeriodSeconds) $needed -}}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed preStopSleepSeconds (%d) plus shutdownTimeout (%s), or Kubernetes kills the gateway while it drains" (int64 .Values.terminationGracePeriodSeconds) (int64 .Values.preStopSleepSeconds) (include "federated-gateway.duration" .Values.shutdownTimeout)) -}}
{{- end -}}
{{- if and .Values.audit.webhook.secretName (not .Values.audit.webhook.url) -}}
{{- fail "audit.webhook.secretName is set but audit.webhook.url is empty: set the webhook URL, or clear secretName" -}}
{{- end -}}
{{- if and .Values.audit.webhook.url (not .Values.audit.webhook.secretName) -}}
{{- fail "audit.webhook.url needs audit.webhook.secretName: the secret holding the HMAC key that signs audit events, so that receivers can check them" -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled (lt (int64 .Values.autoscaling.maxReplicas) (int64 .Values.autoscaling.minReplicas)) -}}
{{- fail (printf "autoscaling.maxReplicas (%d) must be at least autoscaling.minReplicas (%d)" (int64 .Values.autoscaling.maxReplicas) (int64 .Values.autoscaling.minReplicas)) -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled (not .Values.autoscaling.targetCPUUtilizationPercentage) (not .Values.autoscaling.targetMemoryUtilizationPercentage) -}}
{{- fail "autoscaling is enabled but neither autoscaling.targetCPUUtilizationPercentage nor autoscaling.targetMemoryUtilizationPercentage is set" -}}
{{- end -}}
{{- if and .Values.serviceMonitor.enabled (gt (include "federated-gateway.seconds" .Values.serviceMonitor.scrapeTimeout | float64) (include "federated-gateway.seconds" .Values.serviceMonitor.interval | float64)) -}}
{{- fail (printf "serviceMonitor.scrapeTimeout (%s) must not exceed serviceMonitor.interval (%s)" .Values.serviceMonitor.scrapeTimeout .Values.serviceMonitor.interval) -}}
{{- end -}}
{{- if and .Values.ingress.enabled (not .Values.ingress.hosts) -}}
{{- fail "ingress.enabled is true but ingress.hosts is empty" -}}
{{- end -}}
{{- end -}}

{{/*
An int-or-percent value: numbers as integers, percentages quoted.
*/}}
{{- define "federated-gateway.intOrPercent" -}}
{{- if kindIs "string" . -}}
{{- . | quote -}}
{{- else -}}
{{- . | int64 -}}
{{- end -}}
{{- end -}}
