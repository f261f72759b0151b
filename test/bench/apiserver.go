package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// requests counts the API server's requests by verb and resource
// (apiserver_request_total from its own /metrics), and its requests to
// etcd by operation and resource under keys prefixed etcdKey
// (etcd_requests_total, k8s.io/apiserver pkg/storage/etcd3/metrics): what
// the watch cache answered never reaches etcd. While only the process
// under test is busy, a difference of two samples is that process's
// request mix: the profile of where its time goes.
type requests map[string]float64

const etcdKey = "etcd "

func (cl *cluster) requests(ctx context.Context) (requests, error) {
	raw, err := cl.cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the API server's metrics: %w", err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(raw)))
	if err != nil {
		return nil, err
	}
	out := requests{}
	for _, m := range families["etcd_requests_total"].GetMetric() {
		l := labelsOf(m)
		out[etcdKey+l["operation"]+" "+l["resource"]] += m.Counter.GetValue()
	}
	for _, m := range families["apiserver_request_total"].GetMetric() {
		l := labelsOf(m)
		key := l["verb"] + " " + l["resource"]
		if l["subresource"] != "" {
			key += "/" + l["subresource"]
		}
		out[key] += m.Counter.GetValue()
	}
	return out, nil
}

// labelsOf is a sample's labels by name.
func labelsOf(m *dto.Metric) map[string]string {
	l := map[string]string{}
	for _, p := range m.Label {
		l[p.GetName()] = p.GetValue()
	}
	return l
}

// isRequest says whether key counts a request of the process under test:
// not a watch, not the benchmark's metric scrapes, not a request to etcd.
func isRequest(key string) bool {
	return !strings.HasPrefix(key, "WATCH") && !strings.HasPrefix(key, etcdKey) && key != "GET "
}

// since describes the requests made after earlier, largest first, leaving
// out the watches and metric scrapes of the benchmark itself, then the API
// server's requests to etcd.
func (r requests) since(earlier requests) string {
	api, etcd := map[string]float64{}, map[string]float64{}
	for k, v := range r {
		d := v - earlier[k]
		switch {
		case d <= 0:
		case strings.HasPrefix(k, etcdKey):
			etcd[strings.TrimPrefix(k, etcdKey)] = d
		case isRequest(k):
			api[k] = d
		}
	}
	out := largestFirst(api)
	if len(etcd) > 0 {
		out += "; to etcd: " + largestFirst(etcd)
	}
	return out
}

// largestFirst lists counts, largest first.
func largestFirst(diff map[string]float64) string {
	keys := slices.Collect(maps.Keys(diff))
	slices.SortFunc(keys, func(a, b string) int {
		if diff[a] != diff[b] {
			if diff[a] > diff[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.0f", k, diff[k]))
	}
	return strings.Join(parts, ", ")
}

// total is the number of requests since earlier, watches left out.
func (r requests) total(earlier requests) float64 {
	n := 0.0
	for k, v := range r {
		if d := v - earlier[k]; d > 0 && isRequest(k) {
			n += d
		}
	}
	return n
}

// cpuProfile records the API server's own CPU profile (its /debug/pprof,
// on by default: kube-apiserver --profiling) for the next seconds into
// path. The returned channel receives the outcome once it is written.
func (cl *cluster) cpuProfile(ctx context.Context, seconds int, path string) <-chan error {
	done := make(chan error, 1)
	go func() {
		raw, err := cl.cs.CoreV1().RESTClient().Get().AbsPath("/debug/pprof/profile").
			Param("seconds", strconv.Itoa(seconds)).Timeout(time.Duration(seconds+30) * time.Second).DoRaw(ctx)
		if err == nil {
			err = os.WriteFile(path, raw, 0o644)
		}
		if err != nil {
			err = fmt.Errorf("the API server's CPU profile: %w", err)
		}
		done <- err
	}()
	return done
}
