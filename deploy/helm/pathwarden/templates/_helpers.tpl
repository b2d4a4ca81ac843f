{{/* Names: "<release>-webhook" unless fullnameOverride; used by every object. */}}
{{- define "pathwarden.fullname" -}}
{{- default (printf "%s-webhook" .Release.Name) .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{- define "pathwarden.selectorLabels" -}}
app.kubernetes.io/name: pathwarden
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: webhook
{{- end }}

{{- define "pathwarden.labels" -}}
{{ include "pathwarden.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "pathwarden.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* The Secret with tls.crt, tls.key and ca.crt that the pods mount. */}}
{{- define "pathwarden.tlsSecret" -}}
{{ include "pathwarden.fullname" . }}-tls
{{- end }}

{{/* Every name the API server or a client may use for the Service. */}}
{{- define "pathwarden.dnsNames" -}}
{{- $name := include "pathwarden.fullname" . -}}
{{- $ns := .Release.Namespace -}}
{{- list $name (printf "%s.%s" $name $ns) (printf "%s.%s.svc" $name $ns) (printf "%s.%s.svc.cluster.local" $name $ns) | toJson -}}
{{- end }}

{{/* The ConfigMap of waiver and campaign files mounted at /etc/pathwarden/governance, or
     nothing: the user's (governance.existingConfigMap) or the chart's (governance.files). */}}
{{- define "pathwarden.governanceConfigMap" -}}
{{- if and .Values.governance.files .Values.governance.existingConfigMap -}}
{{- fail "governance: set files or existingConfigMap, not both" -}}
{{- end -}}
{{- if .Values.governance.existingConfigMap -}}
{{- .Values.governance.existingConfigMap -}}
{{- else if .Values.governance.files -}}
{{- include "pathwarden.fullname" . }}-governance
{{- end -}}
{{- end }}

{{/* The ConfigMap of catalog files mounted at /etc/pathwarden/catalog, or nothing. */}}
{{- define "pathwarden.catalogConfigMap" -}}
{{- if and .Values.catalog.files .Values.catalog.existingConfigMap -}}
{{- fail "catalog: set files or existingConfigMap, not both" -}}
{{- end -}}
{{- if .Values.catalog.existingConfigMap -}}
{{- .Values.catalog.existingConfigMap -}}
{{- else if .Values.catalog.files -}}
{{- include "pathwarden.fullname" . }}-catalog
{{- end -}}
{{- end }}

{{/* pathwarden's configuration file; the chart owns where it listens and what it is called,
     and points governance.dirs and scan.catalog at the mounted ConfigMaps. */}}
{{- define "pathwarden.config" -}}
{{- $fixed := dict "host" "0.0.0.0" "port" 8443 "cert_file" "/etc/pathwarden/tls/tls.crt" "key_file" "/etc/pathwarden/tls/tls.key" "service" (include "pathwarden.fullname" .) "namespace" .Release.Namespace -}}
{{- $webhook := merge $fixed (deepCopy .Values.config.webhook) -}}
{{- $config := merge (dict "webhook" $webhook) (omit (deepCopy .Values.config) "webhook") -}}
{{- if include "pathwarden.governanceConfigMap" . -}}
{{- $governance := default (dict) (get $config "governance") -}}
{{- $_ := set $governance "dirs" (append (default (list) (get $governance "dirs")) "/etc/pathwarden/governance" | uniq) -}}
{{- $_ := set $config "governance" $governance -}}
{{- end -}}
{{- if include "pathwarden.catalogConfigMap" . -}}
{{- $scan := default (dict) (get $config "scan") -}}
{{- $_ := set $scan "catalog" (append (default (list) (get $scan "catalog")) "/etc/pathwarden/catalog" | uniq) -}}
{{- $_ := set $config "scan" $scan -}}
{{- end -}}
{{- toYaml $config -}}
{{- end }}
