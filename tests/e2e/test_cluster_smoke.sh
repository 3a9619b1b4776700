#!/usr/bin/env bash
# The local cluster works as the other tests expect: the kwok nodes are Ready; a pod with
# schedulerName foresight is scheduled, runs and completes after its annotated duration;
# its scripted usage ("3 cores for 90 s, then 0.5") is read back from metrics.k8s.io.
# (metrics-server reports a pod only after two 15 s scrapes, hence the long first phase.)
source "$(dirname "$0")/lib.sh"

info "kwok nodes are Ready"
want=$(kubectl get nodes -l type=kwok --no-headers | wc -l)
[ "$want" -ge 1 ] || fail "no kwok nodes"
ready=$(kubectl get nodes -l type=kwok -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True)
[ "$ready" -eq "$want" ] || fail "$ready of $want kwok nodes Ready"

new_namespace smoke; ns=$NS
info "a foresight pod runs, switches usage, and completes (namespace $ns)"
kubectl -n "$ns" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: scripted
  annotations:
    foresight.sh/run-duration: 160s
    kwok.x-k8s.io/usage-cpu: "3"
    kwok.x-k8s.io/usage-memory: 256Mi
    foresight.sh/usage-switch-seconds: "90"
    foresight.sh/usage-cpu-after: 500m
spec:
  schedulerName: foresight
  restartPolicy: Never
  containers:
  - name: work
    image: example.invalid/work:1
    resources:
      requests: {cpu: "1", memory: 128Mi}
YAML

poll 60 "the pod is bound by the foresight scheduler" \
  bash -c "[ -n \"\$(kubectl -n $ns get pod scripted -o jsonpath='{.spec.nodeName}')\" ]"
events=$(kubectl -n "$ns" get events --field-selector involvedObject.name=scripted -o jsonpath='{range .items[*]}{.reportingComponent}{.source.component} {.reason}{"\n"}{end}')
grep -q 'foresight Scheduled' <<<"$events" || fail "the Scheduled event does not come from the foresight scheduler"
poll 60 "the pod is Running" bash -c "[ \"\$(kubectl -n $ns get pod scripted -o jsonpath='{.status.phase}')\" = Running ]"

pod_cpu() { kubectl get --raw "/apis/metrics.k8s.io/v1beta1/namespaces/$ns/pods/scripted" | jq -r '.containers[0].usage.cpu'; }
pod_mem() { kubectl get --raw "/apis/metrics.k8s.io/v1beta1/namespaces/$ns/pods/scripted" | jq -r '.containers[0].usage.memory'; }
cpu_between() { local m; m=$(cpu_milli "$(pod_cpu)"); [ "$m" -ge "$1" ] && [ "$m" -le "$2" ]; }

info "metrics.k8s.io reports about 3 cores first"
poll 85 "pod metrics show ~3 cores" cpu_between 2700 3300
mib=$(mem_mib "$(pod_mem)")
[ "$mib" -ge 240 ] && [ "$mib" -le 270 ] || fail "memory usage $mib MiB, want ~256"
info "then about 0.5 core"
poll 90 "pod metrics show ~0.5 core" cpu_between 400 600

info "the pod completes after its run duration"
started=$(kubectl -n "$ns" get pod scripted -o jsonpath='{.status.startTime}')
poll 150 "the pod Succeeded" bash -c "[ \"\$(kubectl -n $ns get pod scripted -o jsonpath='{.status.phase}')\" = Succeeded ]"
finished=$(kubectl -n "$ns" get pod scripted -o jsonpath='{.status.containerStatuses[0].state.terminated.finishedAt}')
ran=$(( $(date -d "$finished" +%s) - $(date -d "$started" +%s) ))
[ "$ran" -ge 159 ] && [ "$ran" -le 175 ] || fail "the pod ran ${ran}s, want 160s"
echo "ok: scheduled by foresight, usage 3 -> 0.5 cores read back, completed after ${ran}s"
