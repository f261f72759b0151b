package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// row is one line of the result table; see the package comment for the
// meaning of each column.
type row struct {
	scenario, params, registrar, baseline, yardstick, ratio, goal, verdict string
}

type table struct{ rows []row }

func (t *table) add(r row) {
	t.rows = append(t.rows, r)
	fmt.Fprintf(progress, "    %s | %s | registrar %s | baseline %s | yardstick %s | %s %s\n",
		r.scenario, r.params, r.registrar, r.baseline, r.yardstick, r.goal, r.verdict)
}

// print writes the rows ordered by scenario number (stable, so rows of one
// scenario keep the order they were measured in).
func (t *table) print(w io.Writer) {
	rows := slices.Clone(t.rows)
	sort.SliceStable(rows, func(i, j int) bool { return scenarioNumber(rows[i].scenario) < scenarioNumber(rows[j].scenario) })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tparameters\tregistrar\tnaive baseline\tyardstick\tratio\tgoal\tverdict")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			r.scenario, r.params, dash(r.registrar), dash(r.baseline), dash(r.yardstick), dash(r.ratio), dash(r.goal), dash(r.verdict))
	}
	_ = tw.Flush()
}

func scenarioNumber(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

func mib(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

func signedMiB(b float64) string { return fmt.Sprintf("%+.1f MiB", b/(1<<20)) }

func ratio(a, b time.Duration) string {
	if b <= 0 {
		return ""
	}
	return fmt.Sprintf("%.1fx", a.Seconds()/b.Seconds())
}

// vsFloor is took against the plain client's floor for n (a Secret and
// its Event per registration), or "" when scenario 1 did not run.
func (b *bench) vsFloor(n int, took time.Duration) string {
	if b.floor[n] <= 0 {
		return ""
	}
	return fmt.Sprintf("; %s the Secret+Event floor", ratio(took, b.floor[n]))
}

// percentile of ds (sorted in place), nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(math.Ceil(p/100*float64(len(ds)))) - 1
	return ds[max(0, min(i, len(ds)-1))]
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ",")
}
