#!/usr/bin/env bash
# Mutation testing of pkg/reconcile with gremlins, in two passes:
#
#  1. unit: every file of pkg/reconcile against its own unit tests and the
#     fuzz seed corpus (seconds per mutant);
#  2. integration: the files that hold the safety rules (the reconcile
#     pipeline, deletion proof, collision and foreign-Secret checks, the
#     writes) against the unit and integration tests (a real kube-apiserver
#     and etcd; about a minute per mutant). The process-level fault tests,
#     which start the registrar binary and take minutes, are left out, as
#     are the chart suite's tests (its TestMain still starts an API server).
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

# The files whose rules only the integration tests reach.
safety_files='reconciler.go|apply.go|vcluster.go|credentials.go'
# Left out of pass 2: the integration tests that launch the registrar
# binary and take minutes, and the chart suite's tests.
slow_tests='^Test(KillMidBurstThenRestart|RecoversFromAPIServerOutage|LeaderElectionFailover|ArgoCDConnectsToRegisteredVCluster|Lint|DefaultsDeployHardenedRegistrar|DefaultRBACIsExact|WatchNamespacesUseRoles|ValuesMapToFlags|LabelsAnnotationsAndScheduling|ServiceMonitorSelectsMetricsService|BadValuesAreRejected|RBACSufficesClusterWide|RBACWatchNamespacesConfinesSecrets|ManifestsApplyToAPIServer|StrictValidationRefusesUnknownFields)$'

echo "== pass 1: pkg/reconcile against its unit tests"
"$gremlins" unleash --workers 2 --timeout-coefficient 5 -S lt \
  -o "$out/unit.json" ./pkg/reconcile

echo
echo "== pass 2: $safety_files against the unit and integration tests"
exclude=()
for f in pkg/reconcile/*.go; do
  base=$(basename "$f")
  [[ $base == *_test.go ]] && continue
  [[ $base =~ ^($safety_files)$ ]] || exclude+=(-E "^pkg/reconcile/$base\$")
done
GOFLAGS="-skip=$slow_tests" "$gremlins" unleash --integration --coverpkg ./pkg/reconcile \
  --workers 1 --timeout-coefficient 3 -S lt "${exclude[@]}" \
  -o "$out/integration.json" .
