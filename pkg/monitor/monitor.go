// Package monitor is the one place that knows the order of fsxkms's steps:
// decode the event, find the FSx resources that use the key, read the key as
// it is now, check it, and alert.
//
// The kms-events Lambda calls HandleEvent, the sweep Lambda and the CLI call
// Sweep; both go through the same check, so they cannot disagree.
package monitor

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/fsxkms/fsxkms/pkg/alert"
	"github.com/fsxkms/fsxkms/pkg/inventory"
	"github.com/fsxkms/fsxkms/pkg/keys"
	"github.com/fsxkms/fsxkms/pkg/kmsevent"
	"github.com/fsxkms/fsxkms/pkg/state"
)

// Inventory answers which FSx resources use which key.
type Inventory interface {
	// Get returns the listing, cached or not; fresh is set when it was
	// listed for this call.
	Get(ctx context.Context) (inv *inventory.Inventory, fresh bool, err error)
	// Refresh lists FSx again, whatever is cached.
	Refresh(ctx context.Context) (*inventory.Inventory, error)
}

// Monitor wires the steps together. Inventory, KMS and Alerts are required.
type Monitor struct {
	Inventory Inventory
	KMS       keys.KMS
	Alerts    alert.Publisher
	// Log receives one structured line per event and per key; slog.Default
	// when nil.
	Log *slog.Logger
	// Metrics receives CloudWatch Embedded Metric Format lines; os.Stdout
	// when nil, io.Discard to drop them.
	Metrics io.Writer
	// Function names the emitter in metrics (kms-events, sweep, cli).
	Function string
	// Stack names the deployment in metrics (FSXKMS_STACK, the SAM stack's
	// name), so two stacks in one account keep their metrics apart.
	Stack string
	// Principals optionally narrows the policy check to the principals that
	// manage FSx (FSX_PRINCIPALS).
	Principals []string
	// AlwaysAliases reads the aliases of every key checked, not only of the
	// keys with findings (the CLI lists them all by alias).
	AlwaysAliases bool
	// Concurrency bounds the keys one event checks at once (an event on a
	// custom key store checks every key FSx uses); 1 when zero.
	Concurrency int
	// KeyBudget bounds the KMS reads of one key in a sweep
	// (SWEEP_KEY_BUDGET); DefaultKeyBudget when zero. A key that exceeds
	// it is reported MONITOR_READ_FAILED and the sweep goes on.
	KeyBudget time.Duration
	// State remembers what was alerted on (STATE_TABLE), so that each
	// problem is said once, reminded and resolved; nil alerts on every
	// finding every time (see deliver).
	State *state.Table
	// Scope names the sweep's item in State (the Region swept).
	Scope string
	// Readers, when set (DEPLOYMENT=central), reads each member account
	// with its read role: the events of every account of an organization
	// and their keys. Without it the monitor reads with KMS and Inventory
	// alone.
	Readers Readers
	// Org, in the organization deployment, is the scheduled sweep's own
	// job: enqueue one work item per account and Region (EnqueueSweep).
	Org *OrgSweep
	// Tracker, when set (and State too), receives the problems tracked
	// on each judged key after its alerts went out (SECURITY_HUB).
	Tracker Tracker
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	// Without State: the KMS CMK Deletion events delivered (see
	// recentDeletion) and the previous sweep's summary.
	mu          sync.Mutex
	deletions   map[string]time.Time
	lastSummary *Summary
	// The organization's account names read from State (nameAccount).
	names map[string]cachedName
}

func (m *Monitor) log() *slog.Logger {
	if m.Log != nil {
		return m.Log
	}
	return slog.Default()
}

func (m *Monitor) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// clip bounds a string from an event or an AWS answer for a log line:
// [kmsevent.Clip], which cuts at kmsevent.MaxShown bytes, says so and
// escapes control characters.
func clip(s string) string { return kmsevent.Clip(s) }
