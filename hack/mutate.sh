#!/usr/bin/env bash
# Mutation testing with gremlins, in four passes:
#
#  1. integration: the files that hold the safety rules (the reconcile
#     pipeline, deletion proof, collision and foreign-Secret checks, the
#     writes) against the unit and integration tests (a real kube-apiserver
#     and etcd; a minute or two per mutant). The process-level fault tests,
#     which start the registrar binary and take minutes, are left out, as
#     are the chart suite's tests (its TestMain still starts an API server).
#  2. unit: pkg/registration (the pure build) against its unit tests and
#     fuzz seed corpus;
#  3. unit: pkg/vcluster (kubeconfig parsing, credential refusals, workload
#     marks) against its own unit tests and fuzz seeds;
#  4. unit: pkg/connection (the connection check and its classification)
#     against its own unit tests, which connect to stand-ins on loopback.
#
# watch.go, secretwatch.go and metrics.go are in neither: their mutants
# change which events arrive or what a scrape reports, which the
# integration tests see only through timeouts.
#
# Prints every surviving mutant and each pass's kill rate ("test efficacy":
# killed / (killed + lived)); JSON results go to OUT.
#
# Usage: GREMLINS=path/to/gremlins hack/mutate.sh OUT
set -euo pipefail

gremlins=${GREMLINS:?set GREMLINS to the gremlins binary (make mutate builds it)}
out=${1:?usage: mutate.sh OUT}
mkdir -p "$out"
out=$(cd "$out" && pwd)

# The files whose rules only the integration tests reach: the pipeline,
# deletion proof, collision and foreign-Secret checks, the writes.
safety_files='reconciler.go|apply.go|vcluster.go|credentials.go|build.go'
# Left out of pass 1: the integration tests that launch the registrar
# binary and take minutes, and the chart suite's tests.
slow_tests='^Test(KillMidBurstThenRestart|RecoversFromAPIServerOutage|LeaderElectionFailover|ArgoCDConnectsToRegisteredVCluster|Lint|DefaultsDeployHardenedRegistrar|DefaultRBACIsExact|WatchNamespacesUseRoles|ValuesMapToFlags|LabelsAnnotationsAndScheduling|ServiceMonitorSelectsMetricsService|BadValuesAreRejected|RBACSufficesClusterWide|RBACWatchNamespacesConfinesSecrets|ManifestsApplyToAPIServer|StrictValidationRefusesUnknownFields)$'

# excluding_all_but FILES PREFIX prints gremlins' -E options for every
# source file of pkg/reconcile whose name FILES (a | list) does not match.
# gremlins matches them against paths relative to where it runs: PREFIX is
# pkg/reconcile/ from the module root.
excluding_all_but() {
  local f base
  for f in pkg/reconcile/*.go; do
    base=$(basename "$f")
    [[ $base == *_test.go || $base =~ ^($1)$ ]] || printf -- '-E ^%s%s$ ' "$2" "$base"
  done
}

echo "== pass 1: $safety_files against the unit and integration tests"
GOFLAGS="-skip=$slow_tests" "$gremlins" unleash --integration --coverpkg ./pkg/reconcile \
  --workers 1 --timeout-coefficient 3 -S lt $(excluding_all_but "$safety_files" pkg/reconcile/) \
  -o "$out/integration.json" .

echo
echo "== pass 2: pkg/registration against its unit tests"
"$gremlins" unleash --workers 1 --timeout-coefficient 30 -S lt -o "$out/registration.json" ./pkg/registration

echo
echo "== pass 3: pkg/vcluster against its unit tests"
"$gremlins" unleash --workers 1 --timeout-coefficient 30 -S lt -o "$out/vcluster.json" ./pkg/vcluster

echo
echo "== pass 4: pkg/connection against its unit tests"
"$gremlins" unleash --workers 1 --timeout-coefficient 30 -S lt -o "$out/connection.json" ./pkg/connection
