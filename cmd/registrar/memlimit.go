package main

import (
	"fmt"
	"math"
	"runtime/debug"
	"strconv"
	"strings"
)

// The chart tells the registrar its container's memory limit through the
// downward API (resourceFieldRef limits.memory, in bytes), and the share of
// it the Go runtime may take as its soft limit. 100% of the limit is too
// high a soft limit: the runtime's own memory outside the heap (stacks,
// metadata) and what it has not yet returned to the kernel count towards the
// container's limit too, so the OOM killer would strike before the collector
// tried harder. 90% is the usual margin (it is KimMachineGun/automemlimit's
// default).
const (
	envMemoryLimit          = "REGISTRAR_MEMORY_LIMIT"
	envMemoryLimitRatio     = "REGISTRAR_MEMORY_LIMIT_RATIO"
	defaultMemoryLimitRatio = 0.9
)

// goMemLimit returns the soft memory limit the Go runtime should keep the
// heap under, from the environment getenv reads, or 0 to leave the
// runtime's own setting. GOMEMLIMIT, when set, wins: the runtime read it at
// start (runtime.readGOMEMLIMIT), and an explicit setting is the operator's.
func goMemLimit(getenv func(string) string) (int64, error) {
	if getenv("GOMEMLIMIT") != "" {
		return 0, nil
	}
	raw := getenv(envMemoryLimit)
	if raw == "" {
		return 0, nil
	}
	limit, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || limit <= 0 {
		return 0, fmt.Errorf("%s=%q: want the container's memory limit in bytes, as the downward API's resourceFieldRef limits.memory gives it; unset it, or set GOMEMLIMIT instead", envMemoryLimit, raw)
	}
	ratio := defaultMemoryLimitRatio
	if r := getenv(envMemoryLimitRatio); r != "" {
		ratio, err = strconv.ParseFloat(r, 64)
		if err != nil || !(ratio > 0 && ratio <= 1) {
			return 0, fmt.Errorf("%s=%q: want a fraction of the memory limit above 0 and at most 1, e.g. 0.9; unset it for %g", envMemoryLimitRatio, r, defaultMemoryLimitRatio)
		}
	}
	return int64(math.Floor(float64(limit) * ratio)), nil
}

// setGoMemLimit gives the Go runtime the soft memory limit goMemLimit
// computes, if any.
func setGoMemLimit(getenv func(string) string) error {
	limit, err := goMemLimit(getenv)
	if err != nil || limit == 0 {
		return err
	}
	debug.SetMemoryLimit(limit)
	return nil
}

// goMemLimitString is the runtime's soft memory limit for a log line:
// "off" when there is none (math.MaxInt64), else MiB.
func goMemLimitString(limit int64) string {
	if limit == math.MaxInt64 {
		return "off"
	}
	return strings.TrimSuffix(strconv.FormatFloat(float64(limit)/(1<<20), 'f', 1, 64), ".0") + "MiB"
}
