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
The access file (access.rules or access.existingConfigMap): "true" when one is configured, else "".
*/}}
{{- define "federated-gateway.accessRulesGiven" -}}
{{- $rules := .Values.access.rules -}}
{{- if kindIs "string" $rules -}}
{{- if trim $rules -}}true{{- end -}}
{{- else if $rules -}}true{{- end -}}
{{- end -}}

{{- define "federated-gateway.accessEnabled" -}}
{{- if or (include "federated-gateway.accessRulesGiven" .) .Values.access.existingConfigMap -}}true{{- end -}}
{{- end -}}

{{/*
The ConfigMap holding the access file: the user's existingConfigMap, else the rendered one.
*/}}
{{- define "federated-gateway.accessConfigMapName" -}}
{{- if .Values.access.existingConfigMap -}}
{{- .Values.access.existingConfigMap -}}
{{- else -}}
{{- printf "%s-access" (include "federated-gateway.fullname" . | trunc 56 | trimSuffix "-") -}}
{{- end -}}
{{- end -}}

{{- define "federated-gateway.accessFile" -}}
{{- printf "/var/run/gateway-access/%s" .Values.access.key -}}
{{- end -}}

{{/*
The objects of access.rules as a JSON list: a list as given, a string parsed document by document
(or as a JSON array). Used to find the JwtIssuers; the gateway itself checks everything else.
*/}}
{{- define "federated-gateway.accessObjects" -}}
{{- $rules := .Values.access.rules -}}
{{- $objects := list -}}
{{- if not (include "federated-gateway.accessRulesGiven" .) -}}
{{- else if not (kindIs "string" $rules) -}}
{{- $objects = $rules -}}
{{- else if hasPrefix "[" (trim $rules) -}}
{{- $objects = fromYamlArray $rules -}}
{{- range $objects -}}
{{- if not (kindIs "map" .) -}}
{{- fail (printf "access.rules is not a JSON array of objects: %v" .) -}}
{{- end -}}
{{- end -}}
{{- else -}}
{{- range $i, $doc := regexSplit "(?m)^---(?:[ \t]|$)" $rules -1 -}}
{{- if trim (regexReplaceAll "(?m)^[ \t]*#.*$" $doc "") -}}
{{- $object := fromYaml $doc -}}
{{- if hasKey $object "Error" -}}
{{- fail (printf "access.rules: document %d is not a YAML mapping: %s" (add1 $i) (get $object "Error")) -}}
{{- end -}}
{{- $objects = append $objects $object -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $objects -}}
{{- end -}}

{{/*
The JwtIssuer specs of access.rules as a JSON list.
*/}}
{{- define "federated-gateway.accessIssuers" -}}
{{- $issuers := list -}}
{{- range (include "federated-gateway.accessObjects" . | fromJsonArray) -}}
{{- if and (kindIs "map" .) (eq (toString .kind) "JwtIssuer") (kindIs "map" .spec) -}}
{{- $issuers = append $issuers .spec -}}
{{- end -}}
{{- end -}}
{{- toJson $issuers -}}
{{- end -}}

{{/*
Required values, checked once with messages that say what to set. With an access file, issuer
and audience are optional (its JwtIssuers are issuers too) but go together; an empty result then
means no issuer from the environment.
*/}}
{{- define "federated-gateway.audienceValue" -}}
{{- $aud := .Values.audience -}}
{{- if kindIs "slice" $aud -}}
{{- $aud = join "," $aud -}}
{{- end -}}
{{- $aud -}}
{{- end -}}

{{- define "federated-gateway.issuer" -}}
{{- if .Values.issuer -}}
{{- .Values.issuer -}}
{{- else if not (include "federated-gateway.accessEnabled" .) -}}
{{- fail "issuer is required: set the OIDC issuer URL exactly as tokens carry it in \"iss\", e.g. --set issuer=https://keycloak.example.com/realms/openfaas, or give an access file whose JwtIssuers are the issuers (access.rules or access.existingConfigMap)" -}}
{{- else if include "federated-gateway.audienceValue" . -}}
{{- fail "issuer is required with audience: set both (one more issuer beside the access file's JwtIssuers), or neither" -}}
{{- end -}}
{{- end -}}

{{- define "federated-gateway.audience" -}}
{{- $aud := include "federated-gateway.audienceValue" . -}}
{{- if $aud -}}
{{- $aud -}}
{{- else if not (include "federated-gateway.accessEnabled" .) -}}
{{- fail "audience is required: set the audience(s) this gateway accepts, e.g. --set audience=fed-gw.example.com (comma-separated or a list for several)" -}}
{{- else if .Values.issuer -}}
{{- fail "audience is required with issuer: set the audience(s) that tokens of issuer carry, e.g. --set audience=fed-gw.example.com, or leave issuer unset to accept only the access file's JwtIssuers" -}}
{{- end -}}
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
{{- if and (include "federated-gateway.accessRulesGiven" .) .Values.access.existingConfigMap -}}
{{- fail (printf "access.rules and access.existingConfigMap are both set: give the access file one way, either its content in access.rules or the name of your ConfigMap (%s) in access.existingConfigMap" .Values.access.existingConfigMap) -}}
{{- end -}}
{{- $_ := include "federated-gateway.issuer" . -}}
{{- $_ = include "federated-gateway.audience" . -}}
{{- if and (include "federated-gateway.accessRulesGiven" .) (not .Values.issuer) (eq (include "federated-gateway.accessIssuers" .) "[]") -}}
{{- fail "access.rules holds no JwtIssuer and issuer is unset, so no token could be verified: add a JwtIssuer to access.rules, or set issuer and audience" -}}
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
