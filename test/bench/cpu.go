package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat;
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// cpuSeconds is the user plus system CPU time pid has used.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; fields count from after its ")".
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	// utime and stime are fields 14 and 15 of stat, 12 and 13 after ")".
	u, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parsing /proc/%d/stat", pid)
	}
	return (u + st) / clockTicks, nil
}

// controlPlanePIDs finds the kube-apiserver and etcd envtest started as
// children of this process.
func controlPlanePIDs() map[string]int {
	out := map[string]int{}
	self := os.Getpid()
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		comm := s[open+1 : end]
		f := strings.Fields(s[end+1:])
		if len(f) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == self && (comm == "kube-apiserver" || comm == "etcd") {
			out[comm] = pid
		}
	}
	return out
}

// cpuSample is the CPU time used so far by the control plane, this process
// (the load generator and watches) and optionally a process under test.
type cpuSample map[string]float64

func (b *bench) cpu(p *proc) cpuSample {
	s := cpuSample{}
	for name, pid := range b.cpPIDs {
		if v, err := cpuSeconds(pid); err == nil {
			s[name] = v
		}
	}
	if v, err := cpuSeconds(os.Getpid()); err == nil {
		s["bench"] = v
	}
	if p != nil {
		if v, err := cpuSeconds(p.Pid()); err == nil {
			s[p.Name] = v
		}
	}
	return s
}

// since describes the CPU seconds used after earlier, by process.
func (s cpuSample) since(earlier cpuSample) string {
	var parts []string
	for _, name := range []string{"registrar", "naive-baseline", "kube-apiserver", "etcd", "bench"} {
		if v, ok := s[name]; ok {
			parts = append(parts, fmt.Sprintf("%s %.1f s", name, v-earlier[name]))
		}
	}
	return "CPU " + strings.Join(parts, ", ")
}

// total is the CPU seconds of every process in the sample.
func (s cpuSample) total() float64 {
	t := 0.0
	for _, v := range s {
		t += v
	}
	return t
}
