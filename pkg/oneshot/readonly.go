package oneshot

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ErrDryRunWrite is the error of every write a dry run attempts. The
// reconciler writes nothing in a dry run by itself (Options.DryRun); this
// is the net under it, so a write path that forgets to check fails loudly
// instead of writing.
var ErrDryRunWrite = errors.New("dry run: refusing to write")

// readOnly is a client that reads through c and refuses every write,
// subresources included.
type readOnly struct{ client.Client }

// ReadOnly wraps c so that every write fails with ErrDryRunWrite.
func ReadOnly(c client.Client) client.Client { return readOnly{c} }

func refused(op string, obj any) error {
	if o, ok := obj.(client.Object); ok {
		return fmt.Errorf("%w: %s %T %s/%s", ErrDryRunWrite, op, obj, o.GetNamespace(), o.GetName())
	}
	return fmt.Errorf("%w: %s %T", ErrDryRunWrite, op, obj)
}

func (readOnly) Create(_ context.Context, obj client.Object, _ ...client.CreateOption) error {
	return refused("create", obj)
}

func (readOnly) Update(_ context.Context, obj client.Object, _ ...client.UpdateOption) error {
	return refused("update", obj)
}

func (readOnly) Patch(_ context.Context, obj client.Object, _ client.Patch, _ ...client.PatchOption) error {
	return refused("patch", obj)
}

func (readOnly) Apply(_ context.Context, obj runtime.ApplyConfiguration, _ ...client.ApplyOption) error {
	return refused("apply", obj)
}

func (readOnly) Delete(_ context.Context, obj client.Object, _ ...client.DeleteOption) error {
	return refused("delete", obj)
}

func (readOnly) DeleteAllOf(_ context.Context, obj client.Object, _ ...client.DeleteAllOfOption) error {
	return refused("delete all of", obj)
}

func (c readOnly) Status() client.SubResourceWriter {
	return readOnlySub{c.Client.SubResource("status")}
}

func (c readOnly) SubResource(sub string) client.SubResourceClient {
	return readOnlySub{c.Client.SubResource(sub)}
}

// readOnlySub reads a subresource and refuses to write it.
type readOnlySub struct{ client.SubResourceClient }

func (readOnlySub) Create(_ context.Context, obj client.Object, _ client.Object, _ ...client.SubResourceCreateOption) error {
	return refused("create subresource of", obj)
}

func (readOnlySub) Update(_ context.Context, obj client.Object, _ ...client.SubResourceUpdateOption) error {
	return refused("update subresource of", obj)
}

func (readOnlySub) Patch(_ context.Context, obj client.Object, _ client.Patch, _ ...client.SubResourcePatchOption) error {
	return refused("patch subresource of", obj)
}

func (readOnlySub) Apply(_ context.Context, obj runtime.ApplyConfiguration, _ ...client.SubResourceApplyOption) error {
	return refused("apply subresource of", obj)
}
