package oneshot

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/go-logr/logr"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/reference"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// maxNote is the longest note the events.k8s.io API accepts.
const maxNote = 1024

// syncRecorder writes each Event before Eventf returns. A pass exits right
// after its last reconcile; the manager's recorder queues Events and
// sends them in the background, and would lose those still queued.
type syncRecorder struct {
	client   client.Client
	scheme   *runtime.Scheme
	instance string
	log      logr.Logger
}

func newSyncRecorder(c client.Client, scheme *runtime.Scheme, log logr.Logger) syncRecorder {
	host, _ := os.Hostname()
	return syncRecorder{client: c, scheme: scheme, instance: "registrar-once-" + host, log: log}
}

func (r syncRecorder) Eventf(regarding, _ runtime.Object, eventtype, reason, action, note string, args ...any) {
	ref, err := reference.GetReference(r.scheme, regarding)
	if err != nil {
		r.log.Error(err, "no reference to the object of an event", "reason", reason)
		return
	}
	msg := fmt.Sprintf(note, args...)
	if len(msg) > maxNote {
		msg = msg[:maxNote-3] + "..."
	}
	now := time.Now()
	ev := &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{
			Name:      fmt.Sprintf("%s.%x", ref.Name, now.UnixNano()),
			Namespace: ref.Namespace,
		},
		EventTime:           metav1.NewMicroTime(now),
		ReportingController: "registrar",
		ReportingInstance:   r.instance,
		Action:              action,
		Reason:              reason,
		Regarding:           *ref,
		Note:                msg,
		Type:                eventtype,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.client.Create(ctx, ev); err != nil {
		r.log.Error(err, "writing an event", "reason", reason, "regarding", ref.Namespace+"/"+ref.Name)
	}
}
