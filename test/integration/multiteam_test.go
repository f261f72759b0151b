package integration

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argoproj/argo-cd/v3/util/db"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/reconcile"
	"github.com/registrar-dev/registrar/pkg/registration"
	"github.com/registrar-dev/registrar/test/fixture"
)

// newTwoArgoCDs is a registrar writing into two Argo CD namespaces, as
// --argocd-namespace=<e.argocd>,<second> does; e.argocd is the default.
func newTwoArgoCDs(t *testing.T, configure ...func(*reconcile.Options)) (e *env, second string) {
	t.Helper()
	e = newWorld(t)
	second = e.createNamespace("argocd-production", false)
	e.start(append([]func(*reconcile.Options){func(o *reconcile.Options) {
		o.ArgoCDNamespaces = []string{e.argocd, second}
	}}, configure...)...)
	return e, second
}

// annotateNamespace sets annotations on namespace ns, as the team that
// owns it does; an empty value removes the key.
func (e *env) annotateNamespace(ns string, annotations map[string]string) {
	e.t.Helper()
	obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
	e.update(obj, func() {
		if obj.Annotations == nil {
			obj.Annotations = map[string]string{}
		}
		for k, v := range annotations {
			if v == "" {
				delete(obj.Annotations, k)
			} else {
				obj.Annotations[k] = v
			}
		}
	})
}

// annotateWorkload is annotateNamespace for vc's workload.
func (e *env) annotateWorkload(vc *fixture.VCluster, annotations map[string]string) {
	e.t.Helper()
	w := vc.Workload()
	e.update(w, func() {
		a := w.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		for k, v := range annotations {
			if v == "" {
				delete(a, k)
			} else {
				a[k] = v
			}
		}
		w.SetAnnotations(a)
	})
}

// asArgoCDReadsIt parses a registration with Argo CD's own parser.
func asArgoCDReadsIt(t *testing.T, s *corev1.Secret) *clusterView {
	t.Helper()
	c, err := db.SecretToCluster(s)
	if err != nil {
		t.Fatalf("Argo CD cannot read Secret %s/%s: %v", s.Namespace, s.Name, err)
	}
	v := &clusterView{Name: c.Name, Server: c.Server, Project: c.Project, Namespaces: strings.Join(c.Namespaces, ","), Shard: -1}
	if c.Shard != nil {
		v.Shard = *c.Shard
	}
	return v
}

// clusterView is what Argo CD makes of a registration, in the terms a
// test compares.
type clusterView struct {
	Name, Server, Project, Namespaces string
	// Shard is -1 when Argo CD reads none.
	Shard int64
}

func TestNamespaceDefaultsAndWorkloadOverride(t *testing.T) {
	e, ns := newEnvIn(t, "team-a")
	e.annotateNamespace(ns, map[string]string{
		api.ProjectAnnotation: "team-a", api.NamespacesAnnotation: "apps,web", api.ShardAnnotation: "3",
	})
	vc := e.newVCluster(ns, "plain")
	e.newVCluster(ns, "special", fixture.Annotations(map[string]string{api.ProjectAnnotation: "special", api.ShardAnnotation: "0"}))

	plain := asArgoCDReadsIt(t, e.eventuallyRegistered(ns, "plain"))
	if plain.Project != "team-a" || plain.Namespaces != "apps,web" || plain.Shard != 3 {
		t.Errorf("from the Namespace's defaults, Argo CD reads %+v", plain)
	}
	special := asArgoCDReadsIt(t, e.eventuallyRegistered(ns, "special"))
	if special.Project != "special" || special.Namespaces != "apps,web" || special.Shard != 0 {
		t.Errorf("the workload's own values should win key by key; Argo CD reads %+v", special)
	}

	// The team changes its defaults: every vcluster without its own value follows.
	e.annotateNamespace(ns, map[string]string{api.ProjectAnnotation: "team-a-next", api.ShardAnnotation: ""})
	e.eventually("the new project default reaches the registration", func() bool {
		c := asArgoCDReadsIt(t, e.registration(ns, "plain"))
		return c.Project == "team-a-next" && c.Shard == -1
	})
	if got := asArgoCDReadsIt(t, e.registration(ns, "special")).Project; got != "special" {
		t.Errorf("the workload's own project became %q", got)
	}

	// A bad default is reported on the vclusters it reaches, naming the
	// Namespace; their registrations stay as they were.
	before := e.registration(ns, "plain")
	e.annotateNamespace(ns, map[string]string{api.ShardAnnotation: "-1"})
	note := e.eventuallyEvent(vc.StatefulSet(), api.ReasonBadAnnotation)
	if !contains(note, "annotation "+api.ShardAnnotation+" on Namespace "+ns) {
		t.Errorf("event note %q does not say where the bad value is", note)
	}
	e.consistently("the registration is kept", time.Second, func() bool {
		return e.registration(ns, "plain").ResourceVersion == before.ResourceVersion
	})
}

// registrationWatch follows, through a watch of the API server, the Argo CD
// namespaces that hold a vcluster's registration, state by state as the
// API server orders its changes, and notes any state in which none did.
type registrationWatch struct {
	mu      sync.Mutex
	present map[string]bool
	history []string
	gap     string
}

func (e *env) watchRegistrations(ns, name string) *registrationWatch {
	e.t.Helper()
	wc, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel)
	// Without a resource version the watch first reports every existing
	// Secret as Added, then each change in order, across namespaces.
	w, err := wc.Watch(ctx, &corev1.SecretList{}, client.MatchingLabels{
		api.SourceNamespaceLabel: ns, api.SourceNameLabel: name,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	rw := &registrationWatch{present: map[string]bool{}}
	go func() {
		for ev := range w.ResultChan() {
			s, ok := ev.Object.(*corev1.Secret)
			if !ok {
				continue
			}
			rw.mu.Lock()
			switch ev.Type {
			case watch.Added, watch.Modified:
				rw.present[s.Namespace] = true
			case watch.Deleted:
				delete(rw.present, s.Namespace)
			}
			rw.history = append(rw.history, fmt.Sprintf("%s %s", ev.Type, s.Namespace))
			if len(rw.present) == 0 && rw.gap == "" {
				rw.gap = strings.Join(rw.history, ", ")
			}
			rw.mu.Unlock()
		}
	}()
	return rw
}

// in says whether the registration is now exactly in the given namespaces.
func (rw *registrationWatch) in(namespaces ...string) bool {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if len(rw.present) != len(namespaces) {
		return false
	}
	for _, ns := range namespaces {
		if !rw.present[ns] {
			return false
		}
	}
	return true
}

func (rw *registrationWatch) neverUnregistered(t *testing.T) {
	t.Helper()
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.gap != "" {
		t.Errorf("the vcluster was registered nowhere after: %s", rw.gap)
	}
}

// Moving a vcluster between two Argo CD instances writes the new
// registration before removing the old: at no point of the API server's
// history is it registered nowhere.
func TestMovesBetweenArgoCDNamespaces(t *testing.T) {
	e, production := newTwoArgoCDs(t)
	ns := e.createNamespace("team-b", true)
	vc := e.newVCluster(ns, "shop")
	first := e.eventuallyRegistered(ns, "shop")
	rw := e.watchRegistrations(ns, "shop")
	e.eventually("the watch sees the registration", func() bool { return rw.in(e.argocd) })

	// By the workload's annotation.
	e.annotateWorkload(vc, map[string]string{api.ArgoCDNamespaceAnnotation: production})
	e.eventually("the registration moved to "+production, func() bool { return rw.in(production) })
	moved := e.registrationIn(production, ns, "shop")
	if moved == nil || string(moved.Data["server"]) != string(first.Data["server"]) {
		t.Fatalf("registration in %s: %v", production, moved)
	}
	note := e.eventuallyEvent(vc.StatefulSet(), api.ReasonDeregistered)
	if !contains(note, "now registered in Argo CD namespace "+production) {
		t.Errorf("event note %q does not say where it went", note)
	}

	// Back by the Namespace's default, with the workload's own removed.
	e.annotateNamespace(ns, map[string]string{api.ArgoCDNamespaceAnnotation: e.argocd})
	e.annotateWorkload(vc, map[string]string{api.ArgoCDNamespaceAnnotation: ""})
	e.eventually("the registration moved back to "+e.argocd, func() bool { return rw.in(e.argocd) })

	// Then to production by the Namespace alone.
	e.annotateNamespace(ns, map[string]string{api.ArgoCDNamespaceAnnotation: production})
	e.eventually("the registration moved to "+production+" by the Namespace", func() bool { return rw.in(production) })
	rw.neverUnregistered(t)
}

// An Argo CD namespace the registrar was not given is bad input: a
// Warning, nothing written anywhere, the registration kept where it is.
func TestArgoCDNamespaceOutsideListRefused(t *testing.T) {
	e, production := newTwoArgoCDs(t)
	unlisted := e.createNamespace("argocd-rogue", false)
	ns := e.createNamespace("team-c", true)
	vc := e.newVCluster(ns, "app")
	before := e.eventuallyRegistered(ns, "app")
	e.quiet()

	e.annotateWorkload(vc, map[string]string{api.ArgoCDNamespaceAnnotation: unlisted})
	note := e.eventuallyEvent(vc.StatefulSet(), api.ReasonBadAnnotation)
	for _, want := range []string{`names Argo CD namespace "` + unlisted + `"`, e.argocd + ", " + production, "--argocd-namespace)"} {
		if !contains(note, want) {
			t.Errorf("event note %q does not say %q", note, want)
		}
	}
	e.consistently("nothing is written anywhere and the registration is kept", 2*time.Second, func() bool {
		s := e.registration(ns, "app")
		return s != nil && s.ResourceVersion == before.ResourceVersion &&
			e.registrationIn(unlisted, ns, "app") == nil && e.registrationIn(production, ns, "app") == nil
	})
	// The only writes are the event's.
	if n := e.writes.Load(); n > 2 {
		t.Errorf("%d write requests for a refused annotation, want only the Warning event", n)
	}

	// A Namespace naming it refuses a new vcluster just the same.
	other := e.createNamespace("team-d", true)
	e.annotateNamespace(other, map[string]string{api.ArgoCDNamespaceAnnotation: unlisted})
	vc2 := e.newVCluster(other, "app")
	note = e.eventuallyEvent(vc2.StatefulSet(), api.ReasonBadAnnotation)
	if !contains(note, "on Namespace "+other) {
		t.Errorf("event note %q does not name the Namespace", note)
	}
	for _, argocd := range []string{e.argocd, production, unlisted} {
		if e.registrationIn(argocd, other, "app") != nil {
			t.Errorf("registered in %s", argocd)
		}
	}
}

// Collisions of cluster name are checked among the registrations of one
// Argo CD instance: two Argo CDs may each have a cluster "shared".
func TestCollisionCheckedPerArgoCDInstance(t *testing.T) {
	e, production := newTwoArgoCDs(t)
	ns := e.createNamespace("team-e", true)
	named := map[string]string{api.ClusterNameAnnotation: "shared"}
	e.newVCluster(ns, "staging-one", fixture.Annotations(named))
	e.newVCluster(ns, "production-one", fixture.Annotations(map[string]string{
		api.ClusterNameAnnotation: "shared", api.ArgoCDNamespaceAnnotation: production,
	}))
	a := e.eventuallyRegistered(ns, "staging-one")
	var b *corev1.Secret
	e.eventually("the same name is registered in "+production, func() bool {
		b = e.registrationIn(production, ns, "production-one")
		return b != nil
	})
	if string(a.Data["name"]) != "shared" || string(b.Data["name"]) != "shared" {
		t.Errorf("names %q and %q", a.Data["name"], b.Data["name"])
	}

	// A second "shared" in the same Argo CD is refused.
	late := e.newVCluster(ns, "staging-two", fixture.Annotations(named))
	note := e.eventuallyEvent(late.StatefulSet(), api.ReasonConflict)
	if !contains(note, `cluster name "shared" is already registered by Secret `+e.argocd+"/") {
		t.Errorf("event note %q", note)
	}
	e.neverRegistered(ns, "staging-two")
}

// Argo CD's tracking label and annotation are never copied, even when the
// propagation flags list them.
func TestTrackingLabelsNeverCopied(t *testing.T) {
	tracking := []string{registration.ArgoCDTrackingLabel, registration.ArgoCDTrackingAnnotation}
	e := newEnv(t, func(o *reconcile.Options) {
		o.PropagateLabels = append([]string{"env"}, tracking...)
		o.PropagateNamespaceLabels = append([]string{"team"}, tracking...)
		o.PropagateAnnotations = append([]string{"example.com/owner"}, tracking...)
	})
	ns := e.createNamespace("team-f", true)
	nsObj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
	e.update(nsObj, func() {
		nsObj.Labels["team"] = "f"
		nsObj.Labels[registration.ArgoCDTrackingLabel] = "team-namespaces"
	})
	// As Argo CD leaves a vcluster that an Application installed.
	e.newVCluster(ns, "tracked",
		fixture.Labels(map[string]string{"env": "staging", registration.ArgoCDTrackingLabel: "vclusters"}),
		fixture.Annotations(map[string]string{"example.com/owner": "f", registration.ArgoCDTrackingAnnotation: "vclusters:apps/StatefulSet:" + ns + "/tracked"}))
	s := e.eventuallyRegistered(ns, "tracked")
	if s.Labels["env"] != "staging" || s.Labels["team"] != "f" || s.Annotations["example.com/owner"] != "f" {
		t.Errorf("listed keys not propagated: labels %v, annotations %v", s.Labels, s.Annotations)
	}
	for _, k := range tracking {
		if _, ok := s.Labels[k]; ok {
			t.Errorf("label %s copied", k)
		}
		if _, ok := s.Annotations[k]; ok {
			t.Errorf("annotation %s copied", k)
		}
	}
}
