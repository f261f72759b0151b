package reconcile

import (
	"testing"
	"time"
)

func TestExpiryStateAndBucket(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	week := 7 * 24 * time.Hour
	cases := []struct {
		annotation string
		state      string
		next       time.Time
		bucket     string
	}{
		{"", expiryUnknown, time.Time{}, "unknown"},
		{"not a time", expiryUnknown, time.Time{}, "unknown"},
		{at(-time.Second), expiryExpired, time.Time{}, "expired"},
		{at(0), expiryExpired, time.Time{}, "expired"},
		{at(time.Hour), expiryExpiring, now.Add(time.Hour), "24h"},
		{at(3 * 24 * time.Hour), expiryExpiring, now.Add(3 * 24 * time.Hour), "7d"},
		{at(week), expiryExpiring, now.Add(week), "7d"},
		{at(20 * 24 * time.Hour), expiryOK, now.Add(13 * 24 * time.Hour), "30d"},
		{at(365 * 24 * time.Hour), expiryOK, now.Add(358 * 24 * time.Hour), "later"},
	}
	for _, tc := range cases {
		state, next := expiryState(tc.annotation, now, week)
		if state != tc.state || !next.Equal(tc.next) {
			t.Errorf("%q: state %s next %v, want %s %v", tc.annotation, state, next, tc.state, tc.next)
		}
		if b := expiryBucket(tc.annotation, now); b != tc.bucket {
			t.Errorf("%q: bucket %s, want %s", tc.annotation, b, tc.bucket)
		}
	}
}
