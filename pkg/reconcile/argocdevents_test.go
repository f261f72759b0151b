package reconcile

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

func registrationAt(rv string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "argocd", Name: "vcluster-a-b", ResourceVersion: rv}}
}

// The echo of a write that arrives before the write returns is dropped
// once the write says it was its own; any other version is replayed.
func TestEventsOfARegistrationBeingWrittenAreHeldUntilTheWriteReturns(t *testing.T) {
	ctx := context.Background()
	key := types.NamespacedName{Namespace: "argocd", Name: "vcluster-a-b"}
	replayed := func(w *ownWrites) []string {
		var rvs []string
		for {
			select {
			case ev := <-w.replay:
				rvs = append(rvs, ev.Object.GetResourceVersion())
			default:
				return rvs
			}
		}
	}
	for _, tc := range []struct {
		name      string
		delivered []string
		written   []string
		replay    []string
	}{
		{name: "own write's echo before it returns", delivered: []string{"7"}, written: []string{"7"}},
		{name: "ownership upgrade and apply", delivered: []string{"7", "8"}, written: []string{"7", "8"}},
		{name: "an edit after the write", delivered: []string{"7", "9"}, written: []string{"7"}, replay: []string{"9"}},
		{name: "a failed write", delivered: []string{"6"}, replay: []string{"6"}},
		{name: "nothing delivered meanwhile", written: []string{"7"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &ownWrites{replay: make(chan event.GenericEvent, 4)}
			done := w.begin(ctx, key)
			for _, rv := range tc.delivered {
				if !w.echo(registrationAt(rv)) {
					t.Fatalf("version %s, delivered during the write, passed: it must be held", rv)
				}
			}
			done(tc.written...)
			if got := replayed(w); !slices.Equal(got, tc.replay) {
				t.Errorf("replayed versions %v, want %v", got, tc.replay)
			}
			if len(tc.written) > 0 {
				last := tc.written[len(tc.written)-1]
				if !w.echo(registrationAt(last)) {
					t.Errorf("version %s, the write's own, passed after the write returned", last)
				}
			}
			if w.echo(registrationAt("10")) {
				t.Error("a later version was taken for the registrar's own once the write had returned")
			}
		})
	}
}

// A reconcile and the prober can write a registration at once: what the
// watch delivers meanwhile is held until both have returned, and judged
// against what both wrote.
func TestEventsAreHeldUntilEveryWriteOfTheRegistrationReturns(t *testing.T) {
	ctx := context.Background()
	key := types.NamespacedName{Namespace: "argocd", Name: "vcluster-a-b"}
	w := &ownWrites{replay: make(chan event.GenericEvent, 4)}
	reconcileDone := w.begin(ctx, key)
	probeDone := w.begin(ctx, key)
	w.echo(registrationAt("7"))
	probeDone("7")
	if !w.echo(registrationAt("8")) {
		t.Fatal("version 8, delivered while the reconcile still writes, passed")
	}
	reconcileDone("8")
	select {
	case ev := <-w.replay:
		t.Errorf("version %s, written by the registrar, was replayed", ev.Object.GetResourceVersion())
	default:
	}
}
