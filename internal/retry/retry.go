// Package retry holds what fsxkms's own retry loops share: the SDK retries
// whole calls, these loops send again the entries an answer refused.
package retry

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx is done: it returns nil once d has passed,
// or ctx.Err() if ctx is done before.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
